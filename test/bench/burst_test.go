//go:build envtest

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// workers is how many clients create Services at once (make bench, in the
// README, reports a burst from 16 clients).
const workers = 16

// BenchmarkBurst creates N LoadBalancer Services as fast as 16 clients can
// and prints, per size, the Create-to-ingress latency percentiles with
// ironlb-controller and with the floor (the client writes each status
// itself, no controller), plus what the controller spent: CPU seconds, peak
// RSS, reconciles and API requests per Service, and the CPU the API server
// and etcd spent in either burst. Sizes come from IRONLB_BENCH_SIZES
// (default "1000,5000"). Run with -benchtime 1x: each size is one full
// burst. IRONLB_BENCH_CPUPROFILE=dir also saves the controller's CPU and
// allocation profiles of each burst there.
func BenchmarkBurst(b *testing.B) {
	log.SetLogger(logr.Discard())
	env, cfg := startAPIServer(b)
	defer env.Stop() //nolint:errcheck
	controllerBin := buildController(b)
	kubeconfig := writeKubeconfig(b, env, cfg)

	for _, n := range sizes() {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for range b.N {
				var m measured
				serverStart := serverCPU()
				m.floor = burst(b, cfg, fmt.Sprintf("floor-%d-%d", n, time.Now().UnixNano()), n, true, func() {
					m.floorServerCPU = serverCPU() - serverStart
				})
				ctl := startController(b, controllerBin, kubeconfig)
				pool := createPool(b, cfg, n)
				time.Sleep(2 * time.Second) // let it start and see the pool: startup is not the burst
				m.before = ctl.sample(b)
				prof := startCPUProfile(b, ctl, fmt.Sprintf("services=%d", n))
				serverStart = serverCPU()
				m.got = burst(b, cfg, fmt.Sprintf("ironlb-%d-%d", n, time.Now().UnixNano()), n, false, func() {
					m.after = ctl.sampleAfterEvents(b, m.before, n)
					m.serverCPU = serverCPU() - serverStart
					m.profiles = prof.finish(b, ctl)
				})
				ctl.stop(b)
				deletePool(b, cfg, pool)
				report(b, n, m)
			}
		})
	}
}

// measured is one size's figures.
type measured struct {
	floor, got result
	// before and after bracket the controller's burst.
	before, after sample
	// serverCPU and floorServerCPU are what kube-apiserver and etcd spent
	// in the controller's burst and in the floor's.
	serverCPU, floorServerCPU time.Duration
	profiles                  string // how to read them, if taken
}

func sizes() []int {
	s := os.Getenv("IRONLB_BENCH_SIZES")
	if s == "" {
		s = "1000,5000"
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

type result struct {
	latencies []time.Duration // per Service, Create sent -> ingress seen
	total     time.Duration   // first Create sent -> last ingress seen
}

// burst creates n IPv6 LoadBalancer Services in a fresh namespace from 16
// workers and waits until every one shows an ingress IP, as seen by a watch
// opened beforehand, then calls afterSeen. With selfStatus, each worker writes the status itself
// right after its Create: the floor no controller can beat.
func burst(b *testing.B, cfg *rest.Config, ns string, n int, selfStatus bool, afterSeen func()) result {
	b.Helper()
	cs := clientset(b, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// envtest runs no namespace controller, so Services are deleted one by
	// one; the next burst must not find them.
	defer deleteAll(b, cs, ns, n)

	w, err := cs.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	seen := make(chan struct {
		name string
		at   time.Time
	}, n)
	go func() {
		got := map[string]bool{}
		for ev := range w.ResultChan() {
			svc, ok := ev.Object.(*corev1.Service)
			if !ok || ev.Type == watch.Deleted || got[svc.Name] || len(svc.Status.LoadBalancer.Ingress) == 0 {
				continue
			}
			got[svc.Name] = true
			seen <- struct {
				name string
				at   time.Time
			}{svc.Name, time.Now()}
		}
	}()
	defer w.Stop()

	sent := make([]time.Time, n)
	start := time.Now()
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := wk; i < n; i += workers {
				sent[i] = time.Now()
				svc, err := cs.CoreV1().Services(ns).Create(ctx, lbService(i), metav1.CreateOptions{})
				if err != nil {
					b.Error(err)
					return
				}
				if selfStatus {
					svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: fmt.Sprintf("2001:db8:ffff::%x", i+1)}}
					if _, err := cs.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	res := result{latencies: make([]time.Duration, 0, n)}
	var last time.Time
	for range n {
		select {
		case s := <-seen:
			var i int
			fmt.Sscanf(s.name, "svc-%d", &i)
			res.latencies = append(res.latencies, s.at.Sub(sent[i]))
			last = s.at
		case <-ctx.Done():
			b.Fatalf("%s: only %d of %d Services got an ingress IP", ns, len(res.latencies), n)
		}
	}
	res.total = last.Sub(start)
	afterSeen()
	slices.Sort(res.latencies)
	return res
}

func deleteAll(b *testing.B, cs *kubernetes.Clientset, ns string, n int) {
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := wk; i < n; i += workers {
				if err := cs.CoreV1().Services(ns).Delete(context.Background(), fmt.Sprintf("svc-%d", i), metav1.DeleteOptions{}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func lbService(i int) *corev1.Service {
	single := corev1.IPFamilyPolicySingleStack
	noNodePorts := false // 5,000 Services would exhaust the node-port range
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i)},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: &noNodePorts,
			IPFamilyPolicy:                &single,
			IPFamilies:                    []corev1.IPFamily{corev1.IPv6Protocol},
			Selector:                      map[string]string{"app": fmt.Sprintf("app-%d", i)},
			Ports:                         []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func report(b *testing.B, n int, m measured) {
	b.Helper()
	floor, got := m.floor, m.got
	ratio := func(a, c time.Duration) float64 { return float64(a) / float64(c) }
	fmt.Printf("\nburst of %d LoadBalancer Services, %d client workers\n", n, workers)
	fmt.Printf("  %-16s %10s %10s %10s %10s\n", "", "p50", "p90", "p99", "total")
	for _, row := range []struct {
		name string
		r    result
	}{{"floor (no ctrl)", floor}, {"ironlb", got}} {
		fmt.Printf("  %-16s %10s %10s %10s %10s\n", row.name,
			pct(row.r.latencies, .50).Round(time.Millisecond), pct(row.r.latencies, .90).Round(time.Millisecond),
			pct(row.r.latencies, .99).Round(time.Millisecond), row.r.total.Round(time.Millisecond))
	}
	fmt.Printf("  %-16s %9.2fx %9.2fx %9.2fx %9.2fx   (targets: p50 <= 1.3x, p99 <= 3x, total <= 1.1x)\n", "ironlb / floor",
		ratio(pct(got.latencies, .50), pct(floor.latencies, .50)), ratio(pct(got.latencies, .90), pct(floor.latencies, .90)),
		ratio(pct(got.latencies, .99), pct(floor.latencies, .99)), ratio(got.total, floor.total))
	user, system := m.after.user-m.before.user, m.after.system-m.before.system
	cpu := user + system
	fmt.Printf("  controller: %.2f CPU-seconds (user %.2f, system %.2f; %.2f ms per Service), peak RSS %d MiB\n",
		cpu.Seconds(), user.Seconds(), system.Seconds(), float64(cpu.Microseconds())/1000/float64(n), m.after.rssKiB/1024)
	reconciles := sumBy(m.before.counters, m.after.counters, "controller_runtime_reconcile_total", "controller")
	results := sumBy(m.before.counters, m.after.counters, "controller_runtime_reconcile_total", "result")
	fmt.Printf("  reconciles per Service: %s (by result: %s)\n", perService(reconciles, n), perService(results, n))
	requests := sumBy(m.before.counters, m.after.counters, "rest_client_requests_total", "method")
	fmt.Printf("  controller API requests per Service: %s\n", perService(requests, n))
	fmt.Printf("  API server and etcd: %.2f CPU-seconds (floor: %.2f)\n", m.serverCPU.Seconds(), m.floorServerCPU.Seconds())
	if m.profiles != "" {
		fmt.Printf("  profiles: %s\n", m.profiles)
	}
	b.ReportMetric(float64(pct(got.latencies, .50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(pct(got.latencies, .99).Milliseconds()), "p99-ms")
	b.ReportMetric(got.total.Seconds(), "total-s")
	b.ReportMetric(cpu.Seconds(), "ctrl-cpu-s")
}

func startAPIServer(b *testing.B) (*envtest.Environment, *rest.Config) {
	b.Helper()
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd")}, ErrorIfCRDPathMissing: true}
	// IPv6 Services need a v6 cluster range; cluster IPs are never contacted.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/24,fd00:10:96::/108")
	cfg, err := env.Start()
	if err != nil {
		b.Fatalf("starting the API server (KUBEBUILDER_ASSETS=$(hack/envtest.sh)): %v", err)
	}
	return env, cfg
}

func clientset(b *testing.B, cfg *rest.Config) *kubernetes.Clientset {
	b.Helper()
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0 // no client-side limit: the server is what we measure
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

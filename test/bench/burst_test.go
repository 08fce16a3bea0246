// Package bench measures IronLB end to end against a real API server: how
// long a burst of LoadBalancer Services waits for its ingress IPs, against
// the floor of a client that writes each status itself.
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

// workers is how many clients create Services at once, as in the issue.
const workers = 16

// BenchmarkBurst creates N LoadBalancer Services as fast as 16 clients can
// and prints, per size, the Create-to-ingress latency percentiles with
// ironlb-controller and with the floor (the client writes each status
// itself, no controller), plus the controller's CPU seconds and peak RSS.
// Sizes come from IRONLB_BENCH_SIZES (default "1000,5000"). Run with
// -benchtime 1x: each size is one full burst.
func BenchmarkBurst(b *testing.B) {
	log.SetLogger(logr.Discard())
	env, cfg := startAPIServer(b)
	defer env.Stop() //nolint:errcheck
	controllerBin := buildController(b)
	kubeconfig := writeKubeconfig(b, env, cfg)

	for _, n := range sizes() {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for range b.N {
				floor := burst(b, cfg, fmt.Sprintf("floor-%d-%d", n, time.Now().UnixNano()), n, true, func() {})
				ctl := startController(b, controllerBin, kubeconfig)
				pool := createPool(b, cfg, n)
				time.Sleep(2 * time.Second) // let it start and see the pool: startup is not the burst
				startCPU, _ := procStats(ctl.cmd.Process.Pid)
				var cpu time.Duration
				var rss int64
				got := burst(b, cfg, fmt.Sprintf("ironlb-%d-%d", n, time.Now().UnixNano()), n, false, func() {
					cpu, rss = procStats(ctl.cmd.Process.Pid)
					cpu -= startCPU
				})
				ctl.stop(b)
				deletePool(b, cfg, pool)
				report(b, n, floor, got, cpu, rss)
			}
		})
	}
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

func report(b *testing.B, n int, floor, got result, cpu time.Duration, rssKiB int64) {
	b.Helper()
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
	fmt.Printf("  %-16s %9.2fx %9.2fx %9.2fx %9.2fx   (targets: p50,p99 <= 3x, total <= 1.2x)\n", "ironlb / floor",
		ratio(pct(got.latencies, .50), pct(floor.latencies, .50)), ratio(pct(got.latencies, .90), pct(floor.latencies, .90)),
		ratio(pct(got.latencies, .99), pct(floor.latencies, .99)), ratio(got.total, floor.total))
	fmt.Printf("  controller: %.2f CPU-seconds, peak RSS %d MiB\n", cpu.Seconds(), rssKiB/1024)
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

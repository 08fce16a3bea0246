//go:build envtest && idleprofile

package speaker_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// IdleProfileEnv names the file TestIdleProfile writes its CPU profile to.
// The test is a measurement, built only with the idleprofile tag (which
// make test does not set): go test -tags envtest,idleprofile -run
// TestIdleProfile ./speaker/ with IRONLB_IDLE_PROFILE=file. It measures a speaker at rest for
// docs/scale.md: `go tool pprof -top` on the file says where the CPU goes.
const IdleProfileEnv = "IRONLB_IDLE_PROFILE"

// TestIdleProfile runs three speakers in this process (node-a, node-b and
// node-c on three loopback addresses, real memberlist and GoBGP, a recording
// layer-2 announcer), profiles the creation of 5,000 Services until they are
// announced (into the file named, plus ".burst"), then profiles 60 s in
// which nothing changes and reports the CPU each speaker used.
func TestIdleProfile(t *testing.T) {
	path := os.Getenv(IdleProfileEnv)
	if path == "" {
		t.Fatalf("set %s to the file the CPU profile is written to", IdleProfileEnv)
	}
	const services = 5000
	const window = 60 * time.Second
	// 5,000 ClusterIPs do not fit the shared API server's /24.
	env := newEnv()
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := newClient(t, cfg)
	nodes := map[string]string{"node-a": "127.0.0.1", "node-b": "127.0.0.2", "node-c": "127.0.0.3"}
	port := freePort(t, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	for name, ip := range nodes {
		readyNode(t, c, name, ip, nil)
	}
	create(t, c, pool("idle", "2001:db8:300::/112"), l2adv("idle"))
	var speakers []*testSpeaker
	for name, ip := range nodes {
		speakers = append(speakers, startSpeaker(t, cfg, speakerOpts{node: name, addr: ip, port: port}))
	}
	burst, err := os.Create(path + ".burst")
	if err != nil {
		t.Fatal(err)
	}
	defer burst.Close()
	if err := pprof.StartCPUProfile(burst); err != nil {
		t.Fatal(err)
	}
	start, burstCPU := time.Now(), cpuTime(t)
	createIdleServices(t, c, services)
	eventually(t, "every Service announced once", func() error {
		total := 0
		for _, s := range speakers {
			total += len(s.l2.owned())
		}
		if total != services {
			return fmt.Errorf("%d of %d addresses owned", total, services)
		}
		return nil
	})
	t.Logf("%d Services created and announced in %v", services, time.Since(start).Round(time.Millisecond))
	time.Sleep(10 * time.Second) // let the last writes and resyncs settle
	pprof.StopCPUProfile()
	t.Logf("burst and 10 s after it: this process (3 speakers and the client) used %v of CPU; profile in %s.burst",
		(cpuTime(t) - burstCPU).Round(time.Millisecond), path)

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := cpuTime(t)
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	time.Sleep(window)
	pprof.StopCPUProfile()
	used := cpuTime(t) - before
	t.Logf("at rest for %v: this process (3 speakers) used %v of CPU: %.2f%% of one core per speaker; profile in %s",
		window, used.Round(time.Millisecond), float64(used)/float64(window)/3*100, path)
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// createIdleServices creates n LoadBalancer Services without node ports
// (5,000 do not fit the node-port range) and writes an address from
// 2001:db8:300::/112 into each one's status, as the controller would, a few
// at a time. They go when the test's API server stops.
func createIdleServices(t *testing.T, c client.Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				errs <- createIdleService(c, i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func createIdleService(c client.Client, i int) error {
	ctx := context.Background()
	ip := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x03} // 2001:db8:300::
	ip[14], ip[15] = byte((i+1)>>8), byte(i+1)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("idle-%04d", i)},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports:                         []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	if err := c.Create(ctx, svc); err != nil {
		return err
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: netip.AddrFrom16(ip).String()}}
	return c.Status().Update(ctx, svc)
}

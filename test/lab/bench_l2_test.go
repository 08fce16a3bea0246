//go:build lab

package lab_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/test/lab"
)

// The lab benchmarks measure end to end, from outside the processes, and
// print their figures (b.ReportMetric and a table in the log). They run once
// whatever b.N is: go test -tags lab -run '^$' -bench . -benchtime 1x ./test/lab/

// trials is how many times each latency is measured.
const trials = 20

// BenchmarkL2FailoverKill measures, over 20 trials, the time from SIGKILL
// of the owning speaker to the client seeing the new owner's gratuitous ARP.
func BenchmarkL2FailoverKill(b *testing.B) { l2Failover(b, false) }

// BenchmarkL2FailoverLinkCut measures the same from cutting the owner's
// link (its switch port leaves the bridge; the node does not notice).
func BenchmarkL2FailoverLinkCut(b *testing.B) { l2Failover(b, true) }

func l2Failover(b *testing.B, cut bool) {
	l := newLab(b, lab.Options{})
	ctx := b.Context()
	if err := l.Create(ctx, l2Objects()...); err != nil {
		b.Fatal(err)
	}
	// One Service per trial, so owners and successors vary.
	var ips []netip.Addr
	for i := range trials {
		ips = append(ips, createService(b, l, lab.LoadBalancer(fmt.Sprintf("failover-%d", i), lab.FromPool("l2"))))
	}
	w, err := l.WatchARP("eth0")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var samples []sample
	for _, ip := range ips {
		x := owner(b, l, ip)
		waitLiveMembers(b, l, len(l.Nodes))
		since := time.Now()
		if cut {
			err = l.CutLink(ctx, &x.Host)
		} else {
			err = x.KillSpeaker(syscall.SIGKILL)
		}
		if err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, settle)
		e, err := w.WaitGratuitous(wctx, since, ip, func(mac net.HardwareAddr) bool {
			n := l.NodeByMAC(mac)
			return n != nil && n != x
		})
		cancel()
		if err != nil {
			b.Fatalf("no takeover of %s from %s: %v", ip, x.Name, err)
		}
		samples = append(samples, sample{
			label: fmt.Sprintf("%s %s -> %s", ip, x.Name, l.NodeByMAC(e.SenderMAC).Name),
			d:     e.Time.Sub(since),
		})
		if cut {
			err = l.RestoreLink(ctx, &x.Host)
		} else {
			err = x.StartSpeaker(ctx)
		}
		if err != nil {
			b.Fatal(err)
		}
		// The same live nodes elect the same owner again: wait for it, so
		// the next trial starts from a settled cluster.
		waitAnswerers(b, l, "eth0", ip, x.Name)
	}
	what := "SIGKILL of the owner's speaker"
	if cut {
		what = "cutting the owner's link"
	}
	report(b, what+" -> gratuitous ARP of the new owner at the client", samples)
}

// BenchmarkL2ServiceToAnswer measures the time from creating a Service to
// the client's first ARP answer for its address; the client asks every 5 ms.
func BenchmarkL2ServiceToAnswer(b *testing.B) {
	l := newLab(b, lab.Options{})
	ctx := b.Context()
	if err := l.Create(ctx, l2Objects()...); err != nil {
		b.Fatal(err)
	}
	w, err := l.WatchARP("eth0")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var samples []sample
	for i := range trials {
		// Asking for the address lets the client probe before it is assigned.
		ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})
		svc := lab.LoadBalancer(fmt.Sprintf("answer-%d", i), withIPs(ip))
		start := time.Now()
		if err := l.Create(ctx, svc); err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, settle)
		e, err := w.Probe(wctx, ip, 5*time.Millisecond)
		cancel()
		if err != nil {
			b.Fatalf("no ARP answer for %s: %v", ip, err)
		}
		samples = append(samples, sample{label: ip.String() + " " + l.NodeByMAC(e.SenderMAC).Name, d: e.Time.Sub(start)})
	}
	report(b, "Service created -> first ARP answer at the client", samples)
}

// BenchmarkL2SpeakerResources5000 creates 5,000 Services (IPv6: the
// documentation IPv4 ranges hold 768 addresses in all) announced by three
// speakers, and prints each speaker's RSS, its CPU time for the burst (until
// every Service is announced and its ServiceAnnouncement written) and at
// rest for 30 s after that.
func BenchmarkL2SpeakerResources5000(b *testing.B) {
	const services = 5000
	l := newLab(b, lab.Options{})
	ctx := b.Context()
	if err := l.Create(ctx, lab.Pool("big", "2001:db8:200::/112"), lab.L2Advertisement("big", "big")); err != nil {
		b.Fatal(err)
	}
	waitLiveMembers(b, l, len(l.Nodes))
	before := usages(b, l)
	stopBurstProfiles := profileBurst(b, l)
	start := time.Now()
	createMany(b, l, services, "svc-%04d", lab.FromPool("big"), lab.IPv6Only, lab.NoNodePorts)
	created := time.Since(start)
	waitAllAssigned(b, l, services)
	assigned := time.Since(start)
	var perNode map[string]int
	err := lab.Poll(ctx, 10*time.Minute, time.Second, func(ctx context.Context) error {
		var err error
		perNode, err = announcedPerNode(ctx, l, "layer2")
		if err != nil {
			return err
		}
		if total := sumValues(perNode); total != services {
			return fmt.Errorf("%d addresses announced, want %d", total, services)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	announced := time.Since(start)
	// The burst ends when the speakers have also written who announces
	// each Service (ServiceAnnouncements): that is part of its cost, and
	// "at rest" starts only then.
	waitAllStatusWritten(b, l, services)
	written := time.Since(start)
	stopBurstProfiles()
	loaded := usages(b, l)
	const idle = 30 * time.Second
	profiled := sleepProfiling(b, l, idle)
	after := usages(b, l)

	// Spot check: a few addresses are answered by exactly one node.
	for _, ip := range sampleIngress(b, l, 5) {
		owner(b, l, ip)
	}

	var tbl strings.Builder
	fmt.Fprintf(&tbl, "%d IPv6 Services, 3 nodes: created in %v, all assigned after %v, all announced after %v, every ServiceAnnouncement written after %v\n",
		services, created.Round(time.Millisecond), assigned.Round(time.Millisecond), announced.Round(time.Millisecond), written.Round(time.Millisecond))
	fmt.Fprintf(&tbl, "%-8s %10s %10s %10s %14s %14s\n", "speaker", "announces", "RSS before", "RSS after", "CPU for burst", "CPU idle")
	var maxRSS float64
	for _, n := range l.Nodes {
		burst := loaded[n.Name].CPU - before[n.Name].CPU
		idleCPU := float64(after[n.Name].CPU-loaded[n.Name].CPU) / float64(idle) * 100
		rss := float64(after[n.Name].RSS) / (1 << 20)
		maxRSS = max(maxRSS, rss)
		fmt.Fprintf(&tbl, "%-8s %10d %8.1fMiB %8.1fMiB %14v %13.2f%%\n", n.Name, perNode[n.Name],
			float64(before[n.Name].RSS)/(1<<20), rss, burst.Round(time.Millisecond), idleCPU)
		b.ReportMetric(burst.Seconds(), n.Name+"-burst-cpu-s")
		b.ReportMetric(idleCPU, n.Name+"-idle-cpu-%")
	}
	fmt.Fprintf(&tbl, "memory after the rest (MiB): %s\n", memoryBreakdown(b, l))
	if profiled != "" {
		fmt.Fprintf(&tbl, "profiles of the rest and heaps after it: %s\n", profiled)
	}
	b.Log("\n" + tbl.String())
	b.ReportMetric(maxRSS, "max-rss-MiB")
	b.ReportMetric(announced.Seconds(), "all-announced-s")
	b.ReportMetric(written.Seconds(), "all-status-written-s")
	b.ReportMetric(0, "ns/op")
}

// memoryBreakdown says where each speaker's RSS is: anonymous memory (the
// Go heap in use, heap kept but unused and not yet returned to the kernel,
// the next GC's heap goal, stacks) and the mapped binary.
func memoryBreakdown(tb testing.TB, l *lab.Lab) string {
	var out []string
	for _, n := range l.Nodes {
		u, err := n.SpeakerUsage()
		if err != nil {
			tb.Fatal(err)
		}
		samples, err := n.Metrics(tb.Context())
		if err != nil {
			tb.Fatal(err)
		}
		m := map[string]float64{}
		for _, s := range samples {
			m[s.Name] = s.Value / (1 << 20)
		}
		out = append(out, fmt.Sprintf("%s anon %.1f (heap in use %.1f, unused not returned %.1f, GC goal %.1f, stacks %.1f) + file %.1f",
			n.Name, float64(u.RSSAnon)/(1<<20), m["go_memstats_heap_inuse_bytes"],
			m["go_memstats_heap_idle_bytes"]-m["go_memstats_heap_released_bytes"],
			m["go_memstats_next_gc_bytes"], m["go_memstats_stack_inuse_bytes"], float64(u.RSSFile)/(1<<20)))
	}
	return strings.Join(out, "; ")
}

// sleepProfiling waits d. With IRONLB_LAB_PROFILE=dir it meanwhile takes
// every speaker's CPU profile over d, then its heap profile, into dir
// (<node>.cpu, <node>.heap), and returns dir: `go tool pprof -top` on the
// files says where the CPU at rest and the memory go.
func sleepProfiling(tb testing.TB, l *lab.Lab, d time.Duration) string {
	dir := os.Getenv("IRONLB_LAB_PROFILE")
	if dir == "" {
		time.Sleep(d)
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(l.Nodes))
	for _, n := range l.Nodes {
		wg.Go(func() {
			errs <- n.SaveSpeakerProfile(tb.Context(), "profile", d, filepath.Join(dir, n.Name+".cpu"))
			errs <- n.SaveSpeakerProfile(tb.Context(), "heap", 0, filepath.Join(dir, n.Name+".heap"))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// profileBurst, with IRONLB_LAB_PROFILE=dir, takes every speaker's CPU
// profile in consecutive 10 s pieces (<node>.burst.<n>.cpu; pprof adds up
// the files it is given) until the returned func is called; the piece in
// progress then is dropped.
func profileBurst(tb testing.TB, l *lab.Lab) (stop func()) {
	dir := os.Getenv("IRONLB_LAB_PROFILE")
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(tb.Context())
	var wg sync.WaitGroup
	for _, n := range l.Nodes {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				path := filepath.Join(dir, fmt.Sprintf("%s.burst.%03d.cpu", n.Name, i))
				if err := n.SaveSpeakerProfile(ctx, "profile", 10*time.Second, path); err != nil && ctx.Err() == nil {
					tb.Errorf("profiling %s: %v", n.Name, err)
					return
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
		// The speakers stop profiling when they see the request go; a
		// profile asked for before that would be refused.
		time.Sleep(time.Second)
	}
}

// sample is one measured duration and what it was about.
type sample struct {
	label string
	d     time.Duration
}

// report logs samples and reports p50, p99 and max (nearest rank: with 20
// samples p99 is the largest). The log stays short: go test shows only the
// first lines of a benchmark's log without -v.
func report(b *testing.B, what string, samples []sample) {
	ds := make([]time.Duration, len(samples))
	all := make([]string, len(samples))
	for i, s := range samples {
		ds[i] = s.d
		all[i] = strconv.FormatFloat(ms(s.d), 'f', 0, 64)
	}
	slices.Sort(ds)
	p50, p99 := percentile(ds, 50), percentile(ds, 99)
	b.Logf("%s, %d trials: p50 %v  p99 %v  min %v  max %v\n  all (ms, in order): %s",
		what, len(samples), p50.Round(time.Millisecond), p99.Round(time.Millisecond),
		ds[0].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), strings.Join(all, " "))
	if testing.Verbose() {
		for i, s := range samples {
			b.Logf("  %2d  %-40s %v", i+1, s.label, s.d.Round(100*time.Microsecond))
		}
	}
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(ds[len(ds)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
}

// percentile is the nearest-rank p-th percentile of sorted ds.
func percentile(ds []time.Duration, p int) time.Duration {
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	return ds[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// withIPs asks for exact addresses.
func withIPs(ips ...netip.Addr) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		var s []string
		for _, ip := range ips {
			s = append(s, ip.String())
		}
		svc.Annotations[ironlbv1beta1.AnnotationLoadBalancerIPs] = strings.Join(s, ",")
	}
}

// createMany creates n Services named by format, 16 at a time.
func createMany(tb testing.TB, l *lab.Lab, n int, format string, mods ...func(*corev1.Service)) {
	tb.Helper()
	names := make(chan string)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for name := range names {
				if err := l.Create(tb.Context(), lab.LoadBalancer(name, mods...)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	go func() {
		defer close(names)
		for i := range n {
			select {
			case names <- fmt.Sprintf(format, i):
			case err := <-errs:
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		tb.Fatal(err)
	default:
	}
}

// waitAllAssigned waits until n Services have an address.
func waitAllAssigned(tb testing.TB, l *lab.Lab, n int) {
	tb.Helper()
	err := lab.Poll(tb.Context(), 10*time.Minute, 2*time.Second, func(ctx context.Context) error {
		var list corev1.ServiceList
		if err := l.Kube.List(ctx, &list); err != nil {
			return err
		}
		assigned := 0
		for _, s := range list.Items {
			if len(s.Status.LoadBalancer.Ingress) > 0 {
				assigned++
			}
		}
		if assigned < n {
			return fmt.Errorf("%d of %d Services have an address", assigned, n)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// waitAllStatusWritten waits until n ServiceAnnouncements name a node.
func waitAllStatusWritten(tb testing.TB, l *lab.Lab, n int) {
	tb.Helper()
	err := lab.Poll(tb.Context(), 15*time.Minute, 2*time.Second, func(ctx context.Context) error {
		var list ironlbv1beta1.ServiceAnnouncementList
		if err := l.Kube.List(ctx, &list); err != nil {
			return err
		}
		written := 0
		for _, sa := range list.Items {
			if len(sa.Status.Layer2) > 0 || len(sa.Status.BGP) > 0 {
				written++
			}
		}
		if written < n {
			return fmt.Errorf("%d of %d ServiceAnnouncements written", written, n)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// sampleIngress returns up to n Service addresses.
func sampleIngress(tb testing.TB, l *lab.Lab, n int) []netip.Addr {
	tb.Helper()
	var list corev1.ServiceList
	if err := l.Kube.List(tb.Context(), &list); err != nil {
		tb.Fatal(err)
	}
	var ips []netip.Addr
	for i := 0; i < len(list.Items) && len(ips) < n; i += max(1, len(list.Items)/n) {
		for _, in := range list.Items[i].Status.LoadBalancer.Ingress {
			ips = append(ips, netip.MustParseAddr(in.IP))
		}
	}
	return ips
}

// announcedPerNode counts the addresses each speaker announces with protocol.
func announcedPerNode(ctx context.Context, l *lab.Lab, protocol string) (map[string]int, error) {
	counts := map[string]int{}
	for _, n := range l.Nodes {
		samples, err := n.Metrics(ctx)
		if err != nil {
			return nil, err
		}
		counts[n.Name] = int(lab.Sum(samples, "ironlb_announced", map[string]string{"node": n.Name, "protocol": protocol}))
	}
	return counts, nil
}

func sumValues(m map[string]int) int {
	total := 0
	for _, v := range m {
		total += v
	}
	return total
}

// usages reads every speaker's RSS and CPU time.
func usages(tb testing.TB, l *lab.Lab) map[string]lab.Usage {
	tb.Helper()
	u := map[string]lab.Usage{}
	for _, n := range l.Nodes {
		var err error
		if u[n.Name], err = n.SpeakerUsage(); err != nil {
			tb.Fatal(err)
		}
	}
	return u
}

// waitLiveMembers waits until every running speaker sees n live speakers.
func waitLiveMembers(tb testing.TB, l *lab.Lab, n int) {
	tb.Helper()
	err := lab.Poll(tb.Context(), settle, every, func(ctx context.Context) error {
		for _, node := range l.Nodes {
			samples, err := node.Metrics(ctx)
			if err != nil {
				return err
			}
			if got := lab.Sum(samples, "ironlb_speaker_live_members", nil); int(got) != n {
				return fmt.Errorf("%s sees %v live speakers, want %d", node.Name, got, n)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

//go:build lab

package cluster_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/test/lab"
)

// The cluster benchmarks measure what a user feels: requests through the VIP
// to backend pods. They run once whatever b.N is and print their figures:
//
//	go test -tags lab -run '^$' -bench . -benchtime 1x ./test/cluster/
//
// IRONLB_BENCH_TRIALS overrides the number of trials (20).

func trials() int {
	if n, err := strconv.Atoi(os.Getenv("IRONLB_BENCH_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// Request cadence of the failover probe, and how long one request may take
// before it counts as failed.
const (
	probeEvery   = 10 * time.Millisecond
	probeTimeout = 250 * time.Millisecond
	// A trial ends this long after the fault, at most.
	trialLimit = 15 * time.Second
)

// BenchmarkFailover kills the announcing node's speaker (SIGKILL of its
// process, a crash) and, separately, cuts that node's link, while a client
// sends a request every 10 ms through the VIP; it reports the longest run
// of failed requests, p50 and p99 over the trials, for layer 2 (the client
// on the LAN) and BGP (the client behind the router, ECMP over every node).
func BenchmarkFailover(b *testing.B) {
	l := newCluster(b)
	install(b, l)
	apply(b, l, poolsManifest)
	apply(b, l, bgpManifest)
	deployBackend(b, l, "web", 3)
	var table []string
	for _, c := range []struct {
		name   string
		client *lab.Host
		mods   []func(*corev1.Service)
		cut    bool
	}{
		{"layer2/speaker-killed", l.Client, nil, false},
		{"layer2/link-cut", l.Client, nil, true},
		{"bgp/speaker-killed", l.Remote, []func(*corev1.Service){lab.FromPool("lab-bgp")}, false},
		{"bgp/link-cut", l.Remote, []func(*corev1.Service){lab.FromPool("lab-bgp")}, true},
	} {
		var outages []time.Duration
		for i := range trials() {
			d, line := failoverTrial(b, l, c.name, i, c.client, c.cut, c.mods...)
			outages = append(outages, d)
			b.Logf("%s trial %d: %s", c.name, i, line)
		}
		p50, p99 := percentile(outages, 50), percentile(outages, 99)
		b.ReportMetric(float64(p50.Milliseconds()), c.name+"-p50-ms")
		b.ReportMetric(float64(p99.Milliseconds()), c.name+"-p99-ms")
		table = append(table, fmt.Sprintf("%-22s %3d trials  longest failed run: p50 %6v  p99 %6v  max %6v",
			c.name, len(outages), p50, p99, slices.Max(outages)))
	}
	b.Logf("failover as a client sees it (a request every %v, %v timeout):\n%s",
		probeEvery, probeTimeout, strings.Join(table, "\n"))
}

// failoverTrial creates a Service, finds the node announcing it (the one
// answering ARP; over BGP, any node: the killed one is where ECMP sends a
// share of the flows), faults that node while probing, and returns the
// longest run of failed requests. It leaves the cluster as it found it.
func failoverTrial(b *testing.B, l *lab.Lab, name string, trial int, client *lab.Host, cut bool, mods ...func(*corev1.Service)) (time.Duration, string) {
	ctx := b.Context()
	svc := expose(b, l, fmt.Sprintf("%s-%d", strings.ReplaceAll(name, "/", "-"), trial), "web", mods...)
	defer func() { _ = l.Kube.Delete(context.Background(), svc) }()
	vip := ingress(b, l, svc, 4)
	var victim *lab.Node
	if client == l.Client {
		victim = arpOwner(b, l, vip)
	} else {
		victim = l.Nodes[trial%len(l.Nodes)]
	}
	if cut {
		// Backends on the cut node would fail a share of requests until the
		// node is declared NotReady: that is not IronLB's failover.
		selectPodsNotOn(b, l, svc, victim.Name)
	}
	getEventually(b, l, client, netip.Addr{}, vip)
	p := startProber(l, client, vip)
	time.Sleep(300 * time.Millisecond)
	faultAt := time.Now()
	var err error
	if cut {
		err = l.CutLink(ctx, &victim.Host)
	} else {
		var pid int
		if pid, err = speakerPid(ctx, victim, readySpeaker(b, l, victim.Name).UID); err == nil {
			err = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if err != nil {
		p.finish()
		b.Fatal(err)
	}
	// Probe until a second of answers in a row, or the limit.
	for time.Since(faultAt) < trialLimit {
		time.Sleep(250 * time.Millisecond)
		if recovered(p, faultAt, time.Second) {
			break
		}
	}
	rs := p.finish()
	longest, failed := longestOutage(rs)
	line := fmt.Sprintf("%s %s on %s: %d of %d requests failed, longest run %v",
		vip, map[bool]string{true: "link cut", false: "speaker killed"}[cut], victim.Name, failed, len(rs), longest)
	// Put the node back: restore its link, or replace the crashed pod so the
	// next kill meets no restart back-off.
	if cut {
		if err := l.RestoreLink(ctx, &victim.Host); err != nil {
			b.Fatal(err)
		}
	} else {
		kubectl(b, l, "-n", lab.SystemNamespace, "delete", "pod", "--wait=false", speakerPodAny(b, l, victim.Name))
	}
	waitSpeakers(b, l)
	return longest, line
}

// recovered says whether every request started in the last window was
// answered, at least window after the fault.
func recovered(p *prober, faultAt time.Time, window time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(faultAt) < window {
		return false
	}
	n := 0
	for _, r := range p.results {
		if r.at.After(now.Add(-window)) {
			if !r.ok {
				return false
			}
			n++
		}
	}
	return n > 0
}

// BenchmarkCreateToFirstRequest measures, per Service, the time from its
// creation to the first request answered through its VIP.
func BenchmarkCreateToFirstRequest(b *testing.B) {
	l := newCluster(b)
	install(b, l)
	apply(b, l, poolsManifest)
	deployBackend(b, l, "web", 3)
	var toIP, toAnswer []time.Duration
	for i := range trials() {
		created := time.Now()
		svc := expose(b, l, fmt.Sprintf("first-%d", i), "web")
		vip, assigned := waitIngressFast(b, l, svc)
		for {
			if _, err := get(b.Context(), l, l.Client, netip.Addr{}, vip); err == nil {
				break
			}
			if time.Since(created) > time.Minute {
				b.Fatalf("%s not answered a minute after its Service was created", vip)
			}
			time.Sleep(5 * time.Millisecond)
		}
		toIP = append(toIP, assigned.Sub(created))
		toAnswer = append(toAnswer, time.Since(created))
	}
	p50, p99 := percentile(toAnswer, 50), percentile(toAnswer, 99)
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.Logf("Service created -> %d Services:\n"+
		"  external IP in its status:           p50 %v, p99 %v\n"+
		"  first request answered through it:   p50 %v, p99 %v, max %v",
		len(toAnswer), percentile(toIP, 50), percentile(toIP, 99), p50, p99, slices.Max(toAnswer))
}

// waitIngressFast polls svc's status every 5 ms for its IPv4 address and
// returns it with the time it was seen.
func waitIngressFast(b *testing.B, l *lab.Lab, svc *corev1.Service) (netip.Addr, time.Time) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		addrs, err := l.Ingress(b.Context(), svc)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range addrs {
			if a.Is4() {
				return a, time.Now()
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("no external IP for %s within a minute", svc.Name)
	return netip.Addr{}, time.Time{}
}

// prober sends a request every probeEvery from h to vip until stopped, and
// records each request's start and outcome. Requests overlap: one that
// hangs does not hold the next back.
type prober struct {
	mu      sync.Mutex
	results []probeResult
	stop    chan struct{}
	done    sync.WaitGroup
}

type probeResult struct {
	at time.Time
	ok bool
}

func startProber(l *lab.Lab, h *lab.Host, vip netip.Addr) *prober {
	p := &prober{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(probeEvery)
		defer tick.Stop()
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for {
			select {
			case <-p.stop:
				return
			case at := <-tick.C:
				inflight.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
					defer cancel()
					_, err := l.HTTPGet(ctx, h, netip.Addr{}, netip.AddrPortFrom(vip, 80), "/")
					p.mu.Lock()
					p.results = append(p.results, probeResult{at: at, ok: err == nil})
					p.mu.Unlock()
				})
			}
		}
	}()
	return p
}

// finish stops p and returns its results in start order.
func (p *prober) finish() []probeResult {
	close(p.stop)
	p.done.Wait()
	slices.SortFunc(p.results, func(a, b probeResult) int { return a.at.Compare(b.at) })
	return p.results
}

// longestOutage is the longest time from a failed request's start to the
// start of the next successful one, and how many requests failed in all.
func longestOutage(rs []probeResult) (longest time.Duration, failed int) {
	var first time.Time
	for _, r := range rs {
		switch {
		case !r.ok:
			failed++
			if first.IsZero() {
				first = r.at
			}
		case !first.IsZero():
			longest = max(longest, r.at.Sub(first))
			first = time.Time{}
		}
	}
	if !first.IsZero() && len(rs) > 0 {
		longest = max(longest, rs[len(rs)-1].at.Sub(first))
	}
	return longest, failed
}

// percentile is the p-th percentile of ds by the nearest-rank method.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

// speakerPid is the pid of the ironlb-speaker process of pod (by UID) in
// n's namespace; an empty pod matches any speaker there.
func speakerPid(ctx context.Context, n *lab.Node, pod types.UID) (int, error) {
	pids, err := lab.NetnsPids(ctx, n.Netns)
	if err != nil {
		return 0, err
	}
	for _, pid := range pids {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "ironlb-speaker" {
			continue
		}
		// The kubelet puts each container under its pod's cgroup,
		// .../pod<UID>/<container>.
		cgroups, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err == nil && strings.Contains(string(cgroups), "pod"+string(pod)) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no ironlb-speaker process of pod %q in %s", pod, n.Netns)
}

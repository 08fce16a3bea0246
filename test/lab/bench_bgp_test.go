//go:build lab

package lab_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/test/lab"
)

// bgpLab starts a lab whose router peers with every node over eBGP, with
// the default BGP objects applied and every session established.
func bgpLab(b *testing.B) *lab.Lab {
	l := newLab(b, lab.Options{Router: &lab.RouterConfig{Neighbors: routerNeighbors(lab.NodeASN, "")}})
	if err := l.Create(b.Context(), bgpObjects(l, lab.NodeASN)...); err != nil {
		b.Fatal(err)
	}
	waitSessions(b, l, "Established")
	return l
}

// BenchmarkBGPServiceToRoute measures the time from creating a Cluster
// Service to the router installing its route, first via any node and then
// via all three (ECMP), read from the router's kernel table.
func BenchmarkBGPServiceToRoute(b *testing.B) {
	l := bgpLab(b)
	ctx := b.Context()
	w, err := l.Router.WatchRoutes()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	all := nodeHops(l.Nodes...)
	var first, ecmp []sample
	for i := range trials {
		ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})
		prefix := netip.PrefixFrom(ip, 32)
		start := time.Now()
		if err := l.Create(ctx, lab.LoadBalancer(fmt.Sprintf("route-%d", i), withIPs(ip))); err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, settle)
		e, err := w.Wait(wctx, start, func(e lab.RouteEvent) bool { return e.Prefix == prefix && len(e.NextHops) > 0 })
		if err != nil {
			cancel()
			b.Fatalf("no route for %s: %v", prefix, err)
		}
		first = append(first, sample{label: prefix.String() + " via " + strings.Join(e.NextHops, ","), d: e.Time.Sub(start)})
		e, err = w.WaitNextHops(wctx, start, prefix, all...)
		cancel()
		if err != nil {
			b.Fatalf("no ECMP route for %s: %v", prefix, err)
		}
		ecmp = append(ecmp, sample{label: prefix.String(), d: e.Time.Sub(start)})
	}
	report(b, "Service created -> route installed at the router (first next hop)", first)
	ecmpStats(b, ecmp)
}

// ecmpStats logs the ECMP latencies without replacing the main metrics.
func ecmpStats(b *testing.B, samples []sample) {
	ds := make([]time.Duration, len(samples))
	for i, s := range samples {
		ds[i] = s.d
	}
	slices.Sort(ds)
	b.Logf("Service created -> route via all 3 nodes: p50 %v p99 %v", percentile(ds, 50).Round(time.Millisecond), percentile(ds, 99).Round(time.Millisecond))
	b.ReportMetric(ms(percentile(ds, 50)), "ecmp-p50-ms")
	b.ReportMetric(ms(percentile(ds, 99)), "ecmp-p99-ms")
}

// BenchmarkBGPEndpointMove measures, under Local policy, the time from
// moving the only endpoint to another node to the router's route pointing
// at that node alone.
func BenchmarkBGPEndpointMove(b *testing.B) {
	l := bgpLab(b)
	ctx := b.Context()
	w, err := l.Router.WatchRoutes()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	svc := lab.LoadBalancer("moving", lab.FromPool("bgp"), lab.Local)
	prefix := netip.PrefixFrom(createService(b, l, svc), 32)
	setEndpoints(b, l, svc, lab.Endpoint{Node: l.Nodes[0].Name, Ready: true})
	waitNextHops(b, l, prefix, l.Nodes[0].IPv4.String())
	var samples []sample
	for i := range trials {
		from, to := l.Nodes[i%len(l.Nodes)], l.Nodes[(i+1)%len(l.Nodes)]
		moved := time.Now()
		setEndpoints(b, l, svc, lab.Endpoint{Node: to.Name, Ready: true})
		wctx, cancel := context.WithTimeout(ctx, settle)
		e, err := w.WaitNextHops(wctx, moved, prefix, to.IPv4.String())
		cancel()
		if err != nil {
			b.Fatalf("route of %s not moved to %s: %v", prefix, to.Name, err)
		}
		samples = append(samples, sample{label: from.Name + " -> " + to.Name, d: e.Time.Sub(moved)})
	}
	report(b, "Local endpoint moved -> router's route via the new node only", samples)
}

// BenchmarkBGP5000Services has one node advertise 5,000 Services (IPv6, as
// there are not 5,000 documentation IPv4 addresses) and measures the time
// until FRR holds all of them, then counts session resets during 500
// Service changes (250 deleted, 250 created).
func BenchmarkBGP5000Services(b *testing.B) {
	const services, changes = 5000, 500
	l := newLab(b, lab.Options{Router: &lab.RouterConfig{Neighbors: routerNeighbors(lab.NodeASN, "")}})
	ctx := b.Context()
	speaker := l.Nodes[0]
	adv := lab.BGPAdvertisement("big", "big")
	adv.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{corev1.LabelHostname: speaker.Name}}}
	if err := l.Create(ctx,
		lab.Pool("big", "2001:db8:200::/112"),
		lab.BGPPeer("router", lab.NodeASN, lab.RouterASN, l.Router.IPv4),
		adv,
	); err != nil {
		b.Fatal(err)
	}
	waitSessions(b, l, "Established")
	before, err := l.Router.Sessions(ctx)
	if err != nil {
		b.Fatal(err)
	}
	usageBefore, err := speaker.SpeakerUsage()
	if err != nil {
		b.Fatal(err)
	}

	start := time.Now()
	createMany(b, l, services, "svc-%04d", lab.FromPool("big"), lab.IPv6Only, lab.NoNodePorts)
	created := time.Since(start)
	waitReceived(b, l, speaker, services)
	held := time.Since(start)
	usageAfter, err := speaker.SpeakerUsage()
	if err != nil {
		b.Fatal(err)
	}

	// 500 changes: delete one Service, create another, 250 times.
	churn := time.Now()
	for i := range changes / 2 {
		deleteObject(b, l, lab.LoadBalancer(fmt.Sprintf("svc-%04d", i)))
		if err := l.Create(ctx, lab.LoadBalancer(fmt.Sprintf("new-%04d", i), lab.FromPool("big"), lab.IPv6Only, lab.NoNodePorts)); err != nil {
			b.Fatal(err)
		}
	}
	waitAllAssigned(b, l, services)
	waitReceived(b, l, speaker, services)
	settled := time.Since(churn)
	after, err := l.Router.Sessions(ctx)
	if err != nil {
		b.Fatal(err)
	}
	resets := 0
	for addr, s := range after {
		resets += s.Resets - before[addr].Resets
	}

	// Restart the speaker: SIGTERM withdraws everything, and a fresh speaker
	// advertises all 5,000 from its first sync, free of the API server's
	// creation rate that paces the burst above.
	if err := speaker.KillSpeaker(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	waitReceived(b, l, speaker, 0)
	restart := time.Now()
	if err := speaker.StartSpeaker(ctx); err != nil {
		b.Fatal(err)
	}
	waitReceived(b, l, speaker, services)
	restarted := time.Since(restart)

	b.Logf("\n%d IPv6 Services advertised by %s: created in %v, FRR held all %d routes after %v\n"+
		"%d Service changes: FRR settled after %v, session resets %d\n"+
		"speaker restarted: FRR held all %d routes again after %v\n"+
		"speaker %s: RSS %.1f MiB, CPU %v for the burst",
		services, speaker.Name, created.Round(time.Millisecond), services, held.Round(time.Millisecond),
		changes, settled.Round(time.Millisecond), resets,
		services, restarted.Round(time.Millisecond),
		speaker.Name, float64(usageAfter.RSS)/(1<<20), (usageAfter.CPU - usageBefore.CPU).Round(time.Millisecond))
	b.ReportMetric(held.Seconds(), "all-routes-s")
	b.ReportMetric(float64(resets), "session-resets")
	b.ReportMetric(restarted.Seconds(), "restart-all-routes-s")
	b.ReportMetric(0, "ns/op")
}

// waitReceived waits until FRR holds exactly n IPv6 prefixes from node.
func waitReceived(tb testing.TB, l *lab.Lab, node *lab.Node, n int) {
	tb.Helper()
	err := lab.Poll(tb.Context(), 10*time.Minute, 500*time.Millisecond, func(ctx context.Context) error {
		got, err := l.Router.PrefixesReceived(ctx, "ipv6", node.IPv4)
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("FRR holds %d IPv6 prefixes from %s, want %d", got, node.Name, n)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

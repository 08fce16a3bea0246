package announce_test

import (
	"maps"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ironlb/ironlb/speaker/announce"
)

// deciderOf returns a Decider holding in, having decided it once.
func deciderOf(in announce.Input) (*announce.Decider, announce.Cluster) {
	c := announce.Cluster{
		Nodes:             in.Nodes,
		Live:              in.Live,
		Pools:             in.Pools,
		L2Advertisements:  in.L2Advertisements,
		BGPAdvertisements: in.BGPAdvertisements,
		WinnerVersion:     in.WinnerVersion,
		Eligibility:       in.Eligibility,
	}
	d := announce.NewDecider()
	d.SetCluster(c)
	for _, s := range in.Services {
		d.SetService(s)
	}
	d.Decide()
	return d, c
}

// perOp reports the time per operation in unit (time.Microsecond: "µs/…").
func perOp(b *testing.B, n int, unit time.Duration, name string) {
	b.ReportMetric(float64(b.Elapsed())/float64(unit)/float64(n), name)
}

// BenchmarkDeciderScale is the Decider at the scale model of docs/scale.md
// (BenchmarkScaleCompute: 1,000 nodes, 50,000 Services of one address, one
// pool and one advertisement of each kind selecting every node), election
// v2:
//   - ServiceChange: one Service moves to a new address, then Decide;
//   - SameCluster, EqualCluster: SetCluster with the cluster unchanged
//     (the same slices; equal copies of them and of Live), then Decide:
//     what a caller pays for calling SetCluster on every reconcile;
//   - NodeLeaves, NodeJoins: one speaker leaves (joins) the live set, then
//     Decide;
//   - FullRecompute: a change beyond Live (the eligibility rule), then
//     Decide: what every change cost before the Decider.
func BenchmarkDeciderScale(b *testing.B) {
	in := scaleInput(announce.WinnerV2)
	d, c := deciderOf(in)
	b.Run("ServiceChange", func(b *testing.B) { benchServiceChange(b, d, in) })
	b.Run("SameCluster", func(b *testing.B) { benchSameCluster(b, d, func() announce.Cluster { return c }) })
	b.Run("EqualCluster", func(b *testing.B) { benchSameCluster(b, d, func() announce.Cluster { return equalCopy(c) }) })
	benchMembership(b, d, c, time.Millisecond)
	b.Run("FullRecompute", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Eligibility.IgnoreExcludeLabel = !c.Eligibility.IgnoreExcludeLabel
			d.SetCluster(c)
			d.Decide()
		}
		perOp(b, b.N, time.Millisecond, "ms/recompute")
		b.StopTimer()
		b.ReportMetric(liveMiB(), "live-MiB")
		runtime.KeepAlive(d)
	})
}

// benchSameCluster times SetCluster(next()) and Decide with nothing
// changed; next is not timed.
func benchSameCluster(b *testing.B, d *announce.Decider, next func() announce.Cluster) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := next()
		b.StartTimer()
		d.SetCluster(c)
		d.Decide()
	}
	perOp(b, b.N, time.Microsecond, "µs/call")
	if addrs, all := d.Changed(); all || len(addrs) != 0 {
		b.Fatalf("an unchanged cluster changed %v (all: %t)", addrs, all)
	}
}

// BenchmarkDeciderScaleV1Membership is a membership change at the same
// scale with election v1, whose full decision takes about 14 s (setting
// it up does one).
func BenchmarkDeciderScaleV1Membership(b *testing.B) {
	d, c := deciderOf(scaleInput(announce.WinnerV1))
	benchMembership(b, d, c, time.Millisecond)
}

// BenchmarkDeciderBurst is a Service change with 5,000 Services on 3
// nodes, the lab's burst (BenchmarkCompute5000x3 is the full decision).
func BenchmarkDeciderBurst(b *testing.B) {
	in := allPoolsInput([]string{"n1", "n2", "n3"}, append(manyIPs(600), extraV6(4400)...))
	in.WinnerVersion = announce.WinnerV2
	d, _ := deciderOf(in)
	b.Run("ServiceChange", func(b *testing.B) { benchServiceChange(b, d, in) })
}

// benchServiceChange moves one Service at a time to the one address no
// Service holds, so each change announces a new address and withdraws one.
func benchServiceChange(b *testing.B, d *announce.Decider, in announce.Input) {
	svcs := in.Services
	free := unusedAddr(in)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := svcs[i%len(svcs)]
		s.IPs, free = []netip.Addr{free}, s.IPs[0]
		svcs[i%len(svcs)] = s
		d.SetService(s)
		d.Decide()
		i++
	}
	perOp(b, i, time.Microsecond, "µs/change")
	if addrs, all := d.Changed(); all || len(addrs) != 2 {
		b.Fatalf("the last change changed %v (all: %t), want the two addresses moved", addrs, all)
	}
}

// unusedAddr is an address of in's pool that none of its Services holds.
func unusedAddr(in announce.Input) netip.Addr {
	used := map[netip.Addr]bool{}
	for _, s := range in.Services {
		for _, ip := range s.IPs {
			used[ip] = true
		}
	}
	for a := netip.MustParseAddr("2001:db8:ff::1"); ; a = a.Next() {
		if !used[a] {
			return a
		}
	}
}

// benchMembership times one node leaving and, separately, one joining;
// each is undone with the timer stopped.
func benchMembership(b *testing.B, d *announce.Decider, c announce.Cluster, unit time.Duration) {
	all := c.Live
	without := func(i int) map[string]bool {
		m := maps.Clone(all)
		delete(m, c.Nodes[i%len(c.Nodes)].Name)
		return m
	}
	step := func(live map[string]bool) {
		c.Live = live
		d.SetCluster(c)
		d.Decide()
	}
	b.Run("NodeLeaves", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			step(without(i))
			b.StopTimer()
			step(all)
			b.StartTimer()
		}
		perOp(b, b.N, unit, "ms/leave")
	})
	b.Run("NodeJoins", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			step(without(i))
			b.StartTimer()
			step(all)
		}
		perOp(b, b.N, unit, "ms/join")
	})
}

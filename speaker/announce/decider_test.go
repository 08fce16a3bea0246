package announce_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/speaker/announce"
)

// TestDeciderMatchesCompute is the Decider's contract: after any sequence
// of changes, Decide returns what Compute returns for the same full input,
// and Changed names every address whose announcement changed. Random
// clusters, random changes of every kind, both election versions.
func TestDeciderMatchesCompute(t *testing.T) {
	iterations := 150
	if testing.Short() {
		iterations = 50
	}
	var incremental, membership, refusalFlips int
	for seed := range uint64(iterations) {
		r := rand.New(rand.NewPCG(seed, 0x1b))
		d := announce.NewDecider()
		cluster := randCluster(r)
		d.SetCluster(cluster)
		for range r.IntN(20) {
			d.SetService(randService(r))
		}
		prev := decideAndCheck(t, d, fmt.Sprintf("seed %d, first Decide", seed))
		for step := range 40 {
			where := fmt.Sprintf("seed %d, step %d", seed, step)
			structural, liveOnly := false, false
			for range 1 + r.IntN(3) {
				switch op := r.IntN(12); {
				case op < 5:
					d.SetService(randService(r))
				case op < 7:
					d.DeleteService(fmt.Sprintf("ns/s%02d", r.IntN(25)))
				case op < 9:
					cluster.Live = toggleLive(r, cluster.Live)
					d.SetCluster(cluster)
					liveOnly = true
				case op < 10:
					cluster = mutateCluster(r, cluster)
					d.SetCluster(cluster)
					structural = true
				default:
					cluster = equalCopy(cluster)
					d.SetCluster(cluster)
				}
			}
			res := decideAndCheck(t, d, where)
			addrs, all := d.Changed()
			checkChanged(t, where, prev, res, addrs, all)
			// Only a change beyond Live, or a change of the refused
			// aggregations, may recompute everything.
			refusalsKept := reflect.DeepEqual(prev.RefusedAggregation, res.RefusedAggregation)
			if !structural && refusalsKept && all {
				t.Fatalf("%s: services or Live alone changed, but everything was recomputed", where)
			}
			if !structural && !refusalsKept {
				refusalFlips++
			}
			if !all {
				incremental++
				if liveOnly {
					membership++
				}
			}
			prev = res
		}
	}
	t.Logf("%d incremental Decides, %d of them after a change of Live; %d refusals changed by Services or Live",
		incremental, membership, refusalFlips)
}

// decideAndCheck decides and fails unless the Result is Compute's.
func decideAndCheck(t *testing.T, d *announce.Decider, where string) announce.Result {
	t.Helper()
	got := d.Decide()
	in := d.Input()
	if diff := diffResults(got, announce.Compute(in), nodeNamesOf(in)); diff != "" {
		t.Fatalf("%s: Decide differs from Compute (-Compute +Decide):\n%s", where, diff)
	}
	return got
}

func nodeNamesOf(in announce.Input) []string {
	var out []string
	for _, n := range in.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// diffResults compares what a Result tells: its exported fields, and the
// advertisements and routes it gives for every address and node.
func diffResults(got, want announce.Result, nodes []string) string {
	if diff := cmp.Diff(want.L2Map(), got.L2Map(), cmpAddrs); diff != "" {
		return "L2:\n" + diff
	}
	if diff := cmp.Diff(want.BGPMap(), got.BGPMap(), cmpAddrs); diff != "" {
		return "BGP:\n" + diff
	}
	if diff := cmp.Diff(want.RefusedAggregation, got.RefusedAggregation, cmpAddrs); diff != "" {
		return "RefusedAggregation:\n" + diff
	}
	for ip := range want.AllL2() {
		if diff := cmp.Diff(want.L2Advertisements(ip), got.L2Advertisements(ip)); diff != "" {
			return fmt.Sprintf("L2Advertisements(%s):\n%s", ip, diff)
		}
	}
	for _, n := range nodes {
		if diff := cmp.Diff(want.Routes(n), got.Routes(n), cmpAddrs); diff != "" {
			return fmt.Sprintf("Routes(%s):\n%s", n, diff)
		}
	}
	return ""
}

// checkChanged fails unless addrs (or all) covers every address whose
// layer-2 owner, interfaces, advertisements or BGP nodes changed from prev
// to cur, and every route that changed on some node holds one of them.
func checkChanged(t *testing.T, where string, prev, cur announce.Result, addrs []netip.Addr, all bool) {
	t.Helper()
	if all {
		return
	}
	listed := map[netip.Addr]bool{}
	for _, ip := range addrs {
		listed[ip] = true
	}
	pl2, cl2, pbgp, cbgp := prev.L2Map(), cur.L2Map(), prev.BGPMap(), cur.BGPMap()
	for _, ip := range slices.Concat(slices.Collect(maps.Keys(pl2)), slices.Collect(maps.Keys(cl2)),
		slices.Collect(maps.Keys(pbgp)), slices.Collect(maps.Keys(cbgp))) {
		if listed[ip] {
			continue
		}
		if !reflect.DeepEqual(pl2[ip], cl2[ip]) || !reflect.DeepEqual(pbgp[ip], cbgp[ip]) ||
			!slices.Equal(prev.L2Advertisements(ip), cur.L2Advertisements(ip)) {
			t.Fatalf("%s: %s changed (L2 %+v -> %+v, BGP %+v -> %+v) but Changed %v does not list it",
				where, ip, pl2[ip], cl2[ip], pbgp[ip], cbgp[ip], addrs)
		}
	}
	for _, n := range randNodeNames {
		before, after := prev.Routes(n), cur.Routes(n)
		for _, rt := range symmetricDifference(before, after) {
			if !slices.ContainsFunc(addrs, rt.Prefix.Contains) {
				t.Fatalf("%s: route %+v of %s changed but Changed %v lists no address in it", where, rt, n, addrs)
			}
		}
	}
}

func symmetricDifference(a, b []announce.Route) []announce.Route {
	var out []announce.Route
	in := func(rt announce.Route, l []announce.Route) bool {
		return slices.ContainsFunc(l, func(o announce.Route) bool { return reflect.DeepEqual(rt, o) })
	}
	for _, rt := range a {
		if !in(rt, b) {
			out = append(out, rt)
		}
	}
	for _, rt := range b {
		if !in(rt, a) {
			out = append(out, rt)
		}
	}
	return out
}

// fiveNodes: five nodes whose speakers are live, one pool, one
// L2Advertisement and one BGPAdvertisement for every node, 200 Services of
// one address each, with the election v.
func fiveNodes(v announce.WinnerVersion) (announce.Cluster, []announce.Service) {
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	in := allPoolsInput(names, manyIPs(200))
	return announce.Cluster{
		Nodes:             in.Nodes,
		Live:              in.Live,
		Pools:             in.Pools,
		L2Advertisements:  in.L2Advertisements,
		BGPAdvertisements: in.BGPAdvertisements,
		WinnerVersion:     v,
	}, in.Services
}

func newDecider(c announce.Cluster, svcs []announce.Service) *announce.Decider {
	d := announce.NewDecider()
	d.SetCluster(c)
	for _, s := range svcs {
		d.SetService(s)
	}
	return d
}

func changedAddrs(t *testing.T, d *announce.Decider) []netip.Addr {
	t.Helper()
	addrs, all := d.Changed()
	if all {
		t.Fatal("Changed says everything changed; want only what moved")
	}
	return addrs
}

func TestDeciderMembership(t *testing.T) {
	for _, v := range []announce.WinnerVersion{announce.WinnerV1, announce.WinnerV2} {
		t.Run("a node leaves: only its addresses move/"+v.String(), func(t *testing.T) {
			c, svcs := fiveNodes(v)
			d := newDecider(c, svcs)
			before := decideAndCheck(t, d, "before")
			c.Live = live("n1", "n2", "n4", "n5")
			d.SetCluster(c)
			after := decideAndCheck(t, d, "after n3 left")
			moved := 0
			for ip, a := range before.AllL2() {
				now, _ := after.L2At(ip)
				if now.Node == a.Node {
					continue
				}
				moved++
				if a.Node != "n3" {
					t.Errorf("%s moved from %s to %s, but only n3 left", ip, a.Node, now.Node)
				}
			}
			if moved == 0 {
				t.Fatal("n3 owned nothing: the test proves nothing")
			}
			// Every address changed: n3 no longer advertises any of
			// them over BGP.
			if got := len(changedAddrs(t, d)); got != len(svcs) {
				t.Errorf("Changed lists %d addresses, want all %d (BGP nodes changed)", got, len(svcs))
			}
		})
		t.Run("a node joins: it takes only what it wins/"+v.String(), func(t *testing.T) {
			c, svcs := fiveNodes(v)
			c.Live = live("n1", "n2", "n3", "n4")
			d := newDecider(c, svcs)
			before := decideAndCheck(t, d, "before")
			c.Live = live("n1", "n2", "n3", "n4", "n5")
			d.SetCluster(c)
			after := decideAndCheck(t, d, "after n5 joined")
			moved := 0
			for ip, a := range before.AllL2() {
				if now, _ := after.L2At(ip); now.Node != a.Node {
					moved++
					if now.Node != "n5" {
						t.Errorf("%s moved from %s to %s, but only n5 joined", ip, a.Node, now.Node)
					}
				}
			}
			if moved == 0 {
				t.Fatal("n5 won nothing: the test proves nothing")
			}
			changedAddrs(t, d)
		})
	}
	t.Run("a layer-2-only pool: Changed lists only the moved addresses", func(t *testing.T) {
		c, svcs := fiveNodes(announce.WinnerV2)
		c.BGPAdvertisements = nil
		d := newDecider(c, svcs)
		before := decideAndCheck(t, d, "before")
		c.Live = live("n1", "n2", "n4", "n5")
		d.SetCluster(c)
		after := decideAndCheck(t, d, "after n3 left")
		var want []netip.Addr
		for ip, a := range before.AllL2() {
			if a.Node == "n3" {
				want = append(want, ip)
			}
		}
		slices.SortFunc(want, netip.Addr.Compare)
		if diff := cmp.Diff(want, changedAddrs(t, d), cmpAddrs); diff != "" {
			t.Errorf("Changed (-n3's addresses +got):\n%s", diff)
		}
		_ = after
	})
	t.Run("the same cluster again recomputes nothing", func(t *testing.T) {
		c, svcs := fiveNodes(announce.WinnerV2)
		d := newDecider(c, svcs)
		before := decideAndCheck(t, d, "before")
		d.SetCluster(equalCopy(c))
		d.SetCluster(c)
		after := decideAndCheck(t, d, "after")
		if addrs := changedAddrs(t, d); len(addrs) != 0 {
			t.Errorf("Changed lists %v after no change", addrs)
		}
		if !announce.SameTables(after, before) {
			t.Error("an unchanged decision was copied")
		}
	})
}

func TestDeciderServiceChanges(t *testing.T) {
	shared := netip.MustParseAddr("192.0.2.50")
	tests := []struct {
		name   string
		before []announce.Service
		change func(*announce.Decider)
		// want is what the address holds after the change, nil when
		// nothing announces it.
		want        map[netip.Addr]*announce.L2Announcement
		wantChanged []netip.Addr
	}{{
		name:   "a Service moves to another address",
		before: []announce.Service{svc("ns/a", v4a), svc("ns/b", v4b)},
		change: func(d *announce.Decider) { d.SetService(svc("ns/a", v6a)) },
		want: map[netip.Addr]*announce.L2Announcement{
			v4a: nil,
			v6a: {Node: "n3", Services: []string{"ns/a"}},
		},
		wantChanged: []netip.Addr{v4a, v6a},
	}, {
		name: "a shared address loses one of its Services",
		before: []announce.Service{
			local(svc("ns/a", shared), "n2"), local(svc("ns/b", shared), "n1"),
			svc("ns/c", v4b),
		},
		change: func(d *announce.Decider) { d.DeleteService("ns/b") },
		want: map[netip.Addr]*announce.L2Announcement{
			shared: {Node: "n2", Services: []string{"ns/a"}},
		},
		wantChanged: []netip.Addr{shared},
	}, {
		name:   "a Service joins a shared address",
		before: []announce.Service{local(svc("ns/b", shared), "n1")},
		change: func(d *announce.Decider) { d.SetService(local(svc("ns/a", shared), "n1")) },
		want: map[netip.Addr]*announce.L2Announcement{
			shared: {Node: "n1", Services: []string{"ns/a", "ns/b"}},
		},
		wantChanged: []netip.Addr{shared},
	}, {
		name:   "an endpoint change of a Cluster Service changes nothing",
		before: []announce.Service{svc("ns/a", v4a)},
		change: func(d *announce.Decider) {
			s := svc("ns/a", v4a)
			s.EndpointNodes = []string{"n2"}
			d.SetService(s)
		},
		want: map[netip.Addr]*announce.L2Announcement{
			v4a: {Node: "n1", Services: []string{"ns/a"}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			d := newDecider(announce.Cluster{
				Nodes: in.Nodes, Live: in.Live, Pools: in.Pools, L2Advertisements: in.L2Advertisements,
			}, tc.before)
			decideAndCheck(t, d, "before")
			tc.change(d)
			res := decideAndCheck(t, d, "after")
			for ip, want := range tc.want {
				got, ok := res.L2At(ip)
				if want == nil {
					if ok {
						t.Errorf("%s is still announced: %+v", ip, got)
					}
					continue
				}
				if diff := cmp.Diff(*want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", ip, diff)
				}
			}
			if diff := cmp.Diff(tc.wantChanged, changedAddrs(t, d), cmpAddrs); diff != "" {
				t.Errorf("Changed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeciderRefusedAggregationFlips: a Service taking an address of a
// pool that is not Ready makes that pool hold an address, so a /24
// aggregation reaching out of its entry is refused and every address it
// advertised goes dark; deleting the Service lifts the refusal.
func TestDeciderRefusedAggregationFlips(t *testing.T) {
	in := baseInput()
	broken := announce.Pool{Name: "broken", NotReady: true, Entries: []announce.Entry{{
		Range: iprange.Range{First: netip.MustParseAddr("198.51.100.10"), Last: netip.MustParseAddr("198.51.100.20")},
	}}}
	c := announce.Cluster{
		Nodes: in.Nodes, Live: in.Live,
		Pools:             []announce.Pool{pool("lan", nil, "192.0.2.0/24"), broken},
		BGPAdvertisements: []announce.BGPAdvertisement{{Name: "agg", AggregationLength: ptr.To[int32](24)}},
	}
	d := newDecider(c, []announce.Service{svc("ns/a", v4a)})
	if res := decideAndCheck(t, d, "before"); res.LenBGP() != 1 || res.RefusedAggregation != nil {
		t.Fatalf("before: want %s advertised and nothing refused, got BGP %v, refused %v", v4a, res.BGPMap(), res.RefusedAggregation)
	}
	kept := svc("ns/kept", netip.MustParseAddr("198.51.100.15"))
	kept.Pool = "broken"
	d.SetService(kept)
	res := decideAndCheck(t, d, "after a Service holds an address of the broken pool")
	if _, refused := res.RefusedAggregation["agg"]; !refused || res.LenBGP() != 0 {
		t.Fatalf("want agg refused and nothing advertised, got BGP %v, refused %v", res.BGPMap(), res.RefusedAggregation)
	}
	if _, all := d.Changed(); !all {
		t.Error("a refusal flip changes every address, but Changed does not say so")
	}
	d.DeleteService("ns/kept")
	if res := decideAndCheck(t, d, "after it left"); res.LenBGP() != 1 || res.RefusedAggregation != nil {
		t.Fatalf("want %s advertised again and nothing refused, got BGP %v, refused %v", v4a, res.BGPMap(), res.RefusedAggregation)
	}
}

// TestDeciderResultNotModified: a Result handed out stays as it was while
// the Decider goes on deciding, and can be read concurrently (run with
// -race).
func TestDeciderResultNotModified(t *testing.T) {
	c, svcs := fiveNodes(announce.WinnerV2)
	d := newDecider(c, svcs)
	first := d.Decide()
	want := announce.Compute(d.Input())
	nodes := nodeNamesOf(d.Input())

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, n := range nodes {
				_ = first.L2Owned(n)
				_ = first.Routes(n)
			}
			for ip := range first.AllL2() {
				_ = first.L2Advertisements(ip)
			}
		}
	})
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		s := svcs[r.IntN(len(svcs))]
		switch i % 5 {
		case 0:
			d.DeleteService(s.Key)
		case 1:
			c.Live = toggleLive(r, c.Live)
			d.SetCluster(c)
		case 2:
			c.WinnerVersion = 3 - c.WinnerVersion // v1 and v2 in turn: a full recompute
			d.SetCluster(c)
		default:
			s.IPs = []netip.Addr{pick(r, manyIPs(400))}
			d.SetService(s)
		}
		decideAndCheck(t, d, fmt.Sprintf("change %d", i))
	}
	close(stop)
	wg.Wait()
	if diff := diffResults(first, want, nodes); diff != "" {
		t.Fatalf("the first Result changed (-then +now):\n%s", diff)
	}
}

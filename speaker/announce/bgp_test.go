package announce_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/speaker/announce"
)

func TestComputeBGP(t *testing.T) {
	v4c := netip.MustParseAddr("192.0.2.200")
	v6b := netip.MustParseAddr("2001:db8::1:5")
	tests := []struct {
		name       string
		modify     func(*announce.Input)
		wantNodes  map[netip.Addr][]string
		wantRoutes map[string][]announce.Route // by node
	}{{
		name: "Cluster: every eligible node advertises a /32 and a /128",
		modify: func(in *announce.Input) {
			in.Nodes[2] = node("n3", notReady)
			in.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "all"}}
			in.Services = []announce.Service{svc("ns/a", v4a, v6a)}
		},
		wantNodes: map[netip.Addr][]string{v4a: {"n1", "n2"}, v6a: {"n1", "n2"}},
		wantRoutes: map[string][]announce.Route{
			"n1": {{Prefix: netip.MustParsePrefix("192.0.2.10/32")}, {Prefix: netip.MustParsePrefix("2001:db8::10/128")}},
			"n3": {},
		},
	}, {
		name: "Local: only nodes with a ready endpoint advertise",
		modify: func(in *announce.Input) {
			in.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "all"}}
			in.Services = []announce.Service{local(svc("ns/a", v4a), "n3", "n1")}
		},
		wantNodes: map[netip.Addr][]string{v4a: {"n1", "n3"}},
		wantRoutes: map[string][]announce.Route{
			"n2": {},
			"n3": {{Prefix: netip.MustParsePrefix("192.0.2.10/32")}},
		},
	}, {
		name: "Local: no endpoint, nothing is advertised",
		modify: func(in *announce.Input) {
			in.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "all"}}
			in.Services = []announce.Service{local(svc("ns/a", v4a))}
		},
		wantNodes:  map[netip.Addr][]string{},
		wantRoutes: map[string][]announce.Route{"n1": {}},
	}, {
		name: "aggregation: addresses in one /24 and one /64 give one route each",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.BGPAdvertisements = []announce.BGPAdvertisement{{
				Name: "agg", AggregationLength: ptr.To[int32](24), AggregationLengthV6: ptr.To[int32](64),
			}}
			in.Services = []announce.Service{svc("ns/a", v4a, v6a), svc("ns/b", v4c, v6b)}
		},
		wantNodes: map[netip.Addr][]string{v4a: {"n1"}, v4c: {"n1"}, v6a: {"n1"}, v6b: {"n1"}},
		wantRoutes: map[string][]announce.Route{"n1": {
			{Prefix: netip.MustParsePrefix("192.0.2.0/24")},
			{Prefix: netip.MustParsePrefix("2001:db8::/64")},
		}},
	}, {
		name: "communities split into standard and large, localPref and peers kept",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.BGPAdvertisements = []announce.BGPAdvertisement{{
				Name:        "tagged",
				Peers:       []string{"tor-b", "tor-a"},
				LocalPref:   ptr.To[uint32](150),
				Communities: []string{"64512:100", "large:64512:1:2", "64512:7"},
			}}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		wantNodes: map[netip.Addr][]string{v4a: {"n1"}},
		wantRoutes: map[string][]announce.Route{"n1": {{
			Prefix:           netip.MustParsePrefix("192.0.2.10/32"),
			Peers:            []string{"tor-a", "tor-b"},
			Communities:      []string{"64512:100", "64512:7"},
			LargeCommunities: []string{"64512:1:2"},
			LocalPref:        ptr.To[uint32](150),
		}}},
	}, {
		name: "two advertisements, same prefix and peers: merged",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.BGPAdvertisements = []announce.BGPAdvertisement{
				{Name: "a", Communities: []string{"64512:1"}, LocalPref: ptr.To[uint32](100)},
				{Name: "b", Communities: []string{"64512:2"}, LocalPref: ptr.To[uint32](200)},
			}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		wantNodes: map[netip.Addr][]string{v4a: {"n1"}},
		wantRoutes: map[string][]announce.Route{"n1": {{
			Prefix:      netip.MustParsePrefix("192.0.2.10/32"),
			Communities: []string{"64512:1", "64512:2"},
			LocalPref:   ptr.To[uint32](200),
		}}},
	}, {
		name: "two advertisements for different peers: one route each",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.BGPAdvertisements = []announce.BGPAdvertisement{
				{Name: "host", Peers: []string{"tor"}},
				{Name: "agg", Peers: []string{"spine"}, AggregationLength: ptr.To[int32](24)},
			}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		wantNodes: map[netip.Addr][]string{v4a: {"n1"}},
		wantRoutes: map[string][]announce.Route{"n1": {
			{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Peers: []string{"spine"}},
			{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Peers: []string{"tor"}},
		}},
	}, {
		name: "nodeSelectors and the excluded label",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{
				node("n1", label("bgp", "yes")),
				node("n2", label("bgp", "yes"), label(announce.ExcludeLabel, "true")),
				node("n3"),
			}
			in.BGPAdvertisements = []announce.BGPAdvertisement{{
				Name: "sel", NodeSelectors: []labels.Selector{sel("bgp", "yes")},
			}}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		wantNodes: map[netip.Addr][]string{v4a: {"n1"}},
		wantRoutes: map[string][]announce.Route{
			"n1": {{Prefix: netip.MustParsePrefix("192.0.2.10/32")}},
			"n2": {},
			"n3": {},
		},
	}, {
		name: "L2 and BGP advertisements for different pools",
		modify: func(in *announce.Input) {
			in.L2Advertisements = []announce.L2Advertisement{{Name: "l2", Pools: announce.PoolSelector{Names: []string{"lan"}}}}
			in.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "bgp", Pools: announce.PoolSelector{Names: []string{"dmz"}}}}
			in.Services = []announce.Service{svc("ns/a", v4a), svc("ns/b", netip.MustParseAddr("198.51.100.9"))}
		},
		wantNodes: map[netip.Addr][]string{netip.MustParseAddr("198.51.100.9"): {"n1", "n2", "n3"}},
		wantRoutes: map[string][]announce.Route{
			"n2": {{Prefix: netip.MustParsePrefix("198.51.100.9/32")}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			tc.modify(&in)
			got := announce.Compute(in)
			gotNodes := map[netip.Addr][]string{}
			for ip, a := range got.AllBGP() {
				gotNodes[ip] = a.Nodes
			}
			if diff := cmp.Diff(tc.wantNodes, gotNodes, cmpAddrs); diff != "" {
				t.Errorf("announcing nodes (-want +got):\n%s", diff)
			}
			for n, want := range tc.wantRoutes {
				if diff := cmp.Diff(want, got.Routes(n), cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("routes of %s (-want +got):\n%s", n, diff)
				}
			}
		})
	}
}

// An aggregate never covers addresses outside the pool entry its address
// comes from: an advertisement whose aggregation length is shorter than a
// selected entry announces none of its routes, and the other advertisements
// are unaffected.
func TestAggregateStaysInsideItsPoolEntry(t *testing.T) {
	ip4 := netip.MustParseAddr("192.0.2.10")
	ip6 := netip.MustParseAddr("2001:db8:1::10")
	inRange := netip.MustParseAddr("198.51.100.12")
	small := pool("lan", nil, "192.0.2.0/28", "2001:db8:1::/64")
	rng := announce.Pool{Name: "range", Entries: []announce.Entry{{Range: iprange.Range{
		First: netip.MustParseAddr("198.51.100.10"), Last: netip.MustParseAddr("198.51.100.20"),
	}}}}
	host := announce.BGPAdvertisement{Name: "host", Peers: []string{"tor"}}
	agg := func(v4, v6 *int32) announce.BGPAdvertisement {
		return announce.BGPAdvertisement{Name: "agg", Peers: []string{"spine"}, AggregationLength: v4, AggregationLengthV6: v6}
	}
	hostRoutes := []announce.Route{
		{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Peers: []string{"tor"}},
		{Prefix: netip.MustParsePrefix("198.51.100.12/32"), Peers: []string{"tor"}},
		{Prefix: netip.MustParsePrefix("2001:db8:1::10/128"), Peers: []string{"tor"}},
	}
	tests := []struct {
		name        string
		adv         announce.BGPAdvertisement
		want        []announce.Route
		wantRefused []string
	}{{
		name: "aggregationLength 0: no default route, nothing from this advertisement",
		adv:  agg(ptr.To[int32](0), nil),
		want: hostRoutes,
		wantRefused: []string{`aggregationLength 0 would announce 0.0.0.0/0 for entry "192.0.2.0/28" of IPAddressPool "lan", ` +
			`covering addresses outside it; the shortest length that stays inside the entry is 28`},
	}, {
		name: "aggregationLength 8: no /8",
		adv:  agg(ptr.To[int32](8), nil),
		want: hostRoutes,
		wantRefused: []string{`aggregationLength 8 would announce 192.0.0.0/8 for entry "192.0.2.0/28" of IPAddressPool "lan", ` +
			`covering addresses outside it; the shortest length that stays inside the entry is 28`},
	}, {
		name: "aggregationLengthV6 0: no IPv6 default route",
		adv:  agg(nil, ptr.To[int32](0)),
		want: hostRoutes,
		wantRefused: []string{`aggregationLengthV6 0 would announce ::/0 for entry "2001:db8:1::/64" of IPAddressPool "lan", ` +
			`covering addresses outside it; the shortest length that stays inside the entry is 64`},
	}, {
		name: "the length of the entry itself aggregates",
		adv:  agg(ptr.To[int32](32), ptr.To[int32](64)),
		want: []announce.Route{
			{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Peers: []string{"spine"}},
			{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Peers: []string{"tor"}},
			{Prefix: netip.MustParsePrefix("198.51.100.12/32"), Peers: []string{"spine"}},
			{Prefix: netip.MustParsePrefix("198.51.100.12/32"), Peers: []string{"tor"}},
			{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), Peers: []string{"spine"}},
			{Prefix: netip.MustParsePrefix("2001:db8:1::10/128"), Peers: []string{"tor"}},
		},
	}, {
		name: "a range entry refuses any aggregate: /28 would reach below its first address",
		adv:  agg(ptr.To[int32](28), nil),
		want: hostRoutes,
		wantRefused: []string{`aggregationLength 28 would announce 198.51.100.0/28 for entry "198.51.100.10-198.51.100.20" of IPAddressPool "range", ` +
			`covering addresses outside it; the shortest length that stays inside the entry is 32`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := announce.Input{
				Nodes:             []announce.Node{node("n1")},
				Live:              live("n1"),
				Pools:             []announce.Pool{small, rng},
				Services:          []announce.Service{svc("ns/a", ip4, ip6), svc("ns/b", inRange)},
				BGPAdvertisements: []announce.BGPAdvertisement{host, tc.adv},
			}
			res := announce.Compute(in)
			if diff := cmp.Diff(tc.want, res.Routes("n1"), cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("routes of n1 (-want +got):\n%s", diff)
			}
			var refused []string
			for _, e := range res.RefusedAggregation["agg"] {
				refused = append(refused, e.Error())
			}
			if diff := cmp.Diff(tc.wantRefused, refused); diff != "" {
				t.Errorf("why agg is refused (-want +got):\n%s", diff)
			}
			if _, ok := res.RefusedAggregation["host"]; ok {
				t.Error("host is refused too")
			}
		})
	}
}

// TestRoutesAtMatchesRoutes: without aggregation, the routes of every
// address taken alone (RoutesAt) are a node's whole set (Routes), so a
// speaker can update the routes of the addresses that changed without
// building every route. Random clusters, aggregation taken out.
func TestRoutesAtMatchesRoutes(t *testing.T) {
	checked := 0
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 0x2c))
		c := randCluster(r)
		for i := range c.BGPAdvertisements {
			c.BGPAdvertisements[i].AggregationLength, c.BGPAdvertisements[i].AggregationLengthV6 = nil, nil
		}
		d := announce.NewDecider()
		d.SetCluster(c)
		for range r.IntN(20) {
			d.SetService(randService(r))
		}
		res := d.Decide()
		for _, n := range randNodeNames {
			var got []announce.Route
			for ip := range res.AllBGP() {
				for _, rt := range res.RoutesAt(n, ip) {
					if rt.Prefix != netip.PrefixFrom(ip, ip.BitLen()) {
						t.Fatalf("seed %d: %s on %s gives route %s, not its own prefix", seed, ip, n, rt.Prefix)
					}
					got = append(got, rt)
				}
			}
			want := res.Routes(n)
			slices.SortFunc(got, func(a, b announce.Route) int {
				if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
					return c
				}
				return strings.Compare(strings.Join(a.Peers, ","), strings.Join(b.Peers, ","))
			})
			if diff := cmp.Diff(want, got, cmpAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("seed %d, node %s: RoutesAt of every address differs from Routes (-Routes +RoutesAt):\n%s", seed, n, diff)
			}
			checked += len(want)
		}
	}
	if checked == 0 {
		t.Fatal("no route built: the test proves nothing")
	}
}

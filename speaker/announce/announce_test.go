package announce_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/speaker/announce"
)

var cmpAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// Fixtures: three ready nodes with live speakers, a pool per family range.
var (
	v4a = netip.MustParseAddr("192.0.2.10")
	v4b = netip.MustParseAddr("192.0.2.11")
	v6a = netip.MustParseAddr("2001:db8::10")
	off = netip.MustParseAddr("203.0.113.7") // in no pool's ranges
)

func node(name string, mods ...func(*announce.Node)) announce.Node {
	n := announce.Node{Name: name, Ready: true, Labels: map[string]string{"kubernetes.io/hostname": name}}
	for _, m := range mods {
		m(&n)
	}
	return n
}

func notReady(n *announce.Node)       { n.Ready = false }
func netUnavailable(n *announce.Node) { n.NetworkUnavailable = true }
func label(k, v string) func(*announce.Node) {
	return func(n *announce.Node) { n.Labels[k] = v }
}

func live(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func pool(name string, poolLabels map[string]string, cidrs ...string) announce.Pool {
	p := announce.Pool{Name: name, Labels: poolLabels}
	for _, c := range cidrs {
		pf := netip.MustParsePrefix(c).Masked()
		p.Ranges = append(p.Ranges, announce.Range{First: pf.Addr(), Last: lastAddr(pf), Entry: c})
	}
	return p
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func svc(key string, ips ...netip.Addr) announce.Service {
	return announce.Service{Key: key, IPs: ips}
}

func local(s announce.Service, endpointNodes ...string) announce.Service {
	s.Local = true
	s.EndpointNodes = endpointNodes
	return s
}

func sel(k, v string) labels.Selector { return labels.SelectorFromSet(labels.Set{k: v}) }

// hrw is an independent statement of the documented rule: the node with the
// highest sha256(node + "#" + ip) wins.
func hrw(ip netip.Addr, nodes ...string) string {
	var best string
	var bestScore []byte
	for _, n := range nodes {
		s := sha256.Sum256([]byte(n + "#" + ip.String()))
		if best == "" || bytes.Compare(s[:], bestScore) > 0 {
			best, bestScore = n, s[:]
		}
	}
	return best
}

func baseInput() announce.Input {
	return announce.Input{
		Nodes: []announce.Node{node("n1"), node("n2"), node("n3")},
		Live:  live("n1", "n2", "n3"),
		Pools: []announce.Pool{
			pool("lan", map[string]string{"tier": "lan"}, "192.0.2.0/24", "2001:db8::/64"),
			pool("dmz", map[string]string{"tier": "dmz"}, "198.51.100.0/24"),
		},
		L2Advertisements: []announce.L2Advertisement{{Name: "all"}},
	}
}

type l2Want map[netip.Addr]announce.L2Announcement

func TestComputeL2(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*announce.Input)
		want   l2Want
	}{{
		name:   "all nodes equal: the highest hash wins",
		modify: func(in *announce.Input) { in.Services = []announce.Service{svc("ns/a", v4a)} },
		want:   l2Want{v4a: {Node: hrw(v4a, "n1", "n2", "n3"), Services: []string{"ns/a"}}},
	}, {
		name: "dual-stack: each family elects its own owner",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{svc("ns/a", v4a, v6a)}
		},
		want: l2Want{
			v4a: {Node: hrw(v4a, "n1", "n2", "n3"), Services: []string{"ns/a"}},
			v6a: {Node: hrw(v6a, "n1", "n2", "n3"), Services: []string{"ns/a"}},
		},
	}, {
		name: "not Ready, NetworkUnavailable and excluded nodes never announce",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{
				node("n1", notReady), node("n2", netUnavailable),
				node("n3", label(announce.ExcludeLabel, "")), node("n4"),
			}
			in.Live = live("n1", "n2", "n3", "n4")
			in.Services = []announce.Service{svc("ns/a", v4a, v6a)}
		},
		want: l2Want{
			v4a: {Node: "n4", Services: []string{"ns/a"}},
			v6a: {Node: "n4", Services: []string{"ns/a"}},
		},
	}, {
		name: "a node whose speaker is dead does not announce",
		modify: func(in *announce.Input) {
			in.Live = live("n2")
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{v4a: {Node: "n2", Services: []string{"ns/a"}}},
	}, {
		name: "no eligible node: nothing announces",
		modify: func(in *announce.Input) {
			in.Live = live()
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{},
	}, {
		name: "nodeSelectors limit the candidates",
		modify: func(in *announce.Input) {
			in.Nodes[2] = node("n3", label("edge", "true"))
			in.L2Advertisements = []announce.L2Advertisement{{
				Name: "edge", NodeSelectors: []labels.Selector{sel("edge", "true")},
			}}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{v4a: {Node: "n3", Services: []string{"ns/a"}}},
	}, {
		name: "Local: only a node with a ready endpoint announces",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{local(svc("ns/a", v4a), "n2")}
		},
		want: l2Want{v4a: {Node: "n2", Services: []string{"ns/a"}}},
	}, {
		name: "Local: endpoints on several nodes, the hash picks among them",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{local(svc("ns/a", v4a), "n1", "n3")}
		},
		want: l2Want{v4a: {Node: hrw(v4a, "n1", "n3"), Services: []string{"ns/a"}}},
	}, {
		name: "Local: no endpoint, nothing announces",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{local(svc("ns/a", v4a))}
		},
		want: l2Want{},
	}, {
		name: "Local: endpoint only on an ineligible node, nothing announces",
		modify: func(in *announce.Input) {
			in.Nodes[1] = node("n2", notReady)
			in.Services = []announce.Service{local(svc("ns/a", v4a), "n2", "elsewhere")}
		},
		want: l2Want{},
	}, {
		name: "sharing key under Local: same pods, same node, both services listed",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{
				local(svc("ns/web-https", v4a), "n2"),
				local(svc("ns/web-http", v4a), "n2"),
			}
		},
		want: l2Want{v4a: {Node: "n2", Services: []string{"ns/web-http", "ns/web-https"}}},
	}, {
		name: "sharing: an address is announced where any of its services would announce it",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{
				local(svc("ns/x", v4a), "n1"),
				local(svc("ns/y", v4a), "n3"),
			}
		},
		want: l2Want{v4a: {Node: hrw(v4a, "n1", "n3"), Services: []string{"ns/x", "ns/y"}}},
	}, {
		name: "sharing with a Cluster service: every eligible node is a candidate",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{local(svc("ns/x", v4a)), svc("ns/y", v4a)}
		},
		want: l2Want{v4a: {Node: hrw(v4a, "n1", "n2", "n3"), Services: []string{"ns/x", "ns/y"}}},
	}, {
		name: "advertisement naming another pool does not announce",
		modify: func(in *announce.Input) {
			in.L2Advertisements = []announce.L2Advertisement{{
				Name: "dmz-only", Pools: announce.PoolSelector{Names: []string{"dmz"}},
			}}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{},
	}, {
		name: "pool selected by label",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.L2Advertisements = []announce.L2Advertisement{{
				Name:  "by-label",
				Pools: announce.PoolSelector{Selectors: []labels.Selector{sel("tier", "lan")}},
			}}
			in.Services = []announce.Service{svc("ns/a", v4a), svc("ns/b", netip.MustParseAddr("198.51.100.5"))}
		},
		want: l2Want{v4a: {Node: "n1", Services: []string{"ns/a"}}},
	}, {
		name: "no advertisement: nothing announces",
		modify: func(in *announce.Input) {
			in.L2Advertisements = nil
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{},
	}, {
		name: "address outside every pool: the recorded pool decides",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			s1 := svc("ns/recorded", off)
			s1.Pool = "lan"
			in.Services = []announce.Service{s1, svc("ns/unknown", netip.MustParseAddr("203.0.113.8"))}
		},
		want: l2Want{off: {Node: "n1", Services: []string{"ns/recorded"}}},
	}, {
		name: "the recorded pool holds its address, though a pool sorting first contains it too",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			overlapping := pool("aaa", nil, "192.0.2.0/28")
			overlapping.NotReady = true
			in.Pools = append(in.Pools, overlapping)
			in.L2Advertisements = []announce.L2Advertisement{{Name: "lan", Pools: announce.PoolSelector{Names: []string{"lan"}}}}
			s1 := svc("ns/a", v4a)
			s1.Pool = "lan"
			in.Services = []announce.Service{s1}
		},
		want: l2Want{v4a: {Node: "n1", Services: []string{"ns/a"}}},
	}, {
		name: "a pool that is not Ready claims no address, recorded or not",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			overlapping := pool("aaa", nil, "192.0.2.0/28")
			overlapping.NotReady = true
			in.Pools = append(in.Pools, overlapping)
			in.L2Advertisements = []announce.L2Advertisement{{Name: "aaa", Pools: announce.PoolSelector{Names: []string{"aaa"}}}}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{},
	}, {
		name: "a pool that is not Ready keeps the addresses recorded from it",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.Pools[0].NotReady = true // lan: invalid after an edit, its Services keep their addresses
			s1 := svc("ns/a", v4a)
			s1.Pool = "lan"
			in.Services = []announce.Service{s1}
		},
		want: l2Want{v4a: {Node: "n1", Services: []string{"ns/a"}}},
	}, {
		name: "interfaces: union of the advertisements admitting the winner",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.L2Advertisements = []announce.L2Advertisement{
				{Name: "a", Interfaces: []string{"eth1", "eth0"}},
				{Name: "b", Interfaces: []string{"eth0", "bond0"}},
			}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{v4a: {Node: "n1", Interfaces: []string{"bond0", "eth0", "eth1"}, Services: []string{"ns/a"}}},
	}, {
		name: "interfaces: an automatic advertisement makes the answer automatic",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1")}
			in.L2Advertisements = []announce.L2Advertisement{
				{Name: "a", Interfaces: []string{"eth1"}},
				{Name: "auto"},
			}
			in.Services = []announce.Service{svc("ns/a", v4a)}
		},
		want: l2Want{v4a: {Node: "n1", Services: []string{"ns/a"}}},
	}, {
		name: "several advertisements: candidates are the union of their node sets, interfaces per winner",
		modify: func(in *announce.Input) {
			in.Nodes = []announce.Node{node("n1", label("rack", "a")), node("n2", label("rack", "b")), node("n3")}
			in.L2Advertisements = []announce.L2Advertisement{
				{Name: "rack-a", NodeSelectors: []labels.Selector{sel("rack", "a")}, Interfaces: []string{"eth0"}},
				{Name: "rack-b", NodeSelectors: []labels.Selector{sel("rack", "b")}, Interfaces: []string{"eth1"}},
			}
			in.Services = []announce.Service{svc("ns/a", v4a), svc("ns/b", v4b)}
		},
		want: func() l2Want {
			ifs := map[string][]string{"n1": {"eth0"}, "n2": {"eth1"}}
			w := l2Want{}
			for key, ip := range map[string]netip.Addr{"ns/a": v4a, "ns/b": v4b} {
				n := hrw(ip, "n1", "n2")
				w[ip] = announce.L2Announcement{Node: n, Interfaces: ifs[n], Services: []string{key}}
			}
			return w
		}(),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			tc.modify(&in)
			got := announce.Compute(in)
			if diff := cmp.Diff(map[netip.Addr]announce.L2Announcement(tc.want), got.L2, cmpAddrs); diff != "" {
				t.Errorf("L2 decision (-want +got):\n%s", diff)
			}
		})
	}
}

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
			for ip, a := range got.BGP {
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

func TestL2OwnedIsThisNodesShare(t *testing.T) {
	in := baseInput()
	in.L2Advertisements = []announce.L2Advertisement{{Name: "eth", Interfaces: []string{"eth0"}}}
	in.Services = []announce.Service{svc("ns/a", v4a), svc("ns/b", v4b), svc("ns/c", v6a)}
	res := announce.Compute(in)

	union := map[netip.Addr][]string{}
	for _, n := range []string{"n1", "n2", "n3"} {
		for ip, ifs := range res.L2Owned(n) {
			if _, dup := union[ip]; dup {
				t.Errorf("%s owned by two nodes", ip)
			}
			union[ip] = ifs
			if want := hrw(ip, "n1", "n2", "n3"); want != n {
				t.Errorf("%s owned by %s, want %s", ip, n, want)
			}
		}
	}
	want := map[netip.Addr][]string{v4a: {"eth0"}, v4b: {"eth0"}, v6a: {"eth0"}}
	if diff := cmp.Diff(want, union, cmpAddrs); diff != "" {
		t.Errorf("owned addresses over all nodes (-want +got):\n%s", diff)
	}
}

func TestMatchedPools(t *testing.T) {
	pools := baseInput().Pools
	tests := []struct {
		name string
		sel  announce.PoolSelector
		want []string
	}{
		{name: "empty selects every pool", sel: announce.PoolSelector{}, want: []string{"lan", "dmz"}},
		{name: "by name", sel: announce.PoolSelector{Names: []string{"dmz", "missing"}}, want: []string{"dmz"}},
		{name: "by label", sel: announce.PoolSelector{Selectors: []labels.Selector{sel("tier", "lan")}}, want: []string{"lan"}},
		{name: "name or label", sel: announce.PoolSelector{
			Names: []string{"dmz"}, Selectors: []labels.Selector{sel("tier", "lan")},
		}, want: []string{"lan", "dmz"}},
		{name: "selector matching nothing", sel: announce.PoolSelector{Selectors: []labels.Selector{labels.Nothing()}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.sel.MatchedPools(pools)); diff != "" {
				t.Errorf("matched pools (-want +got):\n%s", diff)
			}
		})
	}
}

// manyIPs returns n distinct documentation addresses, half IPv4 (three /24s
// hold at most 768) and half IPv6.
func manyIPs(n int) []netip.Addr {
	var out []netip.Addr
	v4 := []netip.Addr{
		netip.MustParseAddr("192.0.2.0"),
		netip.MustParseAddr("198.51.100.0"),
		netip.MustParseAddr("203.0.113.0"),
	}
	for i := 0; len(out) < n/2; i++ {
		b := v4[i/256].As4()
		b[3] = byte(i % 256)
		out = append(out, netip.AddrFrom4(b))
	}
	v6 := netip.MustParseAddr("2001:db8::")
	for len(out) < n {
		v6 = v6.Next()
		out = append(out, v6)
	}
	return out
}

func manyServices(ips []netip.Addr) []announce.Service {
	svcs := make([]announce.Service, len(ips))
	for i, ip := range ips {
		svcs[i] = svc(fmt.Sprintf("ns/s%d", i), ip)
	}
	return svcs
}

func allPoolsInput(nodes []string, ips []netip.Addr) announce.Input {
	in := announce.Input{
		Live: live(nodes...),
		Pools: []announce.Pool{pool("docs", nil,
			"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")},
		Services:          manyServices(ips),
		L2Advertisements:  []announce.L2Advertisement{{Name: "all"}},
		BGPAdvertisements: []announce.BGPAdvertisement{{Name: "all"}},
	}
	for _, n := range nodes {
		in.Nodes = append(in.Nodes, node(n))
	}
	return in
}

func owners(r announce.Result) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for ip, a := range r.L2 {
		out[ip] = a.Node
	}
	return out
}

// Adding a node moves only the addresses the new node wins; removing one moves
// only the addresses it held. Every speaker computes the same answer whatever
// order it lists objects in.
func TestRendezvousStability(t *testing.T) {
	ips := manyIPs(1000)
	before := owners(announce.Compute(allPoolsInput([]string{"n1", "n2", "n3"}, ips)))
	if len(before) != len(ips) {
		t.Fatalf("%d of %d addresses announced", len(before), len(ips))
	}

	t.Run("node added", func(t *testing.T) {
		after := owners(announce.Compute(allPoolsInput([]string{"n1", "n2", "n3", "n4"}, ips)))
		moved := 0
		for ip, o := range after {
			if o != before[ip] {
				moved++
				if o != "n4" {
					t.Errorf("%s moved from %s to %s, not to the new node", ip, before[ip], o)
				}
			}
		}
		// About a quarter should move; zero would mean the new node is ignored.
		if moved == 0 || moved == len(ips) {
			t.Errorf("%d of %d addresses moved to the new node", moved, len(ips))
		}
	})

	t.Run("node removed", func(t *testing.T) {
		after := owners(announce.Compute(allPoolsInput([]string{"n1", "n3"}, ips)))
		for ip, o := range after {
			if before[ip] != "n2" && o != before[ip] {
				t.Errorf("%s moved from %s to %s although its owner stayed", ip, before[ip], o)
			}
		}
	})

	t.Run("input order does not matter", func(t *testing.T) {
		in := allPoolsInput([]string{"n3", "n1", "n2"}, ips)
		r := rand.New(rand.NewPCG(1, 2))
		r.Shuffle(len(in.Services), func(i, j int) { in.Services[i], in.Services[j] = in.Services[j], in.Services[i] })
		if diff := cmp.Diff(before, owners(announce.Compute(in)), cmpAddrs); diff != "" {
			t.Errorf("owners differ with shuffled input (-want +got):\n%s", diff)
		}
	})

	t.Run("balance", func(t *testing.T) {
		count := map[string]int{}
		for _, o := range before {
			count[o]++
		}
		for _, n := range []string{"n1", "n2", "n3"} {
			// Expected 333 each; 250 is far outside chance for a uniform hash.
			if count[n] < 250 {
				t.Errorf("node %s owns %d of 1000 addresses: %v", n, count[n], count)
			}
		}
	})
}

func TestWinner(t *testing.T) {
	if _, ok := announce.Winner(v4a, nil); ok {
		t.Error("Winner over no nodes reported a winner")
	}
	got, _ := announce.Winner(v4a, []string{"n3", "n1", "n2"})
	if want := hrw(v4a, "n1", "n2", "n3"); got != want {
		t.Errorf("Winner = %s, want %s", got, want)
	}
}

// BenchmarkCompute5000x3 is the decision every speaker makes on each change
// with 5,000 services on 3 nodes.
func BenchmarkCompute5000x3(b *testing.B) {
	for _, policy := range []string{"Cluster", "Local"} {
		b.Run(policy, func(b *testing.B) {
			ips := append(manyIPs(600), extraV6(4400)...)
			in := allPoolsInput([]string{"n1", "n2", "n3"}, ips)
			if policy == "Local" {
				for i := range in.Services {
					in.Services[i] = local(in.Services[i], []string{"n1", "n2", "n3"}[i%3])
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				r := announce.Compute(in)
				_ = r.L2Owned("n1")
				_ = r.Routes("n1")
			}
		})
	}
}

func extraV6(n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	a := netip.MustParseAddr("2001:db8:1::")
	for range n {
		a = a.Next()
		out = append(out, a)
	}
	return out
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
	rng := announce.Pool{Name: "range", Ranges: []announce.Range{{
		First: netip.MustParseAddr("198.51.100.10"), Last: netip.MustParseAddr("198.51.100.20"),
	}}}
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

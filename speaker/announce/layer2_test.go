package announce_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/speaker/announce"
)

func TestComputeL2(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*announce.Input)
		want   l2Want
	}{{
		name:   "all nodes equal: the highest hash wins",
		modify: func(in *announce.Input) { in.Services = []announce.Service{svc("ns/a", v4a)} },
		want:   l2Want{v4a: {Node: "n1", Services: []string{"ns/a"}}},
	}, {
		name: "dual-stack: each family elects its own owner",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{svc("ns/a", v4a, v6a)}
		},
		want: l2Want{
			v4a: {Node: "n1", Services: []string{"ns/a"}},
			v6a: {Node: "n3", Services: []string{"ns/a"}},
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
		want: l2Want{v4a: {Node: "n1", Services: []string{"ns/a"}}},
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
		want: l2Want{v4a: {Node: "n1", Services: []string{"ns/x", "ns/y"}}},
	}, {
		name: "sharing with a Cluster service: every eligible node is a candidate",
		modify: func(in *announce.Input) {
			in.Services = []announce.Service{local(svc("ns/x", v4a)), svc("ns/y", v4a)}
		},
		want: l2Want{v4a: {Node: "n1", Services: []string{"ns/x", "ns/y"}}},
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
		// By the winner vector: 192.0.2.10 goes to n1, 192.0.2.11 to n2.
		want: l2Want{
			v4a: {Node: "n1", Interfaces: []string{"eth0"}, Services: []string{"ns/a"}},
			v4b: {Node: "n2", Interfaces: []string{"eth1"}, Services: []string{"ns/b"}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			tc.modify(&in)
			got := announce.Compute(in)
			if diff := cmp.Diff(map[netip.Addr]announce.L2Announcement(tc.want), got.L2Map(), cmpAddrs); diff != "" {
				t.Errorf("L2 decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestL2OwnedIsThisNodesShare(t *testing.T) {
	in := baseInput()
	in.L2Advertisements = []announce.L2Advertisement{{Name: "eth", Interfaces: []string{"eth0"}}}
	in.Services = []announce.Service{svc("ns/a", v4a), svc("ns/b", v4b), svc("ns/c", v6a)}
	res := announce.Compute(in)

	// By the winner vector.
	winners := map[netip.Addr]string{v4a: "n1", v4b: "n2", v6a: "n3"}
	union := map[netip.Addr][]string{}
	for _, n := range []string{"n1", "n2", "n3"} {
		for ip, ifs := range res.L2Owned(n) {
			if _, dup := union[ip]; dup {
				t.Errorf("%s owned by two nodes", ip)
			}
			union[ip] = ifs
			if want := winners[ip]; want != n {
				t.Errorf("%s owned by %s, want %s", ip, n, want)
			}
		}
	}
	want := map[netip.Addr][]string{v4a: {"eth0"}, v4b: {"eth0"}, v6a: {"eth0"}}
	if diff := cmp.Diff(want, union, cmpAddrs); diff != "" {
		t.Errorf("owned addresses over all nodes (-want +got):\n%s", diff)
	}
}

// The owner of an address answers under the advertisements that select both
// it and the address's pool, named in input order: their status is where a
// problem announcing the address shows.
func TestL2Advertisements(t *testing.T) {
	in := baseInput()
	in.Nodes = []announce.Node{node("n1", label("rack", "r1"))}
	in.Live = live("n1")
	in.L2Advertisements = []announce.L2Advertisement{
		{Name: "lan-b", Pools: announce.PoolSelector{Names: []string{"lan"}}},
		{Name: "dmz", Pools: announce.PoolSelector{Names: []string{"dmz"}}},
		{Name: "other-rack", NodeSelectors: []labels.Selector{sel("rack", "r2")}},
		{Name: "all"},
	}
	in.Services = []announce.Service{svc("ns/a", v4a)}
	res := announce.Compute(in)
	if diff := cmp.Diff([]string{"lan-b", "all"}, res.L2Advertisements(v4a)); diff != "" {
		t.Errorf("advertisements of %s (-want +got):\n%s", v4a, diff)
	}
	if got := res.L2Advertisements(v4b); got != nil {
		t.Errorf("advertisements of an address nobody announces: %v", got)
	}
}

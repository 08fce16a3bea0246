package announce_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/speaker/announce"
)

// Random clusters for TestDeciderMatchesCompute: a few nodes, pools and
// advertisements drawn so that the rules' corners meet often (overlapping
// and not-Ready pools, aggregation that must be refused, shared addresses,
// Local services, addresses in no pool).

var randNodeNames = []string{"n0", "n1", "n2", "n3", "n4", "n5"}

// randAddrs are the addresses Services draw from: few, so that they share
// them, in the entries of randEntries and outside them; one is IPv4-mapped
// (the same address as 192.0.2.5) and one is invalid.
var randAddrs = []netip.Addr{
	netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.5"),
	netip.MustParseAddr("192.0.2.12"), netip.MustParseAddr("192.0.2.127"),
	netip.MustParseAddr("192.0.2.130"), netip.MustParseAddr("192.0.2.200"),
	netip.MustParseAddr("198.51.100.3"), netip.MustParseAddr("198.51.100.17"),
	netip.MustParseAddr("198.51.100.100"), netip.MustParseAddr("2001:db8::1"),
	netip.MustParseAddr("2001:db8::ff"), netip.MustParseAddr("2001:db8::1:5"),
	netip.MustParseAddr("2001:db8:1::2"), netip.MustParseAddr("203.0.113.7"),
	netip.MustParseAddr("::ffff:192.0.2.5"), {},
}

// randEntries overlap one another; the ranges that are no prefix make an
// aggregation length shorter than the address refused.
var randEntries = []string{
	"192.0.2.0/25", "192.0.2.0/24", "192.0.2.128/26", "192.0.2.10-192.0.2.20",
	"198.51.100.0/24", "198.51.100.16/28", "2001:db8::/120", "2001:db8::/64",
	"2001:db8:1::1-2001:db8:1::6",
}

func pick[T any](r *rand.Rand, from []T) T { return from[r.IntN(len(from))] }

// some returns a random subset of from, in its order.
func some[T any](r *rand.Rand, from []T, p float64) []T {
	var out []T
	for _, x := range from {
		if r.Float64() < p {
			out = append(out, x)
		}
	}
	return out
}

func randCluster(r *rand.Rand) announce.Cluster {
	c := announce.Cluster{
		Nodes:             randNodes(r),
		Live:              randLive(r),
		Pools:             randPools(r),
		L2Advertisements:  randL2(r),
		BGPAdvertisements: randBGP(r),
		WinnerVersion:     pick(r, []announce.WinnerVersion{0, announce.WinnerV1, announce.WinnerV2}),
		Eligibility:       announce.Eligibility{IgnoreExcludeLabel: r.IntN(4) == 0},
	}
	return c
}

func randNodes(r *rand.Rand) []announce.Node {
	var out []announce.Node
	for _, name := range some(r, randNodeNames, 0.8) {
		n := announce.Node{
			Name:               name,
			Labels:             map[string]string{"zone": pick(r, []string{"a", "b"})},
			Ready:              r.IntN(6) != 0,
			NetworkUnavailable: r.IntN(10) == 0,
		}
		if r.IntN(8) == 0 {
			n.Labels[announce.ExcludeLabel] = ""
		}
		out = append(out, n)
	}
	return out
}

// randLive names some nodes, and sometimes one that is not in Nodes.
func randLive(r *rand.Rand) map[string]bool {
	m := map[string]bool{}
	for _, n := range some(r, append(slices.Clone(randNodeNames), "n9"), 0.75) {
		m[n] = true
	}
	return m
}

func randPools(r *rand.Rand) []announce.Pool {
	var out []announce.Pool
	for i := range 1 + r.IntN(4) {
		p := announce.Pool{
			Name:     fmt.Sprintf("p%d", i),
			Labels:   map[string]string{"tier": pick(r, []string{"lan", "dmz"})},
			NotReady: r.IntN(4) == 0,
		}
		for _, text := range some(r, randEntries, 0.25) {
			rg, err := iprange.Parse(text)
			if err != nil {
				panic(err)
			}
			p.Entries = append(p.Entries, announce.Entry{Range: rg, Text: text})
		}
		out = append(out, p)
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func randPoolSelector(r *rand.Rand) announce.PoolSelector {
	var s announce.PoolSelector
	switch r.IntN(3) {
	case 0:
		s.Names = some(r, []string{"p0", "p1", "p2", "p3"}, 0.5)
	case 1:
		s.Selectors = []labels.Selector{sel("tier", pick(r, []string{"lan", "dmz"}))}
	}
	return s
}

func randNodeSelectors(r *rand.Rand) []labels.Selector {
	if r.IntN(2) == 0 {
		return nil
	}
	return []labels.Selector{sel("zone", pick(r, []string{"a", "b"}))}
}

func randL2(r *rand.Rand) []announce.L2Advertisement {
	var out []announce.L2Advertisement
	for i := range r.IntN(4) {
		out = append(out, announce.L2Advertisement{
			Name:          fmt.Sprintf("l2-%d", i),
			Pools:         randPoolSelector(r),
			NodeSelectors: randNodeSelectors(r),
			Interfaces:    some(r, []string{"eth0", "eth1"}, 0.4),
		})
	}
	return out
}

func randBGP(r *rand.Rand) []announce.BGPAdvertisement {
	var out []announce.BGPAdvertisement
	lengths := []*int32{nil, ptr.To[int32](24), ptr.To[int32](28), ptr.To[int32](30), ptr.To[int32](32)}
	lengthsV6 := []*int32{nil, ptr.To[int32](64), ptr.To[int32](124), ptr.To[int32](128)}
	for i := range r.IntN(4) {
		a := announce.BGPAdvertisement{
			Name:                fmt.Sprintf("bgp-%d", i),
			Pools:               randPoolSelector(r),
			NodeSelectors:       randNodeSelectors(r),
			Peers:               some(r, []string{"up1", "up2"}, 0.3),
			AggregationLength:   pick(r, lengths),
			AggregationLengthV6: pick(r, lengthsV6),
			Communities:         some(r, []string{"64512:1", "no-export", "large:64512:1:2"}, 0.3),
		}
		if r.IntN(2) == 0 {
			a.LocalPref = ptr.To(uint32(r.IntN(3) * 100))
		}
		out = append(out, a)
	}
	return out
}

func randService(r *rand.Rand) announce.Service {
	s := announce.Service{
		Key:  fmt.Sprintf("ns/s%02d", r.IntN(25)),
		IPs:  some(r, randAddrs, 0.1),
		Pool: pick(r, []string{"", "p0", "p1", "p2", "p3", "gone"}),
	}
	if len(s.IPs) == 0 {
		s.IPs = []netip.Addr{pick(r, randAddrs)}
	}
	if r.IntN(3) == 0 {
		s.Local = true
		s.EndpointNodes = some(r, append(slices.Clone(randNodeNames), "n9"), 0.3)
	}
	return s
}

// mutateCluster changes one part of c: anything but Live.
func mutateCluster(r *rand.Rand, c announce.Cluster) announce.Cluster {
	switch r.IntN(7) {
	case 0:
		c.Nodes = randNodes(r)
	case 1:
		c.Pools = randPools(r)
	case 2:
		c.L2Advertisements = randL2(r)
	case 3:
		c.BGPAdvertisements = randBGP(r)
	case 4:
		c.WinnerVersion = pick(r, []announce.WinnerVersion{announce.WinnerV1, announce.WinnerV2})
	case 5:
		c.Eligibility.IgnoreExcludeLabel = !c.Eligibility.IgnoreExcludeLabel
	default:
		// One node's labels change, the slice being new as the
		// caller's contract asks.
		c.Nodes = slices.Clone(c.Nodes)
		if len(c.Nodes) > 0 {
			i := r.IntN(len(c.Nodes))
			c.Nodes[i].Labels = map[string]string{"zone": pick(r, []string{"a", "b"})}
		}
	}
	return c
}

// toggleLive returns a copy of live with one or two nodes joining or leaving.
func toggleLive(r *rand.Rand, live map[string]bool) map[string]bool {
	out := map[string]bool{}
	for n, ok := range live {
		out[n] = ok
	}
	for range 1 + r.IntN(2) {
		n := pick(r, randNodeNames)
		if out[n] {
			delete(out, n)
		} else {
			out[n] = true
		}
	}
	return out
}

// equalCopy is c with every slice and Live copied: equal, not the same.
func equalCopy(c announce.Cluster) announce.Cluster {
	c.Nodes = slices.Clone(c.Nodes)
	c.Pools = slices.Clone(c.Pools)
	c.L2Advertisements = slices.Clone(c.L2Advertisements)
	c.BGPAdvertisements = slices.Clone(c.BGPAdvertisements)
	c.Live = maps.Clone(c.Live)
	return c
}

// Package decisiontest makes sequences of decisions, as the speaker hands
// them to its protocols, for the protocols' tests: random Service changes,
// speakers leaving and joining, and now and then a change of the cluster
// that recomputes everything, decided by an announce.Decider so that
// Changed is what the speaker passes on.
package decisiontest

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// Nodes are the cluster's nodes; n1 and n2 are in zone a, the others in b.
var Nodes = []string{"n1", "n2", "n3", "n4"}

var addrs = []netip.Addr{
	netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
	netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.17"),
	netip.MustParseAddr("192.0.2.130"), netip.MustParseAddr("2001:db8::1"),
	netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::80"),
}

// Options shape the cluster.
type Options struct {
	// Aggregate makes one BGPAdvertisement aggregate into /28 and /124.
	Aggregate bool
}

// Sequence returns steps decisions for node, from the seed: the first
// with All, each later one with the Changed of the Decider (All when it
// recomputed everything).
func Sequence(seed uint64, node string, steps int, o Options) []protocol.Decision {
	r := rand.New(rand.NewPCG(seed, 0x5e))
	c := cluster(o)
	d := announce.NewDecider()
	d.SetCluster(c)
	var out []protocol.Decision
	for step := range steps {
		if step > 0 {
			for range 1 + r.IntN(3) {
				c = change(r, d, c, o)
			}
		}
		res := d.Decide()
		changed, all := d.Changed()
		in := d.Input()
		dec := protocol.Decision{Node: node, Input: in, Result: res, All: all || step == 0}
		if !dec.All {
			dec.Changed = changed
		}
		out = append(out, dec)
	}
	return out
}

// WithAll returns decisions as a speaker that recomputes everything each
// time would hand them: All set, nothing listed.
func WithAll(ds []protocol.Decision) []protocol.Decision {
	out := make([]protocol.Decision, len(ds))
	for i, d := range ds {
		d.All, d.Changed, d.ChangedServices = true, nil, nil
		out[i] = d
	}
	return out
}

func cluster(o Options) announce.Cluster {
	c := announce.Cluster{Live: map[string]bool{}, WinnerVersion: announce.WinnerV2}
	for i, n := range Nodes {
		zone := "a"
		if i >= 2 {
			zone = "b"
		}
		c.Nodes = append(c.Nodes, announce.Node{Name: n, Ready: true, Labels: map[string]string{"zone": zone}})
		c.Live[n] = true
	}
	var entries []announce.Entry
	for _, e := range []string{"192.0.2.0/24", "2001:db8::/120"} {
		rg, err := iprange.Parse(e)
		if err != nil {
			panic(err)
		}
		entries = append(entries, announce.Entry{Range: rg, Text: e})
	}
	c.Pools = []announce.Pool{{Name: "lan", Entries: entries}}
	zoneA := labels.SelectorFromSet(labels.Set{"zone": "a"})
	c.L2Advertisements = []announce.L2Advertisement{
		{Name: "eth", Interfaces: []string{"eth0"}, NodeSelectors: []labels.Selector{zoneA}},
		{Name: "bond", Interfaces: []string{"bond0"}},
	}
	c.BGPAdvertisements = []announce.BGPAdvertisement{
		{Name: "up", Peers: []string{"r1"}, Communities: []string{"64512:1"}, NodeSelectors: []labels.Selector{zoneA}},
		{Name: "all", LocalPref: ptr.To[uint32](100), Communities: []string{"no-export"}},
	}
	if o.Aggregate {
		c.BGPAdvertisements[1].AggregationLength = ptr.To[int32](28)
		c.BGPAdvertisements[1].AggregationLengthV6 = ptr.To[int32](124)
	}
	return c
}

// change makes one random change to d, whose cluster is c, and returns
// the cluster now.
func change(r *rand.Rand, d *announce.Decider, c announce.Cluster, o Options) announce.Cluster {
	switch op := r.IntN(20); {
	case op < 11:
		d.SetService(service(r))
	case op < 15:
		d.DeleteService(fmt.Sprintf("ns/s%d", r.IntN(10)))
	case op < 19:
		c.Live = maps.Clone(c.Live)
		n := Nodes[r.IntN(len(Nodes))]
		c.Live[n] = !c.Live[n]
		d.SetCluster(c)
	default:
		// A structural change: every address is decided again.
		next := cluster(o)
		next.Live = c.Live
		if r.IntN(2) == 0 {
			next.L2Advertisements = next.L2Advertisements[1:]
		}
		c = next
		d.SetCluster(c)
	}
	return c
}

func service(r *rand.Rand) announce.Service {
	s := announce.Service{Key: fmt.Sprintf("ns/s%d", r.IntN(10)), Pool: "lan", Local: r.IntN(3) == 0}
	for range 1 + r.IntN(2) {
		s.IPs = append(s.IPs, addrs[r.IntN(len(addrs))])
	}
	for _, n := range Nodes {
		if r.IntN(2) == 0 {
			s.EndpointNodes = append(s.EndpointNodes, n)
		}
	}
	return s
}

package announce

import (
	"net/netip"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/labels"
)

// Compute decides, for every address of every service, which nodes announce
// it by layer 2 and by BGP.
//
// An address shared by several services (ironlb.io/allow-shared-ip) is
// announced on a node when any of its services would announce it there. An
// address belongs to the pool recorded on its services when that pool
// contains it, else to a Ready pool containing it, else to the recorded
// pool; an address in no known pool is not announced (see homeOf).
//
// A BGPAdvertisement whose aggregation length would announce addresses
// outside an entry of a pool it announces is left out entirely and listed in
// Result.RefusedAggregation; the others are unaffected.
//
// Cost is O(addresses × candidate nodes) hash evaluations plus
// O(pools × advertisements × nodes) selector matching.
func Compute(in Input) Result {
	res, _ := newComputation(in).decideAll(groupByIP(in.Services))
	return res
}

// decideAll decides every address of byIP (each address's services, sorted
// by key). It returns the home of each address too: the Decider keeps them.
func (c *computation) decideAll(byIP map[netip.Addr][]*Service) (Result, map[netip.Addr]home) {
	homes := make(map[netip.Addr]home, len(byIP))
	for ip, users := range byIP {
		if h, ok := c.homeOf(ip, users); ok {
			homes[ip] = h
		}
	}
	res := Result{RefusedAggregation: c.refuseAggregations(holdingPools(homes))}
	w := newResultWriter(res, len(homes))
	for ip, h := range homes {
		w.set(ip, c.decide(ip, h, byIP[ip]))
	}
	return w.result(), homes
}

// computation holds what is shared by every address: eligible nodes and, per
// pool, the advertisements that match it and the nodes they admit.
type computation struct {
	nodes  []*Node // eligible, sorted by name
	pools  []Pool  // sorted by name
	byName map[string]*Pool
	l2     []L2Advertisement
	bgp    []BGPAdvertisement // without the ones refused
	plans  map[string]*poolPlan
	elect  *elector // the layer-2 election, of in.WinnerVersion
	// l2Sel and bgpSel are the eligible nodes each advertisement's
	// nodeSelectors admit, computed once for every pool it matches.
	l2Sel  map[*L2Advertisement]map[string]bool
	bgpSel map[*BGPAdvertisement]map[string]bool
}

// poolPlan is the per-pool part of the decision, computed once per pool.
type poolPlan struct {
	l2      []advNodes
	l2Nodes []string        // union of l2[*].nodes, sorted
	l2Set   map[string]bool // same as a set
	owners  map[string]l2Owner
	bgp     []advNodes
	bgpAll  []string // union of bgp[*].nodes, sorted
}

// advNodes is one advertisement and the eligible nodes its nodeSelectors admit.
type advNodes struct {
	l2    *L2Advertisement
	bgp   *BGPAdvertisement
	nodes map[string]bool
}

func newComputation(in Input) *computation {
	c := &computation{
		pools:  slices.Clone(in.Pools),
		l2:     in.L2Advertisements,
		bgp:    in.BGPAdvertisements,
		plans:  map[string]*poolPlan{},
		elect:  newElector(in.WinnerVersion),
		l2Sel:  map[*L2Advertisement]map[string]bool{},
		bgpSel: map[*BGPAdvertisement]map[string]bool{},
	}
	c.nodes = eligibleNodes(in.Nodes, in.Eligibility, in.Live)
	sort.Slice(c.pools, func(i, j int) bool { return c.pools[i].Name < c.pools[j].Name })
	c.byName = make(map[string]*Pool, len(c.pools))
	for i := range c.pools {
		c.byName[c.pools[i].Name] = &c.pools[i]
	}
	return c
}

// planFor returns the plan of pool, computing it on first use.
func (c *computation) planFor(pool *Pool) *poolPlan {
	if p, ok := c.plans[pool.Name]; ok {
		return p
	}
	p := c.buildPlan(pool)
	c.plans[pool.Name] = p
	return p
}

func (c *computation) buildPlan(pool *Pool) *poolPlan {
	p := &poolPlan{l2Set: map[string]bool{}, owners: map[string]l2Owner{}}
	bgpSet := map[string]bool{}
	for i := range c.l2 {
		a := &c.l2[i]
		if a.Pools.Matches(*pool) {
			an := advNodes{l2: a, nodes: selectedBy(c, c.l2Sel, a, a.NodeSelectors)}
			p.l2 = append(p.l2, an)
			for n := range an.nodes {
				p.l2Set[n] = true
			}
		}
	}
	for i := range c.bgp {
		a := &c.bgp[i]
		if a.Pools.Matches(*pool) {
			an := advNodes{bgp: a, nodes: selectedBy(c, c.bgpSel, a, a.NodeSelectors)}
			p.bgp = append(p.bgp, an)
			for n := range an.nodes {
				bgpSet[n] = true
			}
		}
	}
	p.l2Nodes = sortedKeys(p.l2Set)
	p.bgpAll = sortedKeys(bgpSet)
	return p
}

// selectedBy returns the eligible nodes adv's selectors sels admit,
// remembered in cache: an advertisement matching several pools selects its
// nodes once.
func selectedBy[A any](c *computation, cache map[*A]map[string]bool, adv *A, sels []labels.Selector) map[string]bool {
	if nodes, ok := cache[adv]; ok {
		return nodes
	}
	nodes := c.selectNodes(sels)
	cache[adv] = nodes
	return nodes
}

func (c *computation) selectNodes(sels []labels.Selector) map[string]bool {
	out := map[string]bool{}
	for _, n := range c.nodes {
		if nodeSelected(sels, n) {
			out[n.Name] = true
		}
	}
	return out
}

// groupByIP maps each address to the services using it, sorted by key.
func groupByIP(svcs []Service) map[netip.Addr][]*Service {
	n := 0
	for i := range svcs {
		n += len(svcs[i].IPs)
	}
	out := make(map[netip.Addr][]*Service, n)
	for i := range svcs {
		for _, ip := range svcs[i].IPs {
			if !ip.IsValid() {
				continue
			}
			ip = ip.Unmap()
			if l := out[ip]; len(l) > 0 && l[len(l)-1] == &svcs[i] {
				continue // the same address listed twice
			}
			out[ip] = append(out[ip], &svcs[i])
		}
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool { return l[i].Key < l[j].Key })
	}
	return out
}

// anyCluster reports whether one of the services of an address uses the
// Cluster traffic policy: then every node an advertisement admits may
// announce it, not only the nodes with a ready endpoint.
func anyCluster(users []*Service) bool {
	for _, s := range users {
		if !s.Local {
			return true
		}
	}
	return false
}

// endpointNodesIn returns the nodes of allowed that run a ready endpoint of
// any of the services, sorted: the candidates under the Local policy.
func endpointNodesIn(users []*Service, allowed map[string]bool) []string {
	set := map[string]bool{}
	for _, s := range users {
		for _, n := range s.EndpointNodes {
			if allowed[n] {
				set[n] = true
			}
		}
	}
	return sortedKeys(set)
}

func serviceKeys(users []*Service) []string {
	keys := make([]string, len(users))
	for i, s := range users {
		keys[i] = s.Key
	}
	return keys
}

func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys(set map[string]bool) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

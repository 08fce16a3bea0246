// Package announce decides which nodes announce each load-balancer address, as
// The README's "Which node announces" specifies: node eligibility, the Local traffic
// policy rule, one layer-2 owner per address chosen by rendezvous hashing, and
// the BGP routes each node advertises.
//
// It is pure: plain values in, plain values out, no clock, no I/O. Every
// speaker runs Compute over its own view of the cluster and, seeing the same
// objects and the same live speakers, reaches the same answer without talking
// to the others.
package announce

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
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
	c := newComputation(in)
	byIP := groupByIP(in.Services)
	homes := make(map[netip.Addr]home, len(byIP))
	for ip, users := range byIP {
		if h, ok := c.homeOf(ip, users); ok {
			homes[ip] = h
		}
	}
	res := Result{
		L2:                 make(map[netip.Addr]L2Announcement, len(byIP)),
		BGP:                make(map[netip.Addr]BGPAnnouncement, len(byIP)),
		RefusedAggregation: c.refuseAggregations(homes),
		bgpMatches:         make(map[netip.Addr]addrRoutes, len(byIP)),
	}
	for ip, h := range homes {
		users := byIP[ip]
		plan := c.planFor(h.pool)
		keys := serviceKeys(users)
		if a, ok := c.decideL2(ip, plan, users); ok {
			a.Services = keys
			res.L2[ip] = a
		}
		if matches, nodes := c.decideBGP(plan, users); len(nodes) > 0 {
			res.BGP[ip] = BGPAnnouncement{Nodes: nodes, Services: keys}
			res.bgpMatches[ip] = addrRoutes{entry: h.entry, matches: matches}
		}
	}
	return res
}

// L2Owned returns the addresses node answers for, with their interfaces, in
// the form speaker/layer2.Announcer.SetOwned takes.
func (r Result) L2Owned(node string) map[netip.Addr][]string {
	out := make(map[netip.Addr][]string, len(r.L2)/2)
	for ip, a := range r.L2 {
		if a.Node == node {
			out[ip] = a.Interfaces
		}
	}
	return out
}

// Routes returns the BGP routes node advertises, sorted by prefix then peers.
// Addresses aggregated into one prefix give one route. Advertisements that
// give the same prefix to the same peers are merged: communities are joined
// and the highest localPref is kept.
func (r Result) Routes(node string) []Route {
	type key struct {
		prefix netip.Prefix
		peers  string
	}
	templates := map[*BGPAdvertisement]Route{}
	merged := make(map[key]*Route, len(r.bgpMatches))
	for ip, ar := range r.bgpMatches {
		for _, m := range ar.matches {
			if !m.nodes[node] {
				continue
			}
			tmpl, ok := templates[m.adv]
			if !ok {
				tmpl = routeTemplate(m.adv)
				templates[m.adv] = tmpl
			}
			rt := tmpl
			rt.Prefix = prefixFor(ip, ar.entry, m.adv)
			k := key{rt.Prefix, strings.Join(rt.Peers, ",")}
			if prev, ok := merged[k]; ok {
				mergeRoute(prev, rt)
				continue
			}
			merged[k] = &rt
		}
	}
	type keyed struct {
		k  key
		rt *Route
	}
	sorted := make([]keyed, 0, len(merged))
	for k, rt := range merged {
		sorted = append(sorted, keyed{k, rt})
	}
	slices.SortFunc(sorted, func(a, b keyed) int {
		if c := a.k.prefix.Addr().Compare(b.k.prefix.Addr()); c != 0 {
			return c
		}
		if c := a.k.prefix.Bits() - b.k.prefix.Bits(); c != 0 {
			return c
		}
		return strings.Compare(a.k.peers, b.k.peers)
	})
	out := make([]Route, len(sorted))
	for i, s := range sorted {
		out[i] = *s.rt
	}
	return out
}

// Eligible reports whether n may announce anything at all: Ready, network
// available, not excluded by label, and its speaker alive.
func Eligible(n Node, live map[string]bool) bool {
	if !n.Ready || n.NetworkUnavailable || !live[n.Name] {
		return false
	}
	_, excluded := n.Labels[ExcludeLabel]
	return !excluded
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
}

// home is the pool an address belongs to and the entry of it holding the
// address (zero when none does: a pool edit is in flight).
type home struct {
	pool  *Pool
	entry Range
}

// poolPlan is the per-pool part of the decision, computed once per pool.
type poolPlan struct {
	l2      []advNodes
	l2Nodes []string        // union of l2[*].nodes, sorted
	l2Set   map[string]bool // same as a set
	ifaces  map[string][]string
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
		pools: slices.Clone(in.Pools),
		l2:    in.L2Advertisements,
		bgp:   in.BGPAdvertisements,
		plans: map[string]*poolPlan{},
	}
	for i := range in.Nodes {
		if Eligible(in.Nodes[i], in.Live) {
			c.nodes = append(c.nodes, &in.Nodes[i])
		}
	}
	sort.Slice(c.nodes, func(i, j int) bool { return c.nodes[i].Name < c.nodes[j].Name })
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

// homeOf finds the pool ip belongs to, in this order:
//
//  1. the pool the controller recorded on its services, when that pool
//     contains ip: the controller allocated ip from it, and such a pool keeps
//     its services' addresses even while an edit made it invalid or while it
//     is being deleted;
//  2. else a Ready pool containing ip: a pool that is not Ready (overlapping
//     another, unparseable, not validated yet) hands out nothing, so it must
//     never take a valid pool's address to an advertisement of its own;
//  3. else the recorded pool, without an entry: ip is in none of its ranges
//     while a pool edit is in flight, and the controller will move it.
func (c *computation) homeOf(ip netip.Addr, users []*Service) (home, bool) {
	for _, s := range users {
		if p := c.byName[s.Pool]; p != nil {
			if r, ok := p.rangeOf(ip); ok {
				return home{pool: p, entry: r}, true
			}
		}
	}
	for i := range c.pools {
		if c.pools[i].NotReady {
			continue
		}
		if r, ok := c.pools[i].rangeOf(ip); ok {
			return home{pool: &c.pools[i], entry: r}, true
		}
	}
	for _, s := range users {
		if p := c.byName[s.Pool]; p != nil {
			return home{pool: p}, true
		}
	}
	return home{}, false
}

// rangeOf returns the range of p that contains ip.
func (p *Pool) rangeOf(ip netip.Addr) (Range, bool) {
	for _, r := range p.Ranges {
		if r.Contains(ip) {
			return r, true
		}
	}
	return Range{}, false
}

// refuseAggregations leaves out of c.bgp every advertisement whose
// aggregation length would announce addresses outside an entry of a pool it
// announces, and returns why, by name. The pools checked are the Ready ones
// it selects and any it selects that holds an address (a pool kept by its
// services while invalid): a pool that is not Ready and holds nothing
// announces nothing, so it cannot make an advertisement of a valid pool go
// dark.
func (c *computation) refuseAggregations(homes map[netip.Addr]home) map[string][]*validation.AggregationError {
	holding := map[string]bool{}
	for _, h := range homes {
		holding[h.pool.Name] = true
	}
	var refused map[string][]*validation.AggregationError
	kept := make([]BGPAdvertisement, 0, len(c.bgp))
	for _, a := range c.bgp {
		if a.AggregationLength == nil && a.AggregationLengthV6 == nil {
			kept = append(kept, a) // one route per address always fits
			continue
		}
		var pools []validation.PoolEntries
		for i := range c.pools {
			p := &c.pools[i]
			if (!p.NotReady || holding[p.Name]) && a.Pools.Matches(*p) {
				pools = append(pools, p.entries())
			}
		}
		if errs := validation.CheckAggregation(a.AggregationLength, a.AggregationLengthV6, pools); len(errs) > 0 {
			if refused == nil {
				refused = map[string][]*validation.AggregationError{}
			}
			refused[a.Name] = errs
			continue
		}
		kept = append(kept, a)
	}
	c.bgp = kept
	return refused
}

func (p *Pool) entries() validation.PoolEntries {
	out := validation.PoolEntries{Name: p.Name, Entries: make([]validation.Entry, len(p.Ranges))}
	for i, r := range p.Ranges {
		out.Entries[i] = validation.Entry{Text: r.text(), First: r.First, Last: r.Last}
	}
	return out
}

// text is the entry as written, or, for a Range built without it, the
// range in the spec's notation.
func (r Range) text() string {
	if r.Entry != "" {
		return r.Entry
	}
	return r.First.String() + "-" + r.Last.String()
}

func (c *computation) buildPlan(pool *Pool) *poolPlan {
	p := &poolPlan{l2Set: map[string]bool{}, ifaces: map[string][]string{}}
	bgpSet := map[string]bool{}
	for i := range c.l2 {
		a := &c.l2[i]
		if a.Pools.Matches(*pool) {
			an := advNodes{l2: a, nodes: c.selectNodes(a.NodeSelectors)}
			p.l2 = append(p.l2, an)
			for n := range an.nodes {
				p.l2Set[n] = true
			}
		}
	}
	for i := range c.bgp {
		a := &c.bgp[i]
		if a.Pools.Matches(*pool) {
			an := advNodes{bgp: a, nodes: c.selectNodes(a.NodeSelectors)}
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

func (c *computation) selectNodes(sels []labels.Selector) map[string]bool {
	out := map[string]bool{}
	for _, n := range c.nodes {
		if nodeSelected(sels, n) {
			out[n.Name] = true
		}
	}
	return out
}

// decideL2 picks the single owner of ip among the nodes the pool's L2
// advertisements admit, restricted by the Local policy.
func (c *computation) decideL2(ip netip.Addr, p *poolPlan, users []*Service) (L2Announcement, bool) {
	if len(p.l2) == 0 {
		return L2Announcement{}, false
	}
	candidates := p.l2Nodes
	if !anyCluster(users) {
		candidates = endpointNodesIn(users, p.l2Set)
	}
	winner, ok := Winner(ip, candidates)
	if !ok {
		return L2Announcement{}, false
	}
	return L2Announcement{Node: winner, Interfaces: p.interfacesFor(winner)}, true
}

// interfacesFor joins the interfaces of the advertisements that admit node.
// One of them leaving interfaces empty ("automatic") makes the answer
// automatic: it already covers the links the others name for this address.
func (p *poolPlan) interfacesFor(node string) []string {
	if ifs, ok := p.ifaces[node]; ok {
		return ifs
	}
	set := map[string]bool{}
	auto := false
	for _, a := range p.l2 {
		if !a.nodes[node] {
			continue
		}
		if len(a.l2.Interfaces) == 0 {
			auto = true
			break
		}
		for _, i := range a.l2.Interfaces {
			set[i] = true
		}
	}
	var ifs []string
	if !auto {
		ifs = sortedKeys(set)
	}
	p.ifaces[node] = ifs
	return ifs
}

// decideBGP returns, per matching advertisement, the nodes advertising the
// address, and the union of those nodes.
func (c *computation) decideBGP(p *poolPlan, users []*Service) ([]bgpMatch, []string) {
	if len(p.bgp) == 0 {
		return nil, nil
	}
	if anyCluster(users) {
		matches := make([]bgpMatch, 0, len(p.bgp))
		for _, a := range p.bgp {
			if len(a.nodes) > 0 {
				matches = append(matches, bgpMatch{adv: a.bgp, nodes: a.nodes})
			}
		}
		return matches, p.bgpAll
	}
	var matches []bgpMatch
	all := map[string]bool{}
	for _, a := range p.bgp {
		nodes := map[string]bool{}
		for _, n := range endpointNodesIn(users, a.nodes) {
			nodes[n] = true
			all[n] = true
		}
		if len(nodes) > 0 {
			matches = append(matches, bgpMatch{adv: a.bgp, nodes: nodes})
		}
	}
	return matches, sortedKeys(all)
}

// Winner returns the node with the highest rendezvous score for ip:
// sha256(node + "#" + ip). Removing a node moves only the addresses it won;
// adding one moves only the addresses it now wins. The score is part of the
// speakers' protocol: speakers of different versions must agree on it.
func Winner(ip netip.Addr, nodes []string) (string, bool) {
	var best string
	var bestScore [sha256.Size]byte
	buf := make([]byte, 0, 64)
	for _, n := range nodes {
		buf = ip.AppendTo(append(append(buf[:0], n...), '#'))
		s := sha256.Sum256(buf)
		if best == "" || bytes.Compare(s[:], bestScore[:]) > 0 ||
			(s == bestScore && n < best) {
			best, bestScore = n, s
		}
	}
	return best, best != ""
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

func anyCluster(users []*Service) bool {
	for _, s := range users {
		if !s.Local {
			return true
		}
	}
	return false
}

// endpointNodesIn returns the nodes of allowed that run a ready endpoint of
// any of the services, sorted.
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

// prefixFor masks ip to the advertisement's aggregation length, within
// entry, the pool entry holding ip. Advertisements whose aggregates leave
// their entries were refused by Compute; what is left is an address that
// no entry of its pool holds (a pool edit in flight): its aggregate would
// cover addresses of no pool, so it is announced on its own instead.
func prefixFor(ip netip.Addr, entry Range, a *BGPAdvertisement) netip.Prefix {
	bits := ip.BitLen()
	agg := a.AggregationLength
	if ip.Is6() {
		agg = a.AggregationLengthV6
	}
	if agg != nil && int(*agg) < bits && entry.Contains(ip) {
		if _, outside := validation.AggregateOutside(entry.First, entry.Last, int(*agg)); !outside {
			bits = max(int(*agg), 0) // only an entry of the whole space takes /0
		}
	}
	prefix, _ := ip.Prefix(bits) // bits is within 0..BitLen: cannot fail
	return prefix
}

// routeTemplate holds the attributes an advertisement gives all its routes.
func routeTemplate(a *BGPAdvertisement) Route {
	rt := Route{LocalPref: a.LocalPref}
	if len(a.Peers) > 0 {
		rt.Peers = sortedUnique(a.Peers)
	}
	for _, c := range a.Communities {
		if large, ok := strings.CutPrefix(c, "large:"); ok {
			rt.LargeCommunities = append(rt.LargeCommunities, large)
		} else {
			rt.Communities = append(rt.Communities, c)
		}
	}
	rt.Communities = sortedUnique(rt.Communities)
	rt.LargeCommunities = sortedUnique(rt.LargeCommunities)
	return rt
}

func mergeRoute(into *Route, from Route) {
	into.Communities = sortedUnique(append(slices.Clone(into.Communities), from.Communities...))
	into.LargeCommunities = sortedUnique(append(slices.Clone(into.LargeCommunities), from.LargeCommunities...))
	if from.LocalPref != nil && (into.LocalPref == nil || *from.LocalPref > *into.LocalPref) {
		into.LocalPref = from.LocalPref
	}
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

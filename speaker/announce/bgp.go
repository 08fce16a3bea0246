package announce

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// bgpMatch is one advertisement matching an address and the nodes that
// advertise the address under it.
type bgpMatch struct {
	adv   *BGPAdvertisement
	nodes map[string]bool
}

// addrRoutes are the advertisements an address is advertised under and the
// pool entry holding it, which bounds its aggregates.
type addrRoutes struct {
	entry   Entry // zero when no entry of its pool holds it
	matches []bgpMatch
}

// refuseAggregations leaves out of c.bgp every advertisement that
// aggregationRefusal refuses, and returns why, by name.
func (c *computation) refuseAggregations(holding map[string]bool) map[string][]*validation.AggregationError {
	var refused map[string][]*validation.AggregationError
	kept := make([]BGPAdvertisement, 0, len(c.bgp))
	for _, a := range c.bgp {
		if errs := aggregationRefusal(c.pools, &a, holding); len(errs) > 0 {
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

// aggregationRefusals is what refuseAggregations returns, without changing
// anything: the Decider checks with it whether a Service change changed
// the refusals.
func aggregationRefusals(pools []Pool, advs []BGPAdvertisement, holding map[string]bool) map[string][]*validation.AggregationError {
	var refused map[string][]*validation.AggregationError
	for i := range advs {
		if errs := aggregationRefusal(pools, &advs[i], holding); len(errs) > 0 {
			if refused == nil {
				refused = map[string][]*validation.AggregationError{}
			}
			refused[advs[i].Name] = errs
		}
	}
	return refused
}

// aggregationRefusal returns why a's aggregation length would announce
// addresses outside an entry of a pool it announces, or nil. The pools
// checked are the Ready ones it selects and any it selects that holds an
// address (named in holding: a pool kept by its services while invalid): a
// pool that is not Ready and holds nothing announces nothing, so it cannot
// make an advertisement of a valid pool go dark. pools are sorted by name.
func aggregationRefusal(pools []Pool, a *BGPAdvertisement, holding map[string]bool) []*validation.AggregationError {
	if a.AggregationLength == nil && a.AggregationLengthV6 == nil {
		return nil // one route per address always fits
	}
	var entries []validation.PoolEntries
	for i := range pools {
		p := &pools[i]
		if (!p.NotReady || holding[p.Name]) && a.Pools.Matches(*p) {
			entries = append(entries, p.aggregationEntries())
		}
	}
	return validation.CheckAggregation(a.AggregationLength, a.AggregationLengthV6, entries)
}

// holdingPools names the pools that are the home of some address.
func holdingPools(homes map[netip.Addr]home) map[string]bool {
	holding := map[string]bool{}
	for _, h := range homes {
		holding[h.pool.Name] = true
	}
	return holding
}

// aggregationEntries are p's entries in the form the aggregation rule
// checks.
func (p *Pool) aggregationEntries() validation.PoolEntries {
	out := validation.PoolEntries{Name: p.Name, Entries: make([]validation.Entry, len(p.Entries))}
	for i, e := range p.Entries {
		out.Entries[i] = validation.Entry{Text: e.text(), First: e.First, Last: e.Last}
	}
	return out
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

// Routes returns the BGP routes node advertises, sorted by prefix then peers.
// Addresses aggregated into one prefix give one route. Advertisements that
// give the same prefix to the same peers are merged: communities are joined
// and the highest localPref is kept. O(addresses).
func (r Result) Routes(node string) []Route {
	b := newRouteBuilder(r.bgpMatches.len())
	for ip, ar := range r.bgpMatches.all() {
		b.add(ip, ar, node)
	}
	return b.sorted()
}

// RoutesAt returns the routes ip makes node advertise, merged and sorted as
// Routes merges and sorts them, as if ip were the only address: without
// aggregation they are exactly the routes of Routes(node) whose prefix is
// ip's own (a /32 or /128), so a caller that knows no advertisement
// aggregates can update one address's routes alone. With aggregation an
// address's route is an aggregate that other addresses share: use Routes.
func (r Result) RoutesAt(node string, ip netip.Addr) []Route {
	ar, ok := r.bgpMatches.get(ip)
	if !ok {
		return nil
	}
	b := newRouteBuilder(len(ar.matches))
	b.add(ip, ar, node)
	return b.sorted()
}

// routeBuilder merges the routes of addresses by prefix and peers.
type routeBuilder struct {
	templates map[*BGPAdvertisement]Route
	merged    map[routeKey]*Route
}

type routeKey struct {
	prefix netip.Prefix
	peers  string
}

func newRouteBuilder(hint int) *routeBuilder {
	return &routeBuilder{templates: map[*BGPAdvertisement]Route{}, merged: make(map[routeKey]*Route, hint)}
}

// add adds the routes node advertises for ip, whose matches are ar.
func (b *routeBuilder) add(ip netip.Addr, ar addrRoutes, node string) {
	for _, m := range ar.matches {
		if !m.nodes[node] {
			continue
		}
		tmpl, ok := b.templates[m.adv]
		if !ok {
			tmpl = routeTemplate(m.adv)
			b.templates[m.adv] = tmpl
		}
		rt := tmpl
		rt.Prefix = prefixFor(ip, ar.entry, m.adv)
		k := routeKey{rt.Prefix, strings.Join(rt.Peers, ",")}
		if prev, ok := b.merged[k]; ok {
			mergeRoute(prev, rt)
			continue
		}
		b.merged[k] = &rt
	}
}

// sorted returns the routes added, by prefix then peers.
func (b *routeBuilder) sorted() []Route {
	type key = routeKey
	merged := b.merged
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

// prefixFor masks ip to the advertisement's aggregation length, within
// entry, the pool entry holding ip. Advertisements whose aggregates leave
// their entries were refused by Compute; what is left is an address that
// no entry of its pool holds (a pool edit in flight): its aggregate would
// cover addresses of no pool, so it is announced on its own instead.
func prefixFor(ip netip.Addr, entry Entry, a *BGPAdvertisement) netip.Prefix {
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

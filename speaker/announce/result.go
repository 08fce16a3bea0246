package announce

import (
	"iter"
	"net/netip"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// Result is the decision for the whole cluster. Slices in it may be shared
// between entries: treat them as read-only. The zero Result announces
// nothing.
//
// The per-address parts are held in shards (addrTable) so that a Decider's
// next Result shares every shard it does not change: a Service change
// copies a few hundred entries, not every address. They are read through
// L2At, AllL2, LenL2 and the same for BGP; a Result is never modified once
// made, so it may be read from any goroutine.
type Result struct {
	// l2 holds, per announced address, the one node that answers for it.
	// Addresses no node may announce are absent.
	l2 addrTable[L2Announcement]
	// bgp holds, per advertised address, the nodes that advertise it.
	bgp addrTable[BGPAnnouncement]
	// RefusedAggregation holds, by name, the BGPAdvertisements that announce
	// nothing because their aggregation length would announce addresses
	// outside a pool entry, with the entries at fault.
	RefusedAggregation map[string][]*validation.AggregationError

	// l2Advertisements: per address of l2, the advertisements its owner
	// answers under (see L2Advertisements).
	l2Advertisements addrTable[[]string]
	// bgpMatches: per address of bgp, what its routes are built from (see
	// Routes).
	bgpMatches addrTable[addrRoutes]
}

// NewResult returns a Result announcing l2 and bgp, with no routes and no
// advertisements named (Routes and L2Advertisements return nothing): for
// tests and tools that need a Result of given owners and nodes. The maps
// are copied.
func NewResult(l2 map[netip.Addr]L2Announcement, bgp map[netip.Addr]BGPAnnouncement) Result {
	lw, bw := newTableWriter(addrTable[L2Announcement]{}, len(l2)), newTableWriter(addrTable[BGPAnnouncement]{}, len(bgp))
	for ip, a := range l2 {
		lw.set(ip, a)
	}
	for ip, a := range bgp {
		bw.set(ip, a)
	}
	return Result{l2: lw.table(), bgp: bw.table()}
}

// L2At returns who answers for ip at layer 2; false when nobody does.
func (r Result) L2At(ip netip.Addr) (L2Announcement, bool) { return r.l2.get(ip) }

// AllL2 yields every address announced at layer 2 with its announcement,
// in no particular order. O(addresses).
func (r Result) AllL2() iter.Seq2[netip.Addr, L2Announcement] { return r.l2.all() }

// LenL2 is the number of addresses announced at layer 2.
func (r Result) LenL2() int { return r.l2.len() }

// L2Map returns the layer-2 announcements as a new map. O(addresses): for
// tests and tools, not for the decision loop.
func (r Result) L2Map() map[netip.Addr]L2Announcement { return collect(r.l2) }

// BGPAt returns which nodes advertise ip over BGP; false when none does.
func (r Result) BGPAt(ip netip.Addr) (BGPAnnouncement, bool) { return r.bgp.get(ip) }

// AllBGP yields every address advertised over BGP with its announcement,
// in no particular order. O(addresses).
func (r Result) AllBGP() iter.Seq2[netip.Addr, BGPAnnouncement] { return r.bgp.all() }

// LenBGP is the number of addresses advertised over BGP.
func (r Result) LenBGP() int { return r.bgp.len() }

// BGPMap returns the BGP announcements as a new map. O(addresses): for
// tests and tools, not for the decision loop.
func (r Result) BGPMap() map[netip.Addr]BGPAnnouncement { return collect(r.bgp) }

// ServicesAt returns the keys of the Services using ip that r announces
// by either protocol, sorted; nil when r announces ip by neither.
func (r Result) ServicesAt(ip netip.Addr) []string {
	if a, ok := r.l2.get(ip); ok {
		return a.Services
	}
	if a, ok := r.bgp.get(ip); ok {
		return a.Services
	}
	return nil
}

func collect[V any](t addrTable[V]) map[netip.Addr]V {
	out := make(map[netip.Addr]V, t.len())
	for ip, v := range t.all() {
		out[ip] = v
	}
	return out
}

// L2Announcement says who answers ARP/NDP for an address and where.
type L2Announcement struct {
	Node string
	// Interfaces to answer on; nil = automatic (see layer2.Announcer.SetOwned).
	Interfaces []string
	// Services using the address, sorted by key.
	Services []string
}

// BGPAnnouncement says which nodes advertise an address.
type BGPAnnouncement struct {
	Nodes    []string // sorted
	Services []string // sorted keys of the services using the address
}

package announce

import (
	"net/netip"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// Result is the decision for the whole cluster. Slices in it may be shared
// between entries: treat them as read-only. The zero Result announces
// nothing.
type Result struct {
	// L2 holds, per announced address, the one node that answers for it.
	// Addresses no node may announce are absent.
	L2 map[netip.Addr]L2Announcement
	// BGP holds, per advertised address, the nodes that advertise it.
	BGP map[netip.Addr]BGPAnnouncement
	// RefusedAggregation holds, by name, the BGPAdvertisements that announce
	// nothing because their aggregation length would announce addresses
	// outside a pool entry, with the entries at fault.
	RefusedAggregation map[string][]*validation.AggregationError

	// The two unexported parts are split into shards (addrTable) so that a
	// Decider's next Result shares every shard it does not change.
	//
	// l2Advertisements: per address of L2, the advertisements its owner
	// answers under (see L2Advertisements).
	l2Advertisements addrTable[[]string]
	// bgpMatches: per address of BGP, what its routes are built from (see
	// Routes).
	bgpMatches addrTable[addrRoutes]
}

func newResult(addresses int) Result {
	return Result{
		L2:  make(map[netip.Addr]L2Announcement, addresses),
		BGP: make(map[netip.Addr]BGPAnnouncement, addresses),
	}
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

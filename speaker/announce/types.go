package announce

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// Input is everything the decision depends on. Every speaker builds it from
// its own copy of the cluster state and the live set it sees; equal inputs give
// equal results on every node.
type Input struct {
	Nodes             []Node
	Live              map[string]bool // node names whose speaker is alive (memberlist)
	Pools             []Pool
	Services          []Service
	L2Advertisements  []L2Advertisement
	BGPAdvertisements []BGPAdvertisement
}

// Node is the part of a Node object that decides eligibility.
type Node struct {
	Name               string
	Labels             map[string]string
	Ready              bool // condition Ready is True
	NetworkUnavailable bool // condition NetworkUnavailable is True
}

// ExcludeLabel keeps a node from announcing any load-balancer address, whatever
// its value (the same label kube-controller-manager's service controller honours).
const ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

// Service is a handled LoadBalancer Service with its assigned addresses.
type Service struct {
	Key string // "namespace/name"; used in results and for deterministic order
	IPs []netip.Addr
	// Pool is the pool the controller recorded (ironlb.io/ip-allocated-from-pool).
	// An address belongs to it when its ranges contain the address, or when
	// no other pool's do (see Compute).
	Pool string
	// Local is externalTrafficPolicy: Local.
	Local bool
	// EndpointNodes are the nodes running at least one ready endpoint. Only
	// read when Local is true.
	EndpointNodes []string
}

// Pool is an IPAddressPool reduced to its name, labels, address ranges and
// readiness.
type Pool struct {
	Name   string
	Labels map[string]string
	Ranges []Range
	// NotReady is set for a pool the controller does not let hold addresses
	// (invalid, overlapping another, not validated yet). It hands out
	// nothing, so it may not claim an address for itself: an address is its
	// only when the controller recorded it on the Service (see Compute).
	NotReady bool
}

// Range is an inclusive address range of one family; a CIDR is the range from
// its first to its last address.
type Range struct {
	First, Last netip.Addr
	// Entry is the spec.addresses entry as written, for messages.
	Entry string
}

// Contains reports whether ip lies in r.
func (r Range) Contains(ip netip.Addr) bool {
	return r.First.BitLen() == ip.BitLen() && r.First.Compare(ip) <= 0 && ip.Compare(r.Last) <= 0
}

// PoolSelector picks pools by name or by labels. A pool matches when it is
// named in Names or matches one of Selectors; with neither set, every pool
// matches (the README: "empty and no selectors = all pools").
type PoolSelector struct {
	Names     []string
	Selectors []labels.Selector
}

// Matches reports whether p is selected, by the rule admission applies too.
func (s PoolSelector) Matches(p Pool) bool {
	return validation.SelectsPool(s.Names, s.Selectors, p.Name, p.Labels)
}

// MatchedPools returns the names of the pools s selects, in the order given.
func (s PoolSelector) MatchedPools(pools []Pool) []string {
	var out []string
	for _, p := range pools {
		if s.Matches(p) {
			out = append(out, p.Name)
		}
	}
	return out
}

// L2Advertisement is an L2Advertisement spec with its selectors parsed.
type L2Advertisement struct {
	Name  string
	Pools PoolSelector
	// NodeSelectors: a node matches when it matches any; empty = every node.
	NodeSelectors []labels.Selector
	// Interfaces the winner answers on; empty = automatic (layer2 decides).
	Interfaces []string
}

// BGPAdvertisement is a BGPAdvertisement spec with its selectors parsed.
type BGPAdvertisement struct {
	Name          string
	Pools         PoolSelector
	NodeSelectors []labels.Selector
	Peers         []string // BGPPeer names; empty = every peer of the node
	// AggregationLength and AggregationLengthV6 are the advertised prefix
	// lengths; nil means 32 and 128 (one route per address).
	AggregationLength   *int32
	AggregationLengthV6 *int32
	LocalPref           *uint32
	// Communities are "a:b" (standard) or "large:a:b:c" (large).
	Communities []string
}

// Result is the decision for the whole cluster. Slices in it may be shared
// between entries: treat them as read-only.
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

	// routes per address, kept to build a node's routes on demand.
	bgpMatches map[netip.Addr]addrRoutes
}

// addrRoutes are the advertisements an address is advertised under and the
// pool entry holding it, which bounds its aggregates.
type addrRoutes struct {
	entry   Range // zero when no entry of its pool holds it
	matches []bgpMatch
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

// Route is one BGP route a node advertises. Fields mirror speaker/bgp.Route.
type Route struct {
	Prefix           netip.Prefix
	Peers            []string // empty = every peer of the node
	Communities      []string // "a:b"
	LargeCommunities []string // "a:b:c"
	LocalPref        *uint32
}

// bgpMatch is one advertisement matching an address and the nodes that
// advertise the address under it.
type bgpMatch struct {
	adv   *BGPAdvertisement
	nodes map[string]bool
}

func anySelectorMatches(sels []labels.Selector, l map[string]string) bool {
	set := labels.Set(l)
	for _, s := range sels {
		if s != nil && s.Matches(set) {
			return true
		}
	}
	return false
}

// nodeSelected applies the "empty = every node" rule of nodeSelectors.
func nodeSelected(sels []labels.Selector, n *Node) bool {
	return len(sels) == 0 || anySelectorMatches(sels, n.Labels)
}

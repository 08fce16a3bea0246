package announce

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/iprange"
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
	// WinnerVersion is the election every live speaker agreed on
	// (AgreedWinner); the zero value means WinnerV1.
	WinnerVersion WinnerVersion
	// Eligibility is the rule of which nodes may announce at all (the
	// speakers' --ignore-exclude-lb); the zero value excludes labelled nodes.
	Eligibility Eligibility
}

// Node is the part of a Node object that decides eligibility.
type Node struct {
	Name               string
	Labels             map[string]string
	Ready              bool // condition Ready is True
	NetworkUnavailable bool // condition NetworkUnavailable is True
}

// Service is a handled LoadBalancer Service with its assigned addresses.
type Service struct {
	Key string // "namespace/name"; used in results and for deterministic order
	IPs []netip.Addr
	// Pool is the pool the controller recorded (ironlb.io/ip-allocated-from-pool).
	// An address belongs to it when its ranges contain the address, or when
	// no other pool's do (see homeOf).
	Pool string
	// Local is externalTrafficPolicy: Local.
	Local bool
	// EndpointNodes are the nodes running at least one ready endpoint. Only
	// read when Local is true.
	EndpointNodes []string
}

// Pool is an IPAddressPool reduced to its name, labels, address entries and
// readiness.
type Pool struct {
	Name    string
	Labels  map[string]string
	Entries []Entry
	// NotReady is set for a pool the controller does not let hold addresses
	// (invalid, overlapping another, not validated yet). It hands out
	// nothing, so it may not claim an address for itself: an address is its
	// only when the controller recorded it on the Service (see homeOf).
	NotReady bool
}

// Entry is one entry of a pool's spec.addresses that parses: the addresses
// it holds and, for messages, the entry as written.
type Entry struct {
	iprange.Range
	// Text is the entry as written in the spec; "" prints the range.
	Text string
}

// text is the entry as written, or, for an Entry built without it, the
// range in the spec's notation.
func (e Entry) text() string {
	if e.Text != "" {
		return e.Text
	}
	return e.Range.String()
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

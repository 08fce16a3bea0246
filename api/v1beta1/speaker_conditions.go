package v1beta1

// Reasons of the Ready condition the speakers write on L2Advertisement and
// BGPAdvertisement (docs/api.md). ReasonInvalidSelector, shared with
// IPAddressPool, is declared beside it.
const (
	// ReasonMatched: the advertisement is usable; the message counts the
	// pools it matches (status.matchedPools names them).
	ReasonMatched = "Matched"
	// ReasonUnknownPool: spec.ipAddressPools names a pool that does not
	// exist.
	ReasonUnknownPool = "UnknownPool"
	// ReasonUnknownPeer: a BGPAdvertisement's spec.peers names a BGPPeer
	// that does not exist.
	ReasonUnknownPeer = "UnknownPeer"
	// ReasonInvalidCommunity: a community the speaker cannot announce (out
	// of range, IronLB's reserved global administrator, or an alias no
	// Community object defines: validation.ResolveCommunities); the
	// advertisement announces nothing.
	ReasonInvalidCommunity = "InvalidCommunity"
	// ReasonInvalidAggregation: an aggregation length that would announce
	// addresses outside a pool entry; the advertisement announces nothing.
	ReasonInvalidAggregation = "InvalidAggregation"
)

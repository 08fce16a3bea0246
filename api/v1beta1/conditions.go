package v1beta1

// ConditionReady is the condition type every IronLB kind with a status
// (all but Community) reports in status.conditions: on an IPAddressPool,
// True when its spec is valid and it hands out addresses; on a BGPPeer,
// L2Advertisement, BGPAdvertisement or BFDProfile, True when its spec is
// usable by the speakers. The reasons are declared beside each kind.
const ConditionReady = "Ready"

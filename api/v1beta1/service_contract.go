package v1beta1

// Names IronLB reads and writes on core/v1 Services (the README, "Service fields
// and annotations honoured").
const (
	// DefaultLoadBalancerClass is the spec.loadBalancerClass IronLB handles by default.
	DefaultLoadBalancerClass = "ironlb.io/ironlb"

	// AnnotationLoadBalancerIPs asks for exact IPs, "ip[,ip]", one per family.
	AnnotationLoadBalancerIPs = "ironlb.io/loadBalancerIPs"
	// AnnotationAddressPool asks for addresses from the named pool only.
	AnnotationAddressPool = "ironlb.io/address-pool"
	// AnnotationAllowSharedIP lets Services of one namespace with the same
	// key share an IP.
	AnnotationAllowSharedIP = "ironlb.io/allow-shared-ip"
	// AnnotationAllowSharedIPNamespaces, "ns[,ns]" or "*", lets a Service
	// share its AnnotationAllowSharedIP key with Services of other
	// namespaces. Both sides must consent: each lists the other's
	// namespace. MetalLB has no such annotation, hence no alias.
	AnnotationAllowSharedIPNamespaces = "ironlb.io/allow-shared-ip-namespaces"

	// AnnotationAllocatedFromPool is written by the controller: the pool the
	// Service's addresses came from.
	AnnotationAllocatedFromPool = "ironlb.io/ip-allocated-from-pool"

	// ConditionIPAllocated is the Service condition the controller owns.
	ConditionIPAllocated = "ironlb.io/IPAllocated"
)

// Reasons of the ironlb.io/IPAllocated condition and of AllocationFailed
// events. Every reason but Allocated is a failure of the allocator
// (controllers/allocator), which carries it in its errors.
const (
	// ReasonAllocated: the Service holds its addresses.
	ReasonAllocated = "Allocated"
	// ReasonNoMatchingPool: no pool admits the Service for the families it
	// needs, or the pool it names is missing, closed, of the wrong family or
	// does not admit it.
	ReasonNoMatchingPool = "NoMatchingPool"
	// ReasonPoolExhausted: pools admit the Service but have no free address.
	ReasonPoolExhausted = "PoolExhausted"
	// ReasonIPUnavailable: a requested IP lies outside every pool, in a pool
	// that does not admit the Service or is being deleted, is a .0/.255
	// address its pool avoids, or is held by a Service that does not share it.
	ReasonIPUnavailable = "IPUnavailable"
	// ReasonInvalidRequest: the request contradicts itself: a requested IP
	// of a family the Service does not have, two IPs of one family, IPs
	// outside the named pool or in two different pools, or annotations that
	// do not parse.
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonSharingConflict: a requested IP is shared by a Service of
	// another namespace without consent from both sides, under another
	// sharing key, by a Service using one of the same ports, or under
	// externalTrafficPolicy Local by a Service of another namespace or
	// selecting other pods.
	ReasonSharingConflict = "SharingConflict"
)

// Event reasons on Services.
const (
	EventIPAllocated         = "IPAllocated"
	EventAllocationFailed    = "AllocationFailed"
	EventIPReleased          = "IPReleased"
	EventDeprecatedAlias     = "DeprecatedAnnotation"
	EventAnnounceNodeChanged = "AnnouncingNodeChanged"
)

// MetalLBAliases maps each IronLB annotation to the MetalLB annotations of the
// same meaning that are accepted in its place (with a Warning event).
var MetalLBAliases = map[string][]string{
	AnnotationLoadBalancerIPs: {"metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs"},
	AnnotationAddressPool:     {"metallb.io/address-pool", "metallb.universe.tf/address-pool"},
	AnnotationAllowSharedIP:   {"metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip"},
}

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

// Reasons of the ironlb.io/IPAllocated condition and of AllocationFailed events.
const (
	ReasonAllocated       = "Allocated"
	ReasonNoMatchingPool  = "NoMatchingPool"
	ReasonPoolExhausted   = "PoolExhausted"
	ReasonIPUnavailable   = "IPUnavailable"
	ReasonInvalidRequest  = "InvalidRequest"
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

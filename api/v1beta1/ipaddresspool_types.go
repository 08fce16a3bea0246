package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PoolProtectionFinalizer holds a pool that is being deleted until no Service
// uses an address from it, the way kubernetes.io/pvc-protection holds a claim.
const PoolProtectionFinalizer = "ironlb.io/pool-protection"

// Reasons of IPAddressPool's Ready condition.
const (
	ReasonPoolValid       = "Valid"
	ReasonInvalidAddress  = "InvalidAddress"
	ReasonOverlap         = "OverlapsOtherPool"
	ReasonInvalidSelector = "InvalidSelector"
	ReasonPoolDeleting    = "DeletionBlocked"
)

// IPAddressPoolSpec lists the addresses a pool hands out and to whom.
type IPAddressPoolSpec struct {
	// Addresses are CIDRs ("192.0.2.0/28", "2001:db8::/64") and inclusive ranges
	// ("198.51.100.10-198.51.100.20"). IPv4 and IPv6 may be mixed in one pool.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:Pattern=`^[0-9a-fA-F:.]+(/[0-9]{1,3}|-[0-9a-fA-F:.]+)$`
	// +listType=set
	Addresses []string `json:"addresses"`

	// AutoAssign lets the pool hand out addresses to any Service it admits.
	// When false, the pool is only used by Services that name it or ask for one
	// of its addresses.
	// +kubebuilder:default=true
	// +optional
	AutoAssign *bool `json:"autoAssign,omitempty"`

	// AvoidBuggyIPs skips IPv4 addresses ending in .0 and .255, which some
	// old client stacks treat as broadcast addresses.
	// +optional
	AvoidBuggyIPs bool `json:"avoidBuggyIPs,omitempty"`

	// ServiceAllocation limits which Services may draw from the pool and in
	// which order pools are tried.
	// +optional
	ServiceAllocation *ServiceAllocation `json:"serviceAllocation,omitempty"`
}

// ServiceAllocation restricts a pool to some Services. Every list that is set
// must match: a Service is admitted when its namespace is in Namespaces (if
// set) and matches one of NamespaceSelectors (if set), and the Service matches
// one of ServiceSelectors (if set).
type ServiceAllocation struct {
	// Priority orders pools for automatic assignment: lower is tried first;
	// pools without a priority come after every pool with one.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// Namespaces admitted, by name.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelectors admit namespaces by their labels.
	// +optional
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`

	// ServiceSelectors admit Services by their labels.
	// +optional
	ServiceSelectors []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
}

// IPAddressPoolStatus reports how much of the pool is in use.
type IPAddressPoolStatus struct {
	// ObservedGeneration is the spec generation these counts describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// AssignedIPv4 counts IPv4 addresses held by Services.
	// +optional
	AssignedIPv4 int64 `json:"assignedIPv4"`
	// AvailableIPv4 counts IPv4 addresses still free to hand out.
	// +optional
	AvailableIPv4 int64 `json:"availableIPv4"`
	// AssignedIPv6 counts IPv6 addresses held by Services.
	// +optional
	AssignedIPv6 int64 `json:"assignedIPv6"`
	// AvailableIPv6 counts IPv6 addresses still free to hand out, as an exact
	// decimal string: a /64 alone holds more than an int64 can count.
	// +kubebuilder:validation:Pattern=`^[0-9]+$`
	// +optional
	AvailableIPv6 string `json:"availableIPv6"`

	// LastValidSpec is the spec the controller last accepted. While spec is
	// invalid (an edit no webhook stopped), Services keep the addresses they
	// hold within it and the pool hands out nothing new. It is recorded here,
	// not only in the controller's memory, so that a restarted controller or
	// a new leader keeps those addresses too. Written by the controller only.
	// +optional
	LastValidSpec *IPAddressPoolSpec `json:"lastValidSpec,omitempty"`

	// Conditions: Ready is False, with a reason, when the spec is invalid.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IPAddressPool is a set of addresses that LoadBalancer Services draw from.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=ipp,categories=ironlb
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Addresses",type=string,JSONPath=`.spec.addresses`
// +kubebuilder:printcolumn:name="Auto Assign",type=boolean,JSONPath=`.spec.autoAssign`
// +kubebuilder:printcolumn:name="Assigned IPv4",type=integer,JSONPath=`.status.assignedIPv4`
// +kubebuilder:printcolumn:name="Available IPv4",type=integer,JSONPath=`.status.availableIPv4`
// +kubebuilder:printcolumn:name="Assigned IPv6",type=integer,JSONPath=`.status.assignedIPv6`
// +kubebuilder:printcolumn:name="Available IPv6",type=string,JSONPath=`.status.availableIPv6`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IPAddressPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec IPAddressPoolSpec `json:"spec"`
	// +optional
	Status IPAddressPoolStatus `json:"status,omitempty"`
}

// AutoAssignEnabled reports spec.autoAssign with its default (true) applied.
func (p *IPAddressPool) AutoAssignEnabled() bool {
	return p.Spec.AutoAssign == nil || *p.Spec.AutoAssign
}

// IPAddressPoolList is a list of IPAddressPool.
//
// +kubebuilder:object:root=true
type IPAddressPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPAddressPool `json:"items"`
}

func init() {
	SchemeBuilder.Register(&IPAddressPool{}, &IPAddressPoolList{})
}

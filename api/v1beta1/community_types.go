package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CommunitySpec names BGP community values, so that BGPAdvertisements can
// say "transit-only" where they would say "64512:300".
type CommunitySpec struct {
	// Communities are the aliases this object defines. An alias name is
	// unique across every Community object (the validating webhook checks).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=1024
	Communities []CommunityAlias `json:"communities,omitempty"`
}

// CommunityAlias is one name for a community value.
type CommunityAlias struct {
	// Name is what a BGPAdvertisement's spec.communities says: letters,
	// digits, '-', '_' and '.', starting with a letter or digit, and no
	// well-known community name (no-export, no-advertise, ...), whose
	// meaning is fixed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	// +kubebuilder:validation:XValidation:rule="!(self.lowerAscii() in ['no-export', 'no-advertise', 'no-export-subconfed', 'no-peer', 'blackhole', 'graceful-shutdown', 'accept-own', 'llgr-stale', 'no-llgr'])",message="name must not be a well-known community name"
	Name string `json:"name"`

	// Value is a standard community "a:b" (each 0-65535) or a large one
	// "large:a:b:c" (each 0-4294967295).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}:[0-9]{1,5}|large:[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10})$`
	Value string `json:"value"`
}

// Community gives names to BGP community values, for BGPAdvertisements'
// spec.communities. MetalLB's kind of the same name, cluster-scoped.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=ironlb
// +kubebuilder:printcolumn:name="Aliases",type=string,JSONPath=`.spec.communities[*].name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Community struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec CommunitySpec `json:"spec,omitempty"`
}

// CommunityList is a list of Community.
//
// +kubebuilder:object:root=true
type CommunityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Community `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Community{}, &CommunityList{})
}

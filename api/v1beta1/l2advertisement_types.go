package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Announced condition of L2Advertisement.status.conditions and its
// reasons.
const (
	// L2Announced is False while a node owns an address of the
	// advertisement but has no interface to announce it on: nobody answers
	// ARP/NDP for it. status.nodes lists such addresses per node.
	L2Announced = "Announced"

	ReasonAllAnnounced = "AllAnnounced"
	ReasonNoInterface  = "NoInterface"
)

// MaxUnannouncedListed bounds L2NodeStatus.Unannounced (and its MaxItems
// marker); the addresses beyond it are counted in MoreUnannounced.
const MaxUnannouncedListed = 16

// L2Advertisement announces the addresses of some pools at layer 2: one node
// per address answers ARP (IPv4) and NDP (IPv6) for it.
type L2AdvertisementSpec struct {
	// IPAddressPools names the pools announced. Empty, with no selectors,
	// means every pool.
	// +optional
	// +listType=set
	IPAddressPools []string `json:"ipAddressPools,omitempty"`

	// IPAddressPoolSelectors select pools by label, in addition to IPAddressPools.
	// +optional
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`

	// NodeSelectors limit the nodes that may announce. Empty means every node.
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// Interfaces the announcing node answers on. Empty means every interface
	// with a route to the address's subnet, else every interface.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=15
	Interfaces []string `json:"interfaces,omitempty"`
}

// L2AdvertisementStatus says what the advertisement matched and which of
// its addresses no node can announce.
type L2AdvertisementStatus struct {
	// MatchedPools are the names of the pools this advertisement announces.
	// +optional
	// +listType=set
	MatchedPools []string `json:"matchedPools,omitempty"`

	// Conditions: Ready is False when the advertisement names an unknown
	// pool; Announced is False while some node owns an address it cannot
	// announce on any interface (see Nodes).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Nodes has an entry for each node that owns addresses of this
	// advertisement it cannot announce, written by that node's speaker and
	// removed once every address it owns is announced again.
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []L2NodeStatus `json:"nodes,omitempty"`
}

// L2NodeStatus is one node's report of the addresses it owns (it won the
// election for them) but announces on no interface.
type L2NodeStatus struct {
	// Node running the speaker.
	Node string `json:"node"`

	// Unannounced lists those addresses, sorted, with why no interface
	// carries them; at most 16.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Unannounced []UnannouncedAddress `json:"unannounced,omitempty"`

	// MoreUnannounced counts the unannounced addresses left out of the list.
	// +optional
	MoreUnannounced int32 `json:"moreUnannounced,omitempty"`

	// LastTransitionTime is when this entry last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// UnannouncedAddress is an address nobody answers ARP/NDP for, and why.
type UnannouncedAddress struct {
	// IP is the address.
	IP string `json:"ip"`
	// Reason says why no interface of the node can carry it and what to
	// change: an interface to bring up, or one to name in spec.interfaces.
	Reason string `json:"reason"`
}

// L2Advertisement announces pools' addresses with ARP and NDP.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=l2adv,categories=ironlb
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Pools",type=string,JSONPath=`.spec.ipAddressPools`
// +kubebuilder:printcolumn:name="Matched",type=string,JSONPath=`.status.matchedPools`
// +kubebuilder:printcolumn:name="Interfaces",type=string,JSONPath=`.spec.interfaces`
// +kubebuilder:printcolumn:name="Announced",type=string,JSONPath=`.status.conditions[?(@.type=="Announced")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type L2Advertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec L2AdvertisementSpec `json:"spec,omitempty"`
	// +optional
	Status L2AdvertisementStatus `json:"status,omitempty"`
}

// L2AdvertisementList is a list of L2Advertisement.
//
// +kubebuilder:object:root=true
type L2AdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []L2Advertisement `json:"items"`
}

func init() {
	SchemeBuilder.Register(&L2Advertisement{}, &L2AdvertisementList{})
}

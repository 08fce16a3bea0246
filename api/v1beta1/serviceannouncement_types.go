package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceAnnouncement says who announces a LoadBalancer Service's addresses:
// the node answering ARP/NDP for each at layer 2, and the nodes advertising
// each over BGP and to which BGPPeers. It has the Service's name and
// namespace, is owned by the Service (deleted with it), and exists while at
// least one of the Service's addresses is announced. The speakers write it,
// one speaker per Service, only when what it says changes (docs/api.md).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=svcann,categories=ironlb
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="IPs",type=string,JSONPath=`.status.ips`
// +kubebuilder:printcolumn:name="L2 Node",type=string,JSONPath=`.status.layer2Nodes`
// +kubebuilder:printcolumn:name="BGP Nodes",type=integer,JSONPath=`.status.bgpNodes`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceAnnouncement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status is everything: the object has no spec.
	// +optional
	Status ServiceAnnouncementStatus `json:"status,omitempty"`
}

// ServiceAnnouncementStatus is the cluster's announce decision for one
// Service, as every speaker computes it.
type ServiceAnnouncementStatus struct {
	// IPs are the Service's announced addresses, comma-separated, for
	// `kubectl get`.
	// +optional
	IPs string `json:"ips,omitempty"`
	// Layer2Nodes are the nodes answering for any of its addresses at
	// layer 2, comma-separated, for `kubectl get`.
	// +optional
	Layer2Nodes string `json:"layer2Nodes,omitempty"`
	// BGPNodes counts the nodes advertising any of its addresses over BGP.
	// +optional
	BGPNodes int32 `json:"bgpNodes,omitempty"`

	// Layer2 holds, per address announced at layer 2, the one node that
	// answers ARP (IPv4) or NDP (IPv6) for it.
	// +optional
	// +listType=map
	// +listMapKey=ip
	Layer2 []L2AddressAnnouncement `json:"layer2,omitempty"`
	// BGP holds, per address advertised over BGP, the nodes advertising it
	// and the BGPPeers each advertises it to.
	// +optional
	// +listType=map
	// +listMapKey=ip
	BGP []BGPAddressAnnouncement `json:"bgp,omitempty"`
}

// L2AddressAnnouncement is the node answering for one address at layer 2.
type L2AddressAnnouncement struct {
	// IP is the address, as in the Service's status.loadBalancer.ingress.
	IP string `json:"ip"`
	// Node answers for it.
	Node string `json:"node"`
	// Interfaces it answers on, as its L2Advertisements name them; empty
	// means chosen by the speaker (the interfaces with a route to the
	// address's subnet, else every interface).
	// +optional
	// +listType=set
	Interfaces []string `json:"interfaces,omitempty"`
}

// BGPAddressAnnouncement is who advertises one address over BGP.
type BGPAddressAnnouncement struct {
	// IP is the address, as in the Service's status.loadBalancer.ingress.
	IP string `json:"ip"`
	// Nodes advertise it (a /32 or /128, or an aggregate holding it).
	// +listType=set
	Nodes []string `json:"nodes"`
	// AdvertisedTo groups Nodes by the BGPPeers they advertise it to: most
	// clusters give every node the same peers, which is one group however
	// many nodes there are. A node no BGPPeer selects is in a group with no
	// peers.
	// +optional
	AdvertisedTo []BGPPeerGroup `json:"advertisedTo,omitempty"`
}

// BGPPeerGroup is a set of nodes that advertise an address to the same
// BGPPeers.
type BGPPeerGroup struct {
	// Peers are the BGPPeers' names.
	// +optional
	// +listType=set
	Peers []string `json:"peers,omitempty"`
	// Nodes advertise the address to every one of Peers.
	// +listType=set
	Nodes []string `json:"nodes"`
}

// ServiceAnnouncementList is a list of ServiceAnnouncement.
//
// +kubebuilder:object:root=true
type ServiceAnnouncementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceAnnouncement `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ServiceAnnouncement{}, &ServiceAnnouncementList{})
}

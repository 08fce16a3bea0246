package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecretKeyRef points at one key of a Secret.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`
	// Key in the Secret's data; default "password".
	// +kubebuilder:default=password
	// +optional
	Key string `json:"key,omitempty"`
}

// DynamicASNMode is BGPPeer spec.dynamicASN: the kind of session to accept
// when the router's ASN is not given.
//
// +kubebuilder:validation:Enum=internal;external
type DynamicASNMode string

// The values of DynamicASNMode.
const (
	// DynamicASNInternal: the router's ASN must equal spec.myASN (iBGP).
	DynamicASNInternal DynamicASNMode = "internal"
	// DynamicASNExternal: the router's ASN must differ from spec.myASN
	// (eBGP).
	DynamicASNExternal DynamicASNMode = "external"
)

// BGPPeerSpec describes one BGP session that selected nodes open to a router.
//
// +kubebuilder:validation:XValidation:rule="!has(self.holdTime) || !has(self.keepaliveTime) || duration(self.holdTime) == duration('0s') || duration(self.keepaliveTime) < duration(self.holdTime)",message="keepaliveTime must be less than holdTime"
// +kubebuilder:validation:XValidation:rule="!has(self.holdTime) || duration(self.holdTime) == duration('0s') || duration(self.holdTime) >= duration('3s')",message="holdTime must be 0 or at least 3s"
// +kubebuilder:validation:XValidation:rule="has(self.peerASN) != has(self.dynamicASN)",message="exactly one of peerASN and dynamicASN must be set"
type BGPPeerSpec struct {
	// MyASN is the speaker's autonomous system number.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	// +kubebuilder:validation:Format=int64
	MyASN uint32 `json:"myASN"`

	// PeerASN is the router's autonomous system number. Equal to MyASN means
	// iBGP. Exactly one of PeerASN and DynamicASN is set; 0 means unset.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	// +kubebuilder:validation:Format=int64
	// +optional
	PeerASN uint32 `json:"peerASN,omitempty"`

	// DynamicASN accepts whatever ASN the router announces in its OPEN
	// message, as long as the session is of this kind: "internal" (the
	// router's ASN equals MyASN) or "external" (it differs). Exactly one of
	// PeerASN and DynamicASN is set.
	// +optional
	DynamicASN DynamicASNMode `json:"dynamicASN,omitempty"`

	// PeerAddress is the router's IPv4 or IPv6 address.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="peerAddress must be an IP address"
	PeerAddress string `json:"peerAddress"`

	// PeerPort is the router's TCP port.
	// +kubebuilder:default=179
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	PeerPort uint16 `json:"peerPort,omitempty"`

	// SourceAddress the session is opened from; default chosen by the kernel.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="self == '' || isIP(self)",message="sourceAddress must be an IP address"
	// +optional
	SourceAddress string `json:"sourceAddress,omitempty"`

	// RouterID of the speaker; default the node's IPv4 address.
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="self == '' || (isIP(self) && ip(self).family() == 4)",message="routerID must be an IPv4 address"
	// +optional
	RouterID string `json:"routerID,omitempty"`

	// HoldTime is 0 (no keepalives) or at least 3s; default 90s.
	// +optional
	HoldTime *metav1.Duration `json:"holdTime,omitempty"`

	// KeepaliveTime must be less than HoldTime; default a third of it.
	// +optional
	KeepaliveTime *metav1.Duration `json:"keepaliveTime,omitempty"`

	// ConnectTime is how long to wait between attempts to open the TCP
	// connection to a peer that is down (BGP's ConnectRetryTimer); whole
	// seconds, 1s to 65535s. Default 5s, plus up to as much again of random
	// jitter.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('65535s')",message="connectTime must be between 1s and 65535s"
	// +kubebuilder:validation:XValidation:rule="duration(self).getMilliseconds() % 1000 == 0",message="connectTime must be a whole number of seconds"
	// +optional
	ConnectTime *metav1.Duration `json:"connectTime,omitempty"`

	// EBGPMultiHop allows an eBGP peer that is not directly connected.
	// +optional
	EBGPMultiHop bool `json:"ebgpMultiHop,omitempty"`

	// DisableMP opens the session for the address family of PeerAddress
	// only (IPv4 unicast to an IPv4 router, IPv6 unicast to an IPv6 one)
	// instead of both families over one session (multiprotocol BGP, RFC
	// 4760). Addresses of the other family are then not sent to this peer:
	// a second BGPPeer at the router's address of that family carries them.
	// +optional
	DisableMP bool `json:"disableMP,omitempty"`

	// VRF is the Linux VRF device the session runs in: it is dialled from,
	// and routed by, that VRF's table instead of the node's main one. Empty
	// means the default VRF. The device must exist on the node.
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[^/:\s]*$`
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="vrf must be a Linux interface name, not . or .."
	// +optional
	VRF string `json:"vrf,omitempty"`

	// BFDProfile names the BFDProfile of a BFD session run beside the BGP
	// session: when BFD declares the path down, the BGP session is torn
	// down at once instead of when its hold time expires. Empty means no
	// BFD. The router must be directly connected (single hop, RFC 5881).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	BFDProfile string `json:"bfdProfile,omitempty"`

	// EnableGracefulRestart keeps routes at the router while a speaker restarts.
	// +optional
	EnableGracefulRestart bool `json:"enableGracefulRestart,omitempty"`

	// PasswordSecret holds the TCP MD5 password of the session.
	// +optional
	PasswordSecret *SecretKeyRef `json:"passwordSecret,omitempty"`

	// NodeSelectors limit the nodes that open this session. Empty means every node.
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
}

// BGPSessionStatus is one node's view of its session to the peer.
type BGPSessionStatus struct {
	// Node running the speaker.
	Node string `json:"node"`
	// State is the BGP FSM state: Idle, Connect, Active, OpenSent, OpenConfirm, Established.
	State string `json:"state"`
	// Message explains a session that is not Established, such as an authentication failure.
	// +optional
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when State last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// BGPPeerStatus reports, per node, the session state.
type BGPPeerStatus struct {
	// Sessions holds one entry per node that peers with this router.
	// +optional
	// +listType=map
	// +listMapKey=node
	Sessions []BGPSessionStatus `json:"sessions,omitempty"`

	// Conditions of the peer as a whole.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BGPPeer is a router that speakers open BGP sessions to.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=ironlb
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.peerAddress`
// +kubebuilder:printcolumn:name="My ASN",type=integer,JSONPath=`.spec.myASN`
// +kubebuilder:printcolumn:name="Peer ASN",type=integer,JSONPath=`.spec.peerASN`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BGPPeerSpec `json:"spec"`
	// +optional
	Status BGPPeerStatus `json:"status,omitempty"`
}

// BGPPeerList is a list of BGPPeer.
//
// +kubebuilder:object:root=true
type BGPPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPPeer `json:"items"`
}

// BGPAdvertisementSpec says which pools are advertised over BGP, and how.
type BGPAdvertisementSpec struct {
	// IPAddressPools names the pools advertised. Empty, with no selectors, means every pool.
	// +optional
	// +listType=set
	IPAddressPools []string `json:"ipAddressPools,omitempty"`

	// IPAddressPoolSelectors select pools by label, in addition to IPAddressPools.
	// +optional
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`

	// NodeSelectors limit the nodes that advertise. Empty means every node.
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// Peers limits the advertisement to these BGPPeers by name. Empty means all.
	// +optional
	// +listType=set
	Peers []string `json:"peers,omitempty"`

	// AggregationLength is the IPv4 prefix length advertised for an address.
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32
	// +optional
	AggregationLength *int32 `json:"aggregationLength,omitempty"`

	// AggregationLengthV6 is the IPv6 prefix length advertised for an address.
	// +kubebuilder:default=128
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=128
	// +optional
	AggregationLengthV6 *int32 `json:"aggregationLengthV6,omitempty"`

	// LocalPref is sent to iBGP peers only.
	// +kubebuilder:validation:Format=int64
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	// +optional
	LocalPref *uint32 `json:"localPref,omitempty"`

	// Communities attached to the routes: standard "65000:100", large
	// "large:65000:1:2", a well-known name ("no-export", any case) or the
	// name of an alias a Community object defines.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^([0-9]{1,5}:[0-9]{1,5}|large:[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}|[A-Za-z0-9][A-Za-z0-9_.-]*)$`
	Communities []string `json:"communities,omitempty"`
}

// BGPAdvertisementStatus says what the advertisement matched.
type BGPAdvertisementStatus struct {
	// MatchedPools are the names of the pools this advertisement announces.
	// +optional
	// +listType=set
	MatchedPools []string `json:"matchedPools,omitempty"`

	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BGPAdvertisement advertises pools' addresses to BGP peers.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bgpadv,categories=ironlb
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Pools",type=string,JSONPath=`.spec.ipAddressPools`
// +kubebuilder:printcolumn:name="Peers",type=string,JSONPath=`.spec.peers`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPAdvertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec BGPAdvertisementSpec `json:"spec,omitempty"`
	// +optional
	Status BGPAdvertisementStatus `json:"status,omitempty"`
}

// BGPAdvertisementList is a list of BGPAdvertisement.
//
// +kubebuilder:object:root=true
type BGPAdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPAdvertisement `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BGPPeer{}, &BGPPeerList{}, &BGPAdvertisement{}, &BGPAdvertisementList{})
}

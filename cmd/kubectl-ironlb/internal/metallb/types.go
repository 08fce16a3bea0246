// Package metallb reads MetalLB v0.15 configuration: the objects of API group
// metallb.io (IPAddressPool, L2Advertisement, BGPAdvertisement, BGPPeer of
// v1beta2 and v1beta1, Community, BFDProfile), from YAML or JSON documents or
// from a live cluster, into the small Go shapes below.
//
// The shapes are this package's own, written from MetalLB's published API
// reference, not MetalLB's Go module: the tool needs the fields, not
// MetalLB's dependencies. A field a shape does not know (a newer MetalLB's)
// is never dropped silently: Decode reports it (see unknownFields).
package metallb

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is MetalLB's API group.
const Group = "metallb.io"

// The kinds read, as MetalLB names them.
const (
	KindIPAddressPool    = "IPAddressPool"
	KindL2Advertisement  = "L2Advertisement"
	KindBGPAdvertisement = "BGPAdvertisement"
	KindBGPPeer          = "BGPPeer"
	KindCommunity        = "Community"
	KindBFDProfile       = "BFDProfile"
)

// Resources are the MetalLB resources read from a cluster, with the version
// asked for: the storage version of each (BGPPeer: v1beta2, which the API
// server converts v1beta1 objects to).
var Resources = []struct {
	Kind string
	GVR  schema.GroupVersionResource
}{
	{KindIPAddressPool, schema.GroupVersionResource{Group: Group, Version: "v1beta1", Resource: "ipaddresspools"}},
	{KindL2Advertisement, schema.GroupVersionResource{Group: Group, Version: "v1beta1", Resource: "l2advertisements"}},
	{KindBGPAdvertisement, schema.GroupVersionResource{Group: Group, Version: "v1beta1", Resource: "bgpadvertisements"}},
	{KindBGPPeer, schema.GroupVersionResource{Group: Group, Version: "v1beta2", Resource: "bgppeers"}},
	{KindCommunity, schema.GroupVersionResource{Group: Group, Version: "v1beta1", Resource: "communities"}},
	{KindBFDProfile, schema.GroupVersionResource{Group: Group, Version: "v1beta1", Resource: "bfdprofiles"}},
}

// Object is a MetalLB object: the usual type and object metadata and a spec
// of shape S. Status is never read: IronLB computes its own.
type Object[S any] struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              S `json:"spec"`
}

// The MetalLB kinds read.
type (
	IPAddressPool    = Object[IPAddressPoolSpec]
	L2Advertisement  = Object[L2AdvertisementSpec]
	BGPAdvertisement = Object[BGPAdvertisementSpec]
	BGPPeer          = Object[BGPPeerSpec]
	Community        = Object[CommunitySpec]
	BFDProfile       = Object[BFDProfileSpec]
)

// IPAddressPoolSpec is metallb.io/v1beta1 IPAddressPool's spec.
type IPAddressPoolSpec struct {
	Addresses         []string           `json:"addresses,omitempty"`
	AutoAssign        *bool              `json:"autoAssign,omitempty"`
	AvoidBuggyIPs     bool               `json:"avoidBuggyIPs,omitempty"`
	ServiceAllocation *ServiceAllocation `json:"serviceAllocation,omitempty"`
}

// ServiceAllocation is IPAddressPool's spec.serviceAllocation. MetalLB's
// priority is a plain integer: 0 means none.
type ServiceAllocation struct {
	Priority           int                    `json:"priority,omitempty"`
	Namespaces         []string               `json:"namespaces,omitempty"`
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`
	ServiceSelectors   []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
}

// L2AdvertisementSpec is metallb.io/v1beta1 L2Advertisement's spec.
type L2AdvertisementSpec struct {
	IPAddressPools         []string               `json:"ipAddressPools,omitempty"`
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`
	NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
	Interfaces             []string               `json:"interfaces,omitempty"`
}

// BGPAdvertisementSpec is metallb.io/v1beta1 BGPAdvertisement's spec.
// MetalLB's localPref is a plain integer: 0 means none.
type BGPAdvertisementSpec struct {
	AggregationLength      *int32                 `json:"aggregationLength,omitempty"`
	AggregationLengthV6    *int32                 `json:"aggregationLengthV6,omitempty"`
	LocalPref              uint32                 `json:"localPref,omitempty"`
	Communities            []string               `json:"communities,omitempty"`
	IPAddressPools         []string               `json:"ipAddressPools,omitempty"`
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`
	NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
	Peers                  []string               `json:"peers,omitempty"`
}

// BGPPeerSpec is metallb.io/v1beta2 BGPPeer's spec. A v1beta1 BGPPeer has a
// subset of these fields under the same names (its nodeSelectors have the
// shape of a label selector, its timers are not pointers); Decode reads it
// into this shape, as MetalLB's own conversion does.
type BGPPeerSpec struct {
	MyASN                  uint32                 `json:"myASN,omitempty"`
	PeerASN                uint32                 `json:"peerASN,omitempty"`
	DynamicASN             string                 `json:"dynamicASN,omitempty"`
	PeerAddress            string                 `json:"peerAddress,omitempty"`
	Interface              string                 `json:"interface,omitempty"`
	SourceAddress          string                 `json:"sourceAddress,omitempty"`
	PeerPort               uint16                 `json:"peerPort,omitempty"`
	HoldTime               *metav1.Duration       `json:"holdTime,omitempty"`
	KeepaliveTime          *metav1.Duration       `json:"keepaliveTime,omitempty"`
	ConnectTime            *metav1.Duration       `json:"connectTime,omitempty"`
	RouterID               string                 `json:"routerID,omitempty"`
	NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
	Password               string                 `json:"password,omitempty"`
	PasswordSecret         SecretReference        `json:"passwordSecret,omitzero"`
	BFDProfile             string                 `json:"bfdProfile,omitempty"`
	EnableGracefulRestart  bool                   `json:"enableGracefulRestart,omitempty"`
	EBGPMultiHop           bool                   `json:"ebgpMultiHop,omitempty"`
	VRFName                string                 `json:"vrf,omitempty"`
	DisableMP              bool                   `json:"disableMP,omitempty"`
	DualStackAddressFamily bool                   `json:"dualStackAddressFamily,omitempty"`
}

// SecretReference is BGPPeer's spec.passwordSecret (core/v1
// SecretReference): a Secret of type kubernetes.io/basic-auth whose key
// "password" holds the password.
type SecretReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// CommunitySpec is metallb.io/v1beta1 Community's spec: names for community
// values, usable in BGPAdvertisement spec.communities.
type CommunitySpec struct {
	Communities []CommunityAlias `json:"communities,omitempty"`
}

// CommunityAlias is one name and its community value.
type CommunityAlias struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// BFDProfileSpec is metallb.io/v1beta1 BFDProfile's spec.
type BFDProfileSpec struct {
	ReceiveInterval  *uint32 `json:"receiveInterval,omitempty"`
	TransmitInterval *uint32 `json:"transmitInterval,omitempty"`
	DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`
	EchoInterval     *uint32 `json:"echoInterval,omitempty"`
	EchoMode         *bool   `json:"echoMode,omitempty"`
	PassiveMode      *bool   `json:"passiveMode,omitempty"`
	MinimumTTL       *uint32 `json:"minimumTtl,omitempty"`
}

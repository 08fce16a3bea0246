package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of BFDProfile's Ready condition.
const (
	// ReasonBFDProfileValid: the speakers can run the profile.
	ReasonBFDProfileValid = "Valid"
	// ReasonInvalidBFDProfile: a field the speakers cannot run (echo mode,
	// a minimum TTL other than 255, an interval out of range); the
	// BGPPeers naming the profile run no BFD until it is fixed.
	ReasonInvalidBFDProfile = "InvalidProfile"
)

// BFDProfileSpec holds the timers and options of the BFD sessions (RFC 5880,
// asynchronous mode, single hop as RFC 5881 describes) run beside the BGP
// sessions of the BGPPeers that name it. docs/api.md has the defaults and
// what is not supported.
type BFDProfileSpec struct {
	// ReceiveInterval is the shortest interval, in milliseconds, between
	// control packets this system can receive (RFC 5880
	// bfd.RequiredMinRxInterval).
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=60000
	// +kubebuilder:default=300
	// +optional
	ReceiveInterval *uint32 `json:"receiveInterval,omitempty"`

	// TransmitInterval is the interval, in milliseconds, at which this
	// system would like to send control packets (RFC 5880
	// bfd.DesiredMinTxInterval), less jitter. The interval used is the
	// larger of it and the router's receive interval.
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=60000
	// +kubebuilder:default=300
	// +optional
	TransmitInterval *uint32 `json:"transmitInterval,omitempty"`

	// DetectMultiplier: the router declares the session down after this
	// many transmit intervals without a packet from us.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=255
	// +kubebuilder:default=3
	// +optional
	DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`

	// EchoMode must be false: IronLB's BFD has no echo function. The field
	// exists so that a profile asking for it is refused, not silently run
	// without.
	// +kubebuilder:validation:XValidation:rule="!self",message="echoMode is not supported: IronLB's BFD has no echo function"
	// +optional
	EchoMode bool `json:"echoMode,omitempty"`

	// PassiveMode: send nothing until the router has sent a control packet
	// (RFC 5880 section 6.1, the passive role).
	// +optional
	PassiveMode bool `json:"passiveMode,omitempty"`

	// MinimumTTL is the lowest TTL (IPv4) or Hop Limit (IPv6) a received
	// control packet may have. Only 255 is accepted, which is also what an
	// unset field means: single-hop sessions (RFC 5881 section 5) take only
	// packets that crossed no router. Multihop BFD is not supported.
	// +kubebuilder:validation:XValidation:rule="self == 255",message="minimumTtl must be 255: IronLB runs single-hop BFD only (RFC 5881)"
	// +optional
	MinimumTTL *uint32 `json:"minimumTtl,omitempty"`
}

// BFDProfileStatus says whether the speakers can run the profile.
type BFDProfileStatus struct {
	// Conditions: Ready, with the reasons above.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BFDProfile is a set of BFD timers and options that BGPPeers refer to by
// name (spec.bfdProfile). A profile in use by a BGPPeer cannot be deleted
// while the validating webhook runs.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bfdp,categories=ironlb
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Receive",type=integer,JSONPath=`.spec.receiveInterval`
// +kubebuilder:printcolumn:name="Transmit",type=integer,JSONPath=`.spec.transmitInterval`
// +kubebuilder:printcolumn:name="Multiplier",type=integer,JSONPath=`.spec.detectMultiplier`
// +kubebuilder:printcolumn:name="Passive",type=boolean,JSONPath=`.spec.passiveMode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BFDProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec defaults to {} so that the API server fills in every default
	// even for a profile written without a spec.
	// +kubebuilder:default={}
	// +optional
	Spec BFDProfileSpec `json:"spec,omitempty"`
	// +optional
	Status BFDProfileStatus `json:"status,omitempty"`
}

// BFDProfileList is a list of BFDProfile.
//
// +kubebuilder:object:root=true
type BFDProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BFDProfile `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BFDProfile{}, &BFDProfileList{})
}

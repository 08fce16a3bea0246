package webhook

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Hold-time bounds of RFC 4271 section 4.2: zero, or three seconds up to the
// largest value of the 16-bit field. The schema checks the lower bound too;
// the webhook repeats it so that one place lists every timer rule.
const (
	minHoldTime     = 3 * time.Second
	maxBGPTimer     = 65535 * time.Second
	defaultHoldTime = 90 * time.Second
	asTrans         = 23456      // RFC 6793: stands in for a 4-byte ASN, never a real one
	asReserved16    = 65535      // RFC 7300: reserved, last 16-bit ASN
	asReserved32    = 4294967295 // RFC 7300: reserved, last 32-bit ASN
)

// ValidateBGPPeer checks what the schema cannot: reserved ASNs, timers a BGP
// OPEN message cannot carry (fractions of a second, more than 65535s, a
// keepalive with a zero hold time), a source address of another family than
// the peer, the password Secret reference, and label selectors. It returns
// warnings for settings that are legal but have no effect.
func ValidateBGPPeer(peer *v1beta1.BGPPeer) (field.ErrorList, []string) {
	var errs field.ErrorList
	var warnings []string
	spec := field.NewPath("spec")
	s := &peer.Spec

	errs = append(errs, validateASN(spec.Child("myASN"), s.MyASN)...)
	errs = append(errs, validateASN(spec.Child("peerASN"), s.PeerASN)...)
	if s.EBGPMultiHop && s.MyASN == s.PeerASN {
		warnings = append(warnings, "spec.ebgpMultiHop has no effect on an iBGP session (myASN equals peerASN)")
	}

	errs = append(errs, validateTimers(spec, s)...)

	peerAddr, err := netip.ParseAddr(s.PeerAddress)
	if err != nil || peerAddr.Zone() != "" {
		errs = append(errs, field.Invalid(spec.Child("peerAddress"), s.PeerAddress, "must be an IPv4 or IPv6 address without a zone"))
	} else if !peerAddr.IsGlobalUnicast() {
		errs = append(errs, field.Invalid(spec.Child("peerAddress"), s.PeerAddress,
			"must be a unicast address (not loopback, link-local, multicast or unspecified)"))
	}
	if s.SourceAddress != "" {
		src, err := netip.ParseAddr(s.SourceAddress)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(spec.Child("sourceAddress"), s.SourceAddress, "must be an IP address"))
		case peerAddr.IsValid() && src.Is4() != peerAddr.Is4():
			errs = append(errs, field.Invalid(spec.Child("sourceAddress"), s.SourceAddress,
				fmt.Sprintf("is not of the same family as spec.peerAddress %q", s.PeerAddress)))
		}
	}

	if ref := s.PasswordSecret; ref != nil {
		p := spec.Child("passwordSecret")
		for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), ref.Name, msg))
		}
		for _, msg := range validation.IsDNS1123Label(ref.Namespace) {
			errs = append(errs, field.Invalid(p.Child("namespace"), ref.Namespace, msg))
		}
		if ref.Key != "" {
			for _, msg := range validation.IsConfigMapKey(ref.Key) {
				errs = append(errs, field.Invalid(p.Child("key"), ref.Key, msg))
			}
		}
	}

	errs = append(errs, validateSelectors(spec.Child("nodeSelectors"), s.NodeSelectors)...)
	return errs, warnings
}

func validateASN(path *field.Path, asn uint32) field.ErrorList {
	switch asn {
	case 0:
		return field.ErrorList{field.Invalid(path, asn, "AS 0 is reserved (RFC 7607)")}
	case asTrans:
		return field.ErrorList{field.Invalid(path, asn, "AS 23456 is AS_TRANS, which only stands in for a 4-byte ASN (RFC 6793)")}
	case asReserved16, asReserved32:
		return field.ErrorList{field.Invalid(path, asn, "reserved ASN (RFC 7300)")}
	}
	return nil
}

// validateTimers checks holdTime and keepaliveTime as they will go into the
// OPEN message: whole seconds, hold time 0 or 3..65535s, keepalive below the
// hold time (90s when unset) and zero when the hold time is zero (RFC 4271
// forbids keepalives then).
func validateTimers(spec *field.Path, s *v1beta1.BGPPeerSpec) field.ErrorList {
	var errs field.ErrorList
	hold := defaultHoldTime
	if s.HoldTime != nil {
		hold = s.HoldTime.Duration
		p := spec.Child("holdTime")
		switch {
		case hold%time.Second != 0:
			errs = append(errs, field.Invalid(p, hold.String(), "must be a whole number of seconds"))
		case hold != 0 && hold < minHoldTime:
			errs = append(errs, field.Invalid(p, hold.String(), "must be 0 or at least 3s"))
		case hold > maxBGPTimer:
			errs = append(errs, field.Invalid(p, hold.String(), "must be at most 65535s"))
		}
	}
	if s.KeepaliveTime != nil {
		ka := s.KeepaliveTime.Duration
		p := spec.Child("keepaliveTime")
		switch {
		case ka < 0:
			errs = append(errs, field.Invalid(p, ka.String(), "must not be negative"))
		case ka%time.Second != 0:
			errs = append(errs, field.Invalid(p, ka.String(), "must be a whole number of seconds"))
		case hold == 0 && ka != 0:
			errs = append(errs, field.Invalid(p, ka.String(), "must be 0 when spec.holdTime is 0: no keepalives are sent then"))
		case hold != 0 && ka >= hold:
			errs = append(errs, field.Invalid(p, ka.String(), fmt.Sprintf("must be less than the hold time (%s)", hold)))
		}
	}
	return errs
}

type bgpPeerValidator struct{}

var _ admission.Validator[*v1beta1.BGPPeer] = bgpPeerValidator{}

func (bgpPeerValidator) ValidateCreate(_ context.Context, peer *v1beta1.BGPPeer) (admission.Warnings, error) {
	errs, warnings := ValidateBGPPeer(peer)
	return warnings, invalid("BGPPeer", peer.Name, errs)
}

func (bgpPeerValidator) ValidateUpdate(_ context.Context, old, peer *v1beta1.BGPPeer) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, peer.Spec) {
		return nil, nil
	}
	errs, warnings := ValidateBGPPeer(peer)
	return warnings, invalid("BGPPeer", peer.Name, errs)
}

func (bgpPeerValidator) ValidateDelete(context.Context, *v1beta1.BGPPeer) (admission.Warnings, error) {
	return nil, nil
}

package validation

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// BGP timer bounds (RFC 4271 section 4.2): the hold time is zero or three
// seconds up to the largest value of its 16-bit field, in whole seconds.
// The schema checks the lower bound too (a CEL rule on BGPPeerSpec); the
// rules below repeat it so that one place lists every timer rule.
const (
	MinHoldTime = 3 * time.Second
	MaxBGPTimer = 65535 * time.Second
	// DefaultHoldTime is the hold time of a BGPPeer without spec.holdTime:
	// the keepalive time must stay below it.
	DefaultHoldTime = 90 * time.Second
)

// Connect retry bounds (spec.connectTime): whole seconds, 1s up to the
// largest BGP timer.
const (
	MinConnectTime = time.Second
	// DefaultConnectTime is the connect retry interval of a BGPPeer
	// without spec.connectTime. The speaker adds up to as much again of
	// random jitter, so speakers restarted together do not dial in
	// lockstep. Short, unlike RFC 4271's suggested 120s: a node would
	// otherwise stay without routes for minutes after a router reboot.
	DefaultConnectTime = 5 * time.Second
)

// MaxInterfaceNameLength is the longest Linux interface name, VRF devices
// included: IFNAMSIZ (16) less the terminating NUL.
const MaxInterfaceNameLength = 15

// ASNs no session may use.
const (
	ASTrans      = 23456      // RFC 6793: stands in for a 4-byte ASN, never a real one
	ASReserved16 = 65535      // RFC 7300: reserved, last 16-bit ASN
	ASReserved32 = 4294967295 // RFC 7300: reserved, last 32-bit ASN
)

// ValidateBGPPeer checks what the schema cannot of a BGPPeer's spec:
// reserved ASNs ([ValidateASN]) and exactly one of peerASN and dynamicASN,
// timers a BGP OPEN message cannot carry ([ValidateHoldTime],
// [ValidateKeepaliveTime]), the connect retry interval
// ([ValidateConnectTime]), a peer address that is no unicast address
// ([ParsePeerAddress]), a source address of another family than the peer
// ([ParseSourceAddress]), a VRF that cannot name a Linux device
// ([ValidateInterfaceName]), a BFD profile on a session BFD cannot run on,
// the password Secret reference, and label selectors ([LabelSelectors]).
// Whether the BFDProfile named exists is admission's question, not this
// function's. Warnings name settings that are legal but have no effect
// ([BGPPeerWarnings]) or that the speakers cannot run (a hold time of 0,
// [HoldTimeZeroUnsupported]).
func ValidateBGPPeer(s *v1beta1.BGPPeerSpec) (errs field.ErrorList, warnings []string) {
	spec := field.NewPath("spec")
	invalid := func(name string, value any, err error) {
		if err != nil {
			errs = append(errs, field.Invalid(spec.Child(name), value, err.Error()))
		}
	}
	invalid("myASN", s.MyASN, ValidateASN(s.MyASN))
	errs = append(errs, validatePeerASN(spec, s)...)

	timerErrs, warnings := validateTimers(spec, s)
	errs = append(errs, timerErrs...)
	if s.ConnectTime != nil {
		invalid("connectTime", s.ConnectTime.Duration.String(), ValidateConnectTime(s.ConnectTime.Duration))
	}

	_, err := ParsePeerAddress(s.PeerAddress)
	invalid("peerAddress", s.PeerAddress, err)
	if s.SourceAddress != "" {
		_, err := ParseSourceAddress(s.SourceAddress, s.PeerAddress)
		invalid("sourceAddress", s.SourceAddress, err)
	}
	if s.VRF != "" {
		invalid("vrf", s.VRF, ValidateInterfaceName(s.VRF))
	}
	errs = append(errs, validateBFDProfileName(spec.Child("bfdProfile"), s)...)

	errs = append(errs, validateSecretRef(spec.Child("passwordSecret"), s.PasswordSecret)...)
	_, selErrs := LabelSelectors(spec.Child("nodeSelectors"), s.NodeSelectors)
	errs = append(errs, selErrs...)
	return errs, append(warnings, BGPPeerWarnings(s)...)
}

// HoldTimeZeroUnsupported is why IronLB's speakers refuse a BGPPeer with
// spec.holdTime 0s, which the API accepts (RFC 4271 allows it): the
// speakers' session message and admission's warning both say it.
const HoldTimeZeroUnsupported = "holdTime 0s (no keepalives) cannot be configured in IronLB's speakers, " +
	"whose BGP implementation would send a hold time of 90s instead: the session stays Idle; " +
	"set 3s or more (a router configured with hold time 0 still negotiates 0)"

// validateTimers checks spec.holdTime and spec.keepaliveTime, and warns
// about an explicit hold time of 0 ([HoldTimeZeroUnsupported]) once the
// timers are otherwise valid: while keepaliveTime is refused for it, the
// error already names the hold time.
func validateTimers(spec *field.Path, s *v1beta1.BGPPeerSpec) (errs field.ErrorList, warnings []string) {
	invalid := func(name string, value any, err error) {
		if err != nil {
			errs = append(errs, field.Invalid(spec.Child(name), value, err.Error()))
		}
	}
	hold := DefaultHoldTime
	if s.HoldTime != nil {
		hold = s.HoldTime.Duration
		invalid("holdTime", hold.String(), ValidateHoldTime(hold))
	}
	if s.KeepaliveTime != nil {
		ka := s.KeepaliveTime.Duration
		invalid("keepaliveTime", ka.String(), ValidateKeepaliveTime(ka, hold))
	}
	if s.HoldTime != nil && hold == 0 && len(errs) == 0 {
		warnings = append(warnings, spec.Child("holdTime").String()+": "+HoldTimeZeroUnsupported)
	}
	return errs, warnings
}

// validatePeerASN checks that exactly one of spec.peerASN and
// spec.dynamicASN says who the router is. With neither, peerASN is reported
// as AS 0, as it always was; the schema words that case itself.
func validatePeerASN(spec *field.Path, s *v1beta1.BGPPeerSpec) field.ErrorList {
	switch {
	case s.DynamicASN == "":
		if err := ValidateASN(s.PeerASN); err != nil {
			return field.ErrorList{field.Invalid(spec.Child("peerASN"), s.PeerASN, err.Error())}
		}
		return nil
	case s.DynamicASN != v1beta1.DynamicASNInternal && s.DynamicASN != v1beta1.DynamicASNExternal:
		return field.ErrorList{field.NotSupported(spec.Child("dynamicASN"), s.DynamicASN,
			[]string{string(v1beta1.DynamicASNInternal), string(v1beta1.DynamicASNExternal)})}
	case s.PeerASN != 0:
		return field.ErrorList{field.Forbidden(spec.Child("peerASN"), "must not be set together with spec.dynamicASN: set exactly one of them")}
	}
	return nil
}

// IsIBGP reports whether the session s describes is internal BGP: the
// router's ASN is spec.myASN, given as spec.peerASN or promised by
// spec.dynamicASN "internal". LOCAL_PREF is sent on such sessions only,
// and spec.ebgpMultiHop has no effect on them.
func IsIBGP(s *v1beta1.BGPPeerSpec) bool {
	if s.DynamicASN != "" {
		return s.DynamicASN == v1beta1.DynamicASNInternal
	}
	return s.MyASN == s.PeerASN
}

// BGPPeerWarnings names the settings of s that are legal but have no
// effect.
func BGPPeerWarnings(s *v1beta1.BGPPeerSpec) []string {
	switch {
	case !s.EBGPMultiHop || !IsIBGP(s):
		return nil
	case s.DynamicASN != "":
		return []string{"spec.ebgpMultiHop has no effect on an iBGP session (dynamicASN is internal)"}
	}
	return []string{"spec.ebgpMultiHop has no effect on an iBGP session (myASN equals peerASN)"}
}

// ConnectTime is the connect retry interval of the session s describes:
// spec.connectTime, else DefaultConnectTime.
func ConnectTime(s *v1beta1.BGPPeerSpec) time.Duration {
	if s.ConnectTime == nil {
		return DefaultConnectTime
	}
	return s.ConnectTime.Duration
}

// ValidateConnectTime checks a connect retry interval as BGP's
// ConnectRetryTimer takes it: whole seconds, 1s to 65535s. The error says
// why, as a field detail.
func ValidateConnectTime(d time.Duration) error {
	switch {
	case d%time.Second != 0:
		return errors.New("must be a whole number of seconds")
	case d < MinConnectTime:
		return errors.New("must be at least 1s")
	case d > MaxBGPTimer:
		return errors.New("must be at most 65535s")
	}
	return nil
}

// ValidateInterfaceName checks a name the way Linux checks the name of a
// network device, VRF devices included (dev_valid_name): 1 to 15 bytes, not
// "." or "..", and no '/', ':' or white space. The error says why, as a
// field detail.
func ValidateInterfaceName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > MaxInterfaceNameLength:
		return fmt.Errorf("must be at most %d bytes long (a Linux interface name)", MaxInterfaceNameLength)
	case name == "." || name == "..":
		return errors.New(`must not be "." or ".."`)
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return errors.New("must not contain '/', ':' or white space")
	}
	return nil
}

// validateBFDProfileName checks spec.bfdProfile: an object name, on a
// session single-hop BFD can run on. IronLB's BFD is single hop only (RFC
// 5881: packets must arrive with TTL 255), so a router that
// spec.ebgpMultiHop declares not directly connected could never bring the
// BFD session up.
func validateBFDProfileName(path *field.Path, s *v1beta1.BGPPeerSpec) field.ErrorList {
	if s.BFDProfile == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range k8svalidation.IsDNS1123Subdomain(s.BFDProfile) {
		errs = append(errs, field.Invalid(path, s.BFDProfile, msg))
	}
	if s.EBGPMultiHop && !IsIBGP(s) {
		errs = append(errs, field.Invalid(path, s.BFDProfile,
			"BFD runs on single-hop sessions only (RFC 5881), and spec.ebgpMultiHop says the router is not directly connected"))
	}
	return errs
}

// ValidateASN refuses the ASNs no session may use: 0 (RFC 7607), AS_TRANS
// (RFC 6793) and the last 16-bit and 32-bit ASNs (RFC 7300). The error says
// why, as a field detail.
func ValidateASN(asn uint32) error {
	switch asn {
	case 0:
		return errors.New("AS 0 is reserved (RFC 7607)")
	case ASTrans:
		return errors.New("AS 23456 is AS_TRANS, which only stands in for a 4-byte ASN (RFC 6793)")
	case ASReserved16, ASReserved32:
		return errors.New("reserved ASN (RFC 7300)")
	}
	return nil
}

// ValidateHoldTime checks a hold time as it goes into the OPEN message:
// whole seconds, 0 (no keepalives) or 3s to 65535s. The error says why, as a
// field detail.
func ValidateHoldTime(hold time.Duration) error {
	switch {
	case hold%time.Second != 0:
		return errors.New("must be a whole number of seconds")
	case hold != 0 && hold < MinHoldTime:
		return errors.New("must be 0 or at least 3s")
	case hold > MaxBGPTimer:
		return errors.New("must be at most 65535s")
	}
	return nil
}

// ValidateKeepaliveTime checks a keepalive time against the hold time in
// force (DefaultHoldTime when spec.holdTime is unset): whole seconds, below
// the hold time, and 0 when the hold time is 0, since RFC 4271 sends no
// keepalives then. The error says why, as a field detail.
func ValidateKeepaliveTime(keepalive, hold time.Duration) error {
	switch {
	case keepalive < 0:
		return errors.New("must not be negative")
	case keepalive%time.Second != 0:
		return errors.New("must be a whole number of seconds")
	case hold == 0 && keepalive != 0:
		return errors.New("must be 0 when spec.holdTime is 0: no keepalives are sent then")
	case hold != 0 && keepalive >= hold:
		return fmt.Errorf("must be less than the hold time (%s)", hold)
	}
	return nil
}

// ParsePeerAddress parses a BGPPeer's spec.peerAddress: an IPv4 or IPv6
// unicast address without a zone. The error says why, as a field detail.
func ParsePeerAddress(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	switch {
	case err != nil || ip.Zone() != "":
		return netip.Addr{}, errors.New("must be an IPv4 or IPv6 address without a zone")
	case !ip.IsGlobalUnicast():
		return netip.Addr{}, errors.New("must be a unicast address (not loopback, link-local, multicast or unspecified)")
	}
	return ip, nil
}

// ParseSourceAddress parses a BGPPeer's spec.sourceAddress, which must be of
// the family of peer, its spec.peerAddress (when that is an address at all;
// ParsePeerAddress reports it otherwise). The error says why, as a field
// detail.
func ParseSourceAddress(source, peer string) (netip.Addr, error) {
	src, err := netip.ParseAddr(source)
	if err != nil {
		return netip.Addr{}, errors.New("must be an IP address")
	}
	if p, err := netip.ParseAddr(peer); err == nil && src.Is4() != p.Is4() {
		return netip.Addr{}, fmt.Errorf("is not of the same family as spec.peerAddress %q", peer)
	}
	return src, nil
}

// validateSecretRef checks that a Secret reference could name a Secret key.
func validateSecretRef(path *field.Path, ref *v1beta1.SecretKeyRef) field.ErrorList {
	if ref == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range k8svalidation.IsDNS1123Subdomain(ref.Name) {
		errs = append(errs, field.Invalid(path.Child("name"), ref.Name, msg))
	}
	for _, msg := range k8svalidation.IsDNS1123Label(ref.Namespace) {
		errs = append(errs, field.Invalid(path.Child("namespace"), ref.Namespace, msg))
	}
	if ref.Key != "" {
		for _, msg := range k8svalidation.IsConfigMapKey(ref.Key) {
			errs = append(errs, field.Invalid(path.Child("key"), ref.Key, msg))
		}
	}
	return errs
}

package validation

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// BFDProfile bounds and defaults, in the units of the spec: milliseconds
// for the intervals. The bounds are MetalLB's and those of speaker/bfd:
// below 10 ms a userspace daemon cannot keep its promises on a loaded node;
// above 60 s BFD is slower than BGP's own hold timer. The defaults are
// FRR's, so a router left at its own defaults negotiates the same timers.
const (
	MinBFDIntervalMillis     = 10
	MaxBFDIntervalMillis     = 60000
	DefaultBFDIntervalMillis = 300

	MinBFDDetectMultiplier     = 2
	MaxBFDDetectMultiplier     = 255
	DefaultBFDDetectMultiplier = 3

	// BFDSingleHopTTL is the only TTL (IPv4) or Hop Limit (IPv6) a
	// single-hop session accepts (RFC 5881 section 5): a packet with 255
	// left crossed no router. spec.minimumTtl may only say that.
	BFDSingleHopTTL = 255
)

// BFDSettings are what a BFDProfile asks the speaker to run, defaults
// applied: the form speaker/bfd's Profile takes.
type BFDSettings struct {
	ReceiveInterval, TransmitInterval time.Duration
	DetectMultiplier                  uint8
	PassiveMode                       bool
}

// ValidateBFDProfile checks a BFDProfile's spec: intervals of 10 to 60000
// ms, a detect multiplier of 2 to 255, no echo mode (not implemented) and a
// minimum TTL of 255 if any (single hop only). The schema checks the same;
// these rules hold where it did not run, and for the speaker.
func ValidateBFDProfile(s *v1beta1.BFDProfileSpec) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	between := func(name string, v *uint32, lo, hi uint32, unit string) {
		if v != nil && (*v < lo || *v > hi) {
			errs = append(errs, field.Invalid(spec.Child(name), *v, fmt.Sprintf("must be between %d and %d%s", lo, hi, unit)))
		}
	}
	between("receiveInterval", s.ReceiveInterval, MinBFDIntervalMillis, MaxBFDIntervalMillis, " (milliseconds)")
	between("transmitInterval", s.TransmitInterval, MinBFDIntervalMillis, MaxBFDIntervalMillis, " (milliseconds)")
	between("detectMultiplier", s.DetectMultiplier, MinBFDDetectMultiplier, MaxBFDDetectMultiplier, "")
	if s.EchoMode {
		errs = append(errs, field.Invalid(spec.Child("echoMode"), true,
			"not supported: IronLB's BFD has no echo function; failures are detected from control packets alone"))
	}
	if s.MinimumTTL != nil && *s.MinimumTTL != BFDSingleHopTTL {
		errs = append(errs, field.Invalid(spec.Child("minimumTtl"), *s.MinimumTTL,
			"must be 255: IronLB runs single-hop BFD only, which accepts packets with TTL 255 alone (RFC 5881 section 5)"))
	}
	return errs
}

// BFDProfileSettings returns what s asks the speaker to run, defaults
// applied, and the errors of [ValidateBFDProfile]: a speaker runs no BFD
// session with a profile that has any.
func BFDProfileSettings(s *v1beta1.BFDProfileSpec) (BFDSettings, field.ErrorList) {
	or := func(v *uint32, def uint32) uint32 {
		if v == nil {
			return def
		}
		return *v
	}
	errs := ValidateBFDProfile(s)
	if len(errs) > 0 {
		return BFDSettings{}, errs
	}
	return BFDSettings{
		ReceiveInterval:  time.Duration(or(s.ReceiveInterval, DefaultBFDIntervalMillis)) * time.Millisecond,
		TransmitInterval: time.Duration(or(s.TransmitInterval, DefaultBFDIntervalMillis)) * time.Millisecond,
		DetectMultiplier: uint8(or(s.DetectMultiplier, DefaultBFDDetectMultiplier)),
		PassiveMode:      s.PassiveMode,
	}, nil
}

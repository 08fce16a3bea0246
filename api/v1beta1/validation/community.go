package validation

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LargeCommunityPrefix marks a large community in
// BGPAdvertisement spec.communities: "large:a:b:c".
const LargeCommunityPrefix = "large:"

// ReservedGlobalAdmin is the large-community global administrator IronLB
// keeps for itself. The speaker tags every route with large communities of
// this global administrator to say which peers may receive it, and strips
// them all on export (speaker/bgp): an operator's community with it would be
// stripped too, or steer a route to peers it is not meant for. RFC 8092
// section 5 reserves it (with 0 and 65535: RFC 7300's last ASN) and says
// operators SHOULD NOT use it, so refusing it costs nobody a real ASN.
const ReservedGlobalAdmin uint32 = math.MaxUint32

// LargeCommunity is a BGP large community (RFC 8092).
type LargeCommunity struct{ Global, Local1, Local2 uint32 }

func (l LargeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", l.Global, l.Local1, l.Local2)
}

// ParseCommunity parses a standard community "a:b", each part 0-65535
// (RFC 1997). Errors say what is wrong without repeating s.
func ParseCommunity(s string) (uint32, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 2 {
		return 0, errors.New("want two numbers a:b (each 0-65535)")
	}
	var v uint32
	for i, part := range parts {
		n, err := parseUint(part, 16)
		if err != nil {
			return 0, fmt.Errorf("part %d %w", i+1, err)
		}
		v = v<<16 | n
	}
	return v, nil
}

// ParseLargeCommunity parses a large community "a:b:c" (or "large:a:b:c"),
// each part 0-4294967295, refusing ReservedGlobalAdmin as a. Errors say what
// is wrong without repeating s.
func ParseLargeCommunity(s string) (LargeCommunity, error) {
	parts := strings.Split(strings.TrimPrefix(s, LargeCommunityPrefix), ":")
	if len(parts) != 3 {
		return LargeCommunity{}, errors.New("want three numbers a:b:c (each 0-4294967295)")
	}
	var n [3]uint32
	for i, part := range parts {
		v, err := parseUint(part, 32)
		if err != nil {
			return LargeCommunity{}, fmt.Errorf("part %d %w", i+1, err)
		}
		n[i] = v
	}
	l := LargeCommunity{n[0], n[1], n[2]}
	if l.Global == ReservedGlobalAdmin {
		return LargeCommunity{}, fmt.Errorf("global administrator %d is reserved (RFC 8092 section 5); IronLB uses it internally to steer routes to peers", ReservedGlobalAdmin)
	}
	return l, nil
}

// parseUint parses one part of a community. It checks the digits itself so
// that the message tells a part that is no number from one out of range.
func parseUint(s string, bits int) (uint32, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range 0-%d", s, uint64(1)<<bits-1)
	}
	return uint32(v), nil
}

// ValidateCommunity checks one entry of BGPAdvertisement spec.communities:
// "a:b" or "large:a:b:c".
func ValidateCommunity(s string) error {
	if rest, ok := strings.CutPrefix(s, LargeCommunityPrefix); ok {
		_, err := ParseLargeCommunity(rest)
		return err
	}
	_, err := ParseCommunity(s)
	return err
}

// ValidateCommunities reports the entries of spec.communities (at path) the
// speaker could not announce.
func ValidateCommunities(path *field.Path, communities []string) field.ErrorList {
	var errs field.ErrorList
	for i, c := range communities {
		if err := ValidateCommunity(c); err != nil {
			errs = append(errs, field.Invalid(path.Index(i), c, err.Error()))
		}
	}
	return errs
}

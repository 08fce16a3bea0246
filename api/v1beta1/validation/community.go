package validation

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
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

// wellKnownCommunities are the standard communities IANA names, by the
// names FRR and most routers use for them. Their names are reserved: no
// Community alias may take one.
var wellKnownCommunities = map[string]uint32{
	"graceful-shutdown":   0xFFFF0000, // 65535:0, RFC 8326
	"accept-own":          0xFFFF0001, // 65535:1, RFC 7611
	"llgr-stale":          0xFFFF0006, // 65535:6, RFC 9494
	"no-llgr":             0xFFFF0007, // 65535:7, RFC 9494
	"blackhole":           0xFFFF029A, // 65535:666, RFC 7999
	"no-export":           0xFFFFFF01, // 65535:65281, RFC 1997
	"no-advertise":        0xFFFFFF02, // 65535:65282, RFC 1997
	"no-export-subconfed": 0xFFFFFF03, // 65535:65283, RFC 1997
	"no-peer":             0xFFFFFF04, // 65535:65284, RFC 3765
}

// WellKnownCommunity returns the value of a well-known community name
// ("no-export", "blackhole", ...), in any case, and whether name is one.
func WellKnownCommunity(name string) (uint32, bool) {
	v, ok := wellKnownCommunities[strings.ToLower(name)]
	return v, ok
}

// WellKnownCommunityNames lists the well-known community names, sorted.
func WellKnownCommunityNames() []string {
	return slices.Sorted(maps.Keys(wellKnownCommunities))
}

// FormatCommunity writes a standard community as "a:b".
func FormatCommunity(v uint32) string {
	return fmt.Sprintf("%d:%d", v>>16, v&0xFFFF)
}

// ParseCommunity parses a standard community "a:b", each part 0-65535
// (RFC 1997), or a well-known name ([WellKnownCommunity]). Errors say what
// is wrong without repeating s.
func ParseCommunity(s string) (uint32, error) {
	if v, ok := WellKnownCommunity(s); ok {
		return v, nil
	}
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

// ValidateCommunity checks one community value: "a:b", "large:a:b:c" or a
// well-known name. Alias names are not values: see [ResolveCommunities].
func ValidateCommunity(s string) error {
	_, err := canonicalCommunity(s)
	return err
}

// canonicalCommunity parses a community value and writes it the one way
// the speaker announces it: "a:b" (well-known names too) or "large:a:b:c",
// in decimal without leading zeros.
func canonicalCommunity(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, LargeCommunityPrefix); ok {
		l, err := ParseLargeCommunity(rest)
		if err != nil {
			return "", err
		}
		return LargeCommunityPrefix + l.String(), nil
	}
	v, err := ParseCommunity(s)
	if err != nil {
		return "", err
	}
	return FormatCommunity(v), nil
}

// ValidateCommunities reports the entries of spec.communities (at path) the
// speaker could not announce without knowing any Community alias: an alias
// name is reported as unknown. [ResolveCommunities] knows the aliases.
func ValidateCommunities(path *field.Path, communities []string) field.ErrorList {
	_, errs := resolveCommunities(path, communities, nil)
	return errs
}

// ResolveCommunities is the one reading of a BGPAdvertisement's
// spec.communities, for admission and the speaker alike: each entry is a
// standard community "a:b", a large one "large:a:b:c", a well-known name
// (any case) or the name of an alias in aliases (alias name to value, from
// [CommunityAliases]). It returns the values to announce, written as
// canonicalCommunity does ("a:b" or "large:a:b:c"), each once, in the
// order of entries, and an error under spec.communities[i] for each entry
// that is none of these: the speaker announces nothing for an
// advertisement with any (docs/api.md).
func ResolveCommunities(entries []string, aliases map[string]string) ([]string, field.ErrorList) {
	return resolveCommunities(field.NewPath("spec", "communities"), entries, aliases)
}

func resolveCommunities(path *field.Path, entries []string, aliases map[string]string) ([]string, field.ErrorList) {
	var out []string
	var errs field.ErrorList
	for i, e := range entries {
		v, err := resolveCommunity(path.Index(i), e, aliases)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, errs
}

func resolveCommunity(path *field.Path, entry string, aliases map[string]string) (string, *field.Error) {
	if !IsCommunityAlias(entry) {
		v, err := canonicalCommunity(entry)
		if err != nil {
			return "", field.Invalid(path, entry, err.Error())
		}
		return v, nil
	}
	value, ok := aliases[entry]
	if !ok {
		e := field.NotFound(path, entry)
		e.Detail = "no Community object defines this alias (or several define it with different values), " +
			"and it is not a well-known community name (" + strings.Join(WellKnownCommunityNames(), ", ") + ")"
		return "", e
	}
	v, err := canonicalCommunity(value)
	if err != nil {
		return "", field.Invalid(path, entry, fmt.Sprintf("the Community alias stands for %q: %v", value, err))
	}
	return v, nil
}

// IsCommunityAlias reports whether an entry of spec.communities names a
// Community alias rather than giving a value: it has no ':' (as every
// standard and large community has) and is no well-known name.
func IsCommunityAlias(entry string) bool {
	if strings.Contains(entry, ":") {
		return false
	}
	_, known := WellKnownCommunity(entry)
	return !known
}

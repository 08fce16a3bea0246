package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Family is an IP address family.
type Family int

// The address families. The zero Family is invalid, so a forgotten field is
// caught instead of silently meaning IPv4.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6", as spelled in a Service's spec.ipFamilies.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// FamilyOf returns the family of ip.
func FamilyOf(ip netip.Addr) Family {
	if ip.Is4() {
		return IPv4
	}
	return IPv6
}

func (f Family) valid() bool { return f == IPv4 || f == IPv6 }

// FamilyPolicy is a Service's spec.ipFamilyPolicy.
type FamilyPolicy int

// The family policies. The zero value is SingleStack, Kubernetes' default.
const (
	// SingleStack assigns one address, of the Service's first family.
	SingleStack FamilyPolicy = iota
	// PreferDualStack assigns one address of each family when one pool
	// that admits the Service can give both, else one address.
	PreferDualStack
	// RequireDualStack assigns one address of each family or fails.
	RequireDualStack
)

// String returns the policy as spelled in spec.ipFamilyPolicy.
func (p FamilyPolicy) String() string {
	switch p {
	case SingleStack:
		return "SingleStack"
	case PreferDualStack:
		return "PreferDualStack"
	case RequireDualStack:
		return "RequireDualStack"
	}
	return fmt.Sprintf("FamilyPolicy(%d)", int(p))
}

// Range is an inclusive span of addresses of one family, First <= Last.
type Range struct {
	First, Last netip.Addr
}

// ErrInvalidRange is wrapped by every error of [ParseRange] and by the
// range errors of [Allocator.SetPools].
var ErrInvalidRange = errors.New("invalid address range")

// ParseRange parses one entry of an IPAddressPool's spec.addresses:
//
//   - a CIDR, "192.0.2.0/28" or "2001:db8::/64", which must be canonical
//     (no host bits set: "192.0.2.1/28" is rejected, since it is most likely
//     a typo and silently widening it would hand out unexpected addresses);
//   - an inclusive range, "198.51.100.10-198.51.100.20", whose ends are of
//     one family and in ascending order;
//   - a single address, "192.0.2.7", the same as a /32 or /128.
//
// IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) and zoned addresses are
// rejected: the pool should list the IPv4 address itself. So is an entry
// touching a special block (see [Range.CheckSpecial]). Surrounding spaces
// are ignored. Every error is a [*RangeError], wraps [ErrInvalidRange] and
// quotes s.
func ParseRange(s string) (Range, error) {
	r, err := parseRange(s)
	if err == nil {
		err = r.CheckSpecial()
	}
	if err != nil {
		return Range{}, &RangeError{Entry: s, Reason: err.Error()}
	}
	return r, nil
}

// RangeError is why ParseRange refused an entry.
type RangeError struct {
	// Entry is the entry as given.
	Entry string
	// Reason says what is wrong with it, without repeating it.
	Reason string
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s %q: %s", ErrInvalidRange, e.Entry, e.Reason)
}

// Unwrap returns ErrInvalidRange.
func (e *RangeError) Unwrap() error { return ErrInvalidRange }

// parseRange is ParseRange's syntax; its errors are bare reasons, without
// the entry.
func parseRange(s string) (Range, error) {
	entry := strings.TrimSpace(s)
	switch {
	case strings.Contains(entry, "/"):
		p, err := netip.ParsePrefix(entry)
		switch {
		case err != nil:
			return Range{}, errors.New("not a valid CIDR")
		case p.Addr().Is4In6():
			return Range{}, errors.New("IPv4-mapped IPv6 addresses are not allowed; write the IPv4 address instead")
		case p.Masked() != p:
			return Range{}, fmt.Errorf("host bits are set; the CIDR is %s", p.Masked())
		}
		return prefixRange(p), nil
	case strings.Contains(entry, "-"):
		from, to, _ := strings.Cut(entry, "-")
		first, err := parseAddr(strings.TrimSpace(from))
		if err != nil {
			return Range{}, fmt.Errorf("start of range: %w", err)
		}
		last, err := parseAddr(strings.TrimSpace(to))
		if err != nil {
			return Range{}, fmt.Errorf("end of range: %w", err)
		}
		if first.Is4() != last.Is4() {
			return Range{}, errors.New("range mixes IPv4 and IPv6 addresses")
		}
		if last.Less(first) {
			return Range{}, fmt.Errorf("range is reversed: %s comes after %s", first, last)
		}
		return Range{First: first, Last: last}, nil
	default:
		ip, err := parseAddr(entry)
		if err != nil {
			return Range{}, err
		}
		return Range{First: ip, Last: ip}, nil
	}
}

// parseAddr parses a plain address, rejecting zones and IPv4-mapped IPv6.
func parseAddr(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	case ip.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%s has a zone, which pool addresses cannot have", s)
	case ip.Is4In6():
		return netip.Addr{}, fmt.Errorf("%s is an IPv4-mapped IPv6 address; write %s instead", s, ip.Unmap())
	}
	return ip, nil
}

// special are the blocks no pool may touch, lowest first in each family, so
// that an entry spanning several is told about the first.
var special = []struct {
	block netip.Prefix
	what  string // for the message: an address (single) or a kind of address (block)
	why   string
}{
	{netip.MustParsePrefix("0.0.0.0/32"), "the unspecified address", notExternal},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback addresses", notExternal},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local addresses", notExternal},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast addresses", notExternal},
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address", notExternal},
	{netip.MustParsePrefix("::/128"), "the unspecified address", notExternal},
	{netip.MustParsePrefix("::1/128"), "the loopback address", notExternal},
	// The allocator keys IPv4 addresses by this very form: an IPv6 range
	// over it would hand out ::ffff:0.0.0.0 and clash with 0.0.0.0.
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped IPv6 addresses", "which stand for IPv4 addresses; list IPv4 addresses as IPv4"},
	{netip.MustParsePrefix("fe80::/10"), "link-local addresses", notExternal},
	{netip.MustParsePrefix("ff00::/8"), "multicast addresses", notExternal},
}

const notExternal = "which cannot be a Service's external IP"

// CheckSpecial reports, as an error naming the block, whether r touches
// addresses no Service may be given: unspecified, loopback, link-local,
// multicast, IPv4 broadcast, or IPv4-mapped IPv6. It is the one rule for
// admission, the controller's pool validation and the allocator.
func (r Range) CheckSpecial() error {
	for _, s := range special {
		b := prefixRange(s.block)
		if r.First.Is4() != b.First.Is4() || r.Last.Less(b.First) || b.Last.Less(r.First) {
			continue
		}
		if s.block.IsSingleIP() {
			return fmt.Errorf("includes %s %s, %s", s.what, s.block.Addr(), s.why)
		}
		return fmt.Errorf("includes %s (%s), %s", s.what, s.block, s.why)
	}
	return nil
}

// prefixRange returns the addresses of the canonical prefix p.
func prefixRange(p netip.Prefix) Range {
	first := p.Addr()
	f := FamilyOf(first)
	host := hostMask(f, p.Bits())
	return Range{First: first, Last: u128Of(first).add(host).addr(f)}
}

// hostMask returns the host part of a prefix of the given length: the low
// (family bits - length) bits set.
func hostMask(f Family, length int) u128 {
	n := 128 - length
	if f == IPv4 {
		n = 32 - length
	}
	switch {
	case n <= 0:
		return u128{}
	case n >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case n >= 64:
		return u128{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	}
	return u128{lo: 1<<n - 1}
}

// Family returns the family of the range's addresses.
func (r Range) Family() Family { return FamilyOf(r.First) }

// Contains reports whether ip lies in r.
func (r Range) Contains(ip netip.Addr) bool {
	return ip.Is4() == r.First.Is4() && r.First.Compare(ip) <= 0 && ip.Compare(r.Last) <= 0
}

// String returns r the way a user would write it: a single address, a CIDR
// when r is exactly one, else "first-last".
func (r Range) String() string {
	if !r.First.IsValid() || !r.Last.IsValid() {
		return "invalid range"
	}
	if r.First == r.Last {
		return r.First.String()
	}
	span := u128Of(r.Last).sub(u128Of(r.First))
	if r.First.Is4() == r.Last.Is4() && span.and(span.inc()).isZero() && u128Of(r.First).and(span).isZero() {
		bits := r.First.BitLen() - span.onesCount()
		return netip.PrefixFrom(r.First, bits).String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// validate checks a Range built by hand rather than by ParseRange.
func (r Range) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidRange, r, fmt.Sprintf(format, args...))
	}
	switch {
	case !r.First.IsValid() || !r.Last.IsValid():
		return fmt.Errorf("%w: an end of the range is not set", ErrInvalidRange)
	case r.First.Zone() != "" || r.Last.Zone() != "":
		return bad("zoned addresses are not allowed")
	case r.First.Is4In6() || r.Last.Is4In6():
		return bad("IPv4-mapped IPv6 addresses are not allowed")
	case r.First.Is4() != r.Last.Is4():
		return bad("range mixes IPv4 and IPv6 addresses")
	case r.Last.Less(r.First):
		return bad("range is reversed")
	}
	if err := r.CheckSpecial(); err != nil {
		return bad("%v", err)
	}
	return nil
}

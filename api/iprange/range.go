// Package iprange is the one parser of pool address entries: the syntax
// users write in an IPAddressPool's spec.addresses, the blocks no entry may
// touch, and the range arithmetic admission, the controller and the speaker
// all apply. It depends on nothing but the standard library.
package iprange

import (
	"errors"
	"fmt"
	"math/bits"
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

// Valid reports whether f is IPv4 or IPv6 (the zero Family is neither).
func (f Family) Valid() bool { return f == IPv4 || f == IPv6 }

// Range is an inclusive span of addresses of one family, First <= Last.
type Range struct {
	First, Last netip.Addr
}

// ErrInvalid is wrapped by every error of [Parse] and by the
// range errors of the allocator.
var ErrInvalid = errors.New("invalid address range")

// Parse parses one entry of an IPAddressPool's spec.addresses:
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
// are ignored. Every error is a [*ParseError], wraps [ErrInvalid] and
// quotes s.
func Parse(s string) (Range, error) {
	r, err := parseRange(s)
	if err == nil {
		err = r.CheckSpecial()
	}
	if err != nil {
		return Range{}, &ParseError{Entry: s, Reason: err.Error()}
	}
	return r, nil
}

// ParseError is why Parse refused an entry.
type ParseError struct {
	// Entry is the entry as given.
	Entry string
	// Reason says what is wrong with it, without repeating it.
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s %q: %s", ErrInvalid, e.Entry, e.Reason)
}

// Unwrap returns ErrInvalid.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// parseRange is Parse's syntax; its errors are bare reasons, without
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
		return FromPrefix(p), nil
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
		b := FromPrefix(s.block)
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

// FromPrefix returns the addresses of p (its host bits are ignored).
func FromPrefix(p netip.Prefix) Range {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return Range{First: p.Addr(), Last: last}
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
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// Prefix returns the CIDR r is exactly, if it is one.
func (r Range) Prefix() (netip.Prefix, bool) {
	if r.First.Is4() != r.Last.Is4() || r.Last.Less(r.First) {
		return netip.Prefix{}, false
	}
	// The prefix length is the length of the ends' common leading bits; r
	// is that prefix when First has no host bits and Last all of them.
	a, b := r.First.AsSlice(), r.Last.AsSlice()
	n := 0
	for i := range a {
		x := a[i] ^ b[i]
		if x != 0 {
			n = 8*i + bits.LeadingZeros8(x)
			break
		}
		n = 8 * (i + 1)
	}
	p := netip.PrefixFrom(r.First, n)
	if p.Masked().Addr() != r.First || FromPrefix(p).Last != r.Last {
		return netip.Prefix{}, false
	}
	return p, true
}

// Overlaps reports whether r and o share an address.
func (r Range) Overlaps(o Range) bool {
	return r.Family() == o.Family() && r.First.Compare(o.Last) <= 0 && o.First.Compare(r.Last) <= 0
}

// Validate checks a Range built by hand rather than by Parse: the same
// rules, as an error wrapping ErrInvalid.
func (r Range) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalid, r, fmt.Sprintf(format, args...))
	}
	switch {
	case !r.First.IsValid() || !r.Last.IsValid():
		return fmt.Errorf("%w: an end of the range is not set", ErrInvalid)
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

package iprange

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"testing"
)

// The fuzz targets of this file check Parse and Range.String against
// an oracle written from the documented rules (Parse's doc comment and
// README "Configuring pools"), not from the code: the netip parsers for the
// syntax, a separate copy of the special blocks for CheckSpecial and
// math/big for the arithmetic. Run one with
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 20s ./api/iprange/

// fzSpecial are the blocks no pool entry may touch (README: IPv4-mapped,
// loopback, link-local, multicast, unspecified, broadcast).
var fzSpecial = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/32"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::ffff:0:0/96"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// fzBig is the numeric value of an address.
func fzBig(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

// fzLastOf returns the last address of the canonical prefix p.
func fzLastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// fzTouchesSpecial reports whether [first, last] overlaps a special block.
func fzTouchesSpecial(first, last netip.Addr) bool {
	for _, p := range fzSpecial {
		if p.Addr().Is4() != first.Is4() {
			continue
		}
		if p.Contains(first) || (first.Less(p.Addr()) && !last.Less(p.Addr())) {
			return true
		}
	}
	return false
}

// fzPlainAddr parses one address the way a pool entry may spell it: no
// zone, not IPv4-mapped.
func fzPlainAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, false
	}
	return a, true
}

// fzExpectRange is the oracle: the range s denotes, and whether its syntax
// is valid (special blocks aside).
func fzExpectRange(s string) (first, last netip.Addr, ok bool) {
	e := strings.TrimSpace(s)
	switch {
	case strings.Contains(e, "/"):
		p, err := netip.ParsePrefix(e)
		if err != nil || p.Addr().Is4In6() || p.Masked() != p {
			return first, last, false
		}
		return p.Addr(), fzLastOf(p), true
	case strings.Contains(e, "-"):
		parts := strings.Split(e, "-")
		if len(parts) != 2 {
			return first, last, false
		}
		a, okA := fzPlainAddr(strings.TrimSpace(parts[0]))
		b, okB := fzPlainAddr(strings.TrimSpace(parts[1]))
		if !okA || !okB || a.Is4() != b.Is4() || b.Less(a) {
			return first, last, false
		}
		return a, b, true
	}
	a, ok := fzPlainAddr(e)
	return a, a, ok
}

// fzCheckRange checks the properties every accepted range has.
func fzCheckRange(t *testing.T, in string, r Range) {
	t.Helper()
	switch {
	case !r.First.IsValid() || !r.Last.IsValid():
		t.Fatalf("Parse(%q) = %#v: an end is not set", in, r)
	case r.First.Zone() != "" || r.Last.Zone() != "" || r.First.Is4In6() || r.Last.Is4In6():
		t.Fatalf("Parse(%q) = %v: zoned or IPv4-mapped end", in, r)
	case r.First.Is4() != r.Last.Is4():
		t.Fatalf("Parse(%q) = %v: ends of two families", in, r)
	case r.Last.Less(r.First):
		t.Fatalf("Parse(%q) = %v: reversed", in, r)
	case r.Family() != FamilyOf(r.First) || r.Family() != FamilyOf(r.Last) || !r.Family().Valid():
		t.Fatalf("Parse(%q) = %v: family %v inconsistent with its ends", in, r, r.Family())
	case !r.Contains(r.First) || !r.Contains(r.Last):
		t.Fatalf("Parse(%q) = %v does not contain its own ends", in, r)
	}
	if r.First.Is4() && r.Contains(netip.AddrFrom16(r.First.As16())) {
		t.Fatalf("%v contains the IPv4-mapped form of its first address", r)
	}
	// Special blocks, by netip's own predicates at the ends and by overlap
	// for what lies between.
	for _, a := range []netip.Addr{r.First, r.Last} {
		if a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			t.Fatalf("Parse(%q) accepted %v, which ends in the special address %s", in, r, a)
		}
	}
	if fzTouchesSpecial(r.First, r.Last) {
		t.Fatalf("Parse(%q) accepted %v, which touches a special block", in, r)
	}
	if err := r.CheckSpecial(); err != nil {
		t.Fatalf("Parse(%q) accepted %v, but CheckSpecial says %v", in, r, err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Parse(%q) accepted %v, but validate says %v", in, r, err)
	}
	fzCheckString(t, r)
}

// fzCheckString checks that r.String() is the canonical spelling of r:
// Parse reads it back to r, it is a fixed point, and it is a CIDR
// exactly when r is an aligned block of more than one address.
func fzCheckString(t *testing.T, r Range) {
	t.Helper()
	s := r.String()
	back, err := Parse(s)
	if err != nil {
		t.Fatalf("%#v prints as %q, which Parse refuses: %v", r, s, err)
	}
	if back != r {
		t.Fatalf("%#v prints as %q, which parses to %#v", r, s, back)
	}
	if again := back.String(); again != s {
		t.Fatalf("String is not a fixed point: %q, then %q", s, again)
	}
	if strings.TrimSpace(s) != s {
		t.Fatalf("String %q has surrounding space", s)
	}
	first, last := fzBig(r.First), fzBig(r.Last)
	size := new(big.Int).Sub(last, first)
	size.Add(size, big.NewInt(1))
	aligned := size.Cmp(big.NewInt(1)) > 0 && size.BitLen()-1 == int(size.TrailingZeroBits()) &&
		new(big.Int).Mod(first, size).Sign() == 0
	switch {
	case r.First == r.Last:
		if s != r.First.String() {
			t.Fatalf("single address %v prints as %q", r.First, s)
		}
	case aligned:
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr() != r.First || p.Bits() != r.First.BitLen()-(size.BitLen()-1) {
			t.Fatalf("aligned block %v..%v of %v addresses prints as %q", r.First, r.Last, size, s)
		}
	default:
		if s != r.First.String()+"-"+r.Last.String() {
			t.Fatalf("unaligned range %v..%v prints as %q", r.First, r.Last, s)
		}
	}
}

// FuzzParse checks Parse against the oracle above: it accepts
// exactly the entries whose syntax is valid and that touch no special block,
// with the range the oracle computes; every refusal is a *ParseError
// quoting the entry and wrapping ErrInvalid (naming the block for a
// special one); surrounding space changes nothing; an accepted range is of
// one family, passes validate and CheckSpecial, and its String parses back
// to it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		// Accepted forms.
		"192.0.2.0/28", "192.0.2.7/32", "192.0.0.0/3", "2001:db8::/64", "2000::/3", "2001:db8::/63",
		"198.51.100.10-198.51.100.20", " 198.51.100.10 - 198.51.100.20 ", "198.51.100.10-198.51.100.10",
		"2001:db8::10-2001:db8::1:0", "192.0.2.7", "2001:db8::7", "192.0.2.0-192.0.2.255",
		"::fffe:ffff:ff00-::fffe:ffff:ffff", "::1:0:0:0/112", "126.255.255.0/24", "169.255.0.0/24",
		"223.255.255.0/24", "fec0::/64", "feff::/16", "::2-::ff", "255.255.255.254", "1.0.0.0/8",
		"128.0.0.0/1", "8000::/1", "\t198.51.100.0/31\n",
		// Refused syntax.
		"", " ", "-", "/", "--", "1.2.3.4-", "-1.2.3.4", "1.2.3.4-1.2.3.5-1.2.3.6", "198.51.100.20-198.51.100.10",
		"198.51.100.10-2001:db8::1", "not-an-ip", "192.0.2.0/33", "192.0.2.1/28", "2001:db8::1/64",
		"::ffff:192.0.2.0/120", "::ffff:192.0.2.1", "fe80::1%eth0", "2001:db8::1%eth-0", "2001:db8::1%a/64",
		"2001:db8::7%eth0", "2001:db8::1-2001:db8::5%eth0",
		"192.0.2.0/024", "192.0.2.0/-1", "01.2.3.4", "1.2.3.4/32-1.2.3.5", "1.2.3.4-::ffff:1.2.3.5",
		"[2001:db8::1]", "192.0.2.0 /28", "192.0.2.0/ 28",
		// Refused as special.
		"::fffe:ffff:ffff-::1:0:0:0", "::fffe:0:0/95", "127.0.0.0/30", "126.255.255.250-127.0.0.1", "::1",
		"169.254.10.0/24", "fe80::/64", "224.0.0.0/28", "ff02::/120", "0.0.0.0/32", "::/128",
		"255.255.255.0-255.255.255.255", "0.0.0.0/0", "::/0", "0.0.0.0-0.0.0.1", "::-::5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		first, last, syntaxOK := fzExpectRange(s)
		special := syntaxOK && fzTouchesSpecial(first, last)

		if err != nil {
			var re *ParseError
			switch {
			case !errors.As(err, &re):
				t.Fatalf("Parse(%q): error %T %v is not a *ParseError", s, err, err)
			case !errors.Is(err, ErrInvalid):
				t.Fatalf("Parse(%q): %v does not wrap ErrInvalid", s, err)
			case re.Entry != s || re.Reason == "":
				t.Fatalf("Parse(%q): ParseError %#v does not carry the entry and a reason", s, re)
			case err.Error() != fmt.Sprintf("%v %q: %s", ErrInvalid, s, re.Reason):
				t.Fatalf("Parse(%q): message %q does not quote the entry", s, err)
			case r != Range{}:
				t.Fatalf("Parse(%q) returned %v with its error", s, r)
			}
			if syntaxOK && !special {
				t.Fatalf("Parse(%q) refused %v..%v, a valid entry: %v", s, first, last, err)
			}
			if special && !strings.HasPrefix(re.Reason, "includes ") {
				t.Fatalf("Parse(%q) refused a special range without naming the block: %v", s, err)
			}
		} else {
			if !syntaxOK {
				t.Fatalf("Parse(%q) = %v, want an error: the entry is malformed", s, r)
			}
			if special {
				t.Fatalf("Parse(%q) = %v, want an error: it touches a special block", s, r)
			}
			if r.First != first || r.Last != last {
				t.Fatalf("Parse(%q) = %v..%v, want %v..%v", s, r.First, r.Last, first, last)
			}
			fzCheckRange(t, s, r)
		}

		// Surrounding space is ignored.
		r2, err2 := Parse(" \t" + s + "\n ")
		if (err == nil) != (err2 == nil) || r2 != r {
			t.Fatalf("Parse(%q) = %v, %v but with spaces around = %v, %v", s, r, err, r2, err2)
		}
	})
}

// fzAddr builds an address of the family v6 asks for from the first bytes
// of b, zero-padded.
func fzAddr(b []byte, v6 bool) netip.Addr {
	var a [16]byte
	copy(a[:], b)
	if v6 {
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte(a[:4]))
}

// FuzzRangeString checks Range.String on arbitrary ranges rather than on
// parsed entries, which rarely reach aligned IPv6 blocks: a range that
// validate accepts prints as an entry Parse reads back to the same
// range (a CIDR exactly when it is an aligned block); a range validate
// refuses (special, IPv4-mapped) prints as one Parse refuses too; and
// CheckSpecial agrees with the oracle's overlap test.
func FuzzRangeString(f *testing.F) {
	f.Add([]byte{192, 0, 2, 0}, []byte{192, 0, 2, 255}, false)
	f.Add([]byte{198, 51, 100, 10}, []byte{198, 51, 100, 20}, false)
	f.Add([]byte{192, 0, 2, 1}, []byte{192, 0, 2, 2}, false)
	f.Add([]byte{203, 0, 113, 7}, []byte{203, 0, 113, 7}, false)
	f.Add([]byte{127, 0, 0, 1}, []byte{127, 0, 0, 1}, false)
	f.Add([]byte{0, 0, 0, 0}, []byte{255, 255, 255, 255}, false)
	f.Add([]byte{0x20, 0x01, 0x0d, 0xb8}, []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true)
	f.Add([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 9}, true)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff}, []byte{0, 0, 0, 0, 0, 0, 0, 1}, true)
	f.Add([]byte{0xfe, 0xc0}, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true)
	f.Fuzz(func(t *testing.T, a, b []byte, v6 bool) {
		first, last := fzAddr(a, v6), fzAddr(b, v6)
		if last.Less(first) {
			first, last = last, first
		}
		r := Range{First: first, Last: last}
		mapped := first.Is4In6() || last.Is4In6()
		special := fzTouchesSpecial(first, last)
		if got := r.CheckSpecial() != nil; got != special && !mapped {
			t.Fatalf("%v: CheckSpecial says special = %v, the oracle %v", r, got, special)
		}
		verr := r.Validate()
		if (verr == nil) != (!special && !mapped) {
			t.Fatalf("%v: validate = %v, but special = %v, IPv4-mapped = %v", r, verr, special, mapped)
		}
		if verr != nil {
			if !errors.Is(verr, ErrInvalid) {
				t.Fatalf("validate error %v does not wrap ErrInvalid", verr)
			}
			if got, err := Parse(r.String()); err == nil {
				t.Fatalf("%#v is invalid (%v) but prints as %q, which parses to %v", r, verr, r.String(), got)
			}
			return
		}
		fzCheckString(t, r)
	})
}

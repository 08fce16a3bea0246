package iprange

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Range
		wantErr string // substring of the error; "" = success
	}{
		{name: "IPv4 CIDR", in: "192.0.2.0/28", want: rng("192.0.2.0", "192.0.2.15")},
		{name: "IPv4 /32", in: "192.0.2.7/32", want: rng("192.0.2.7", "192.0.2.7")},
		{name: "IPv4 /3", in: "192.0.0.0/3", want: rng("192.0.0.0", "223.255.255.255")},
		{name: "IPv6 /64", in: "2001:db8::/64", want: rng("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff")},
		{name: "IPv6 /32", in: "2001:db8::/32", want: rng("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")},
		{name: "IPv6 /3", in: "2000::/3", want: rng("2000::", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
		{name: "IPv6 /63 crosses the 64-bit halves", in: "2001:db8::/63", want: rng("2001:db8::", "2001:db8:0:1:ffff:ffff:ffff:ffff")},
		{name: "IPv4 range", in: "198.51.100.10-198.51.100.20", want: rng("198.51.100.10", "198.51.100.20")},
		{name: "range with spaces", in: " 198.51.100.10 - 198.51.100.20 ", want: rng("198.51.100.10", "198.51.100.20")},
		{name: "one-address range", in: "198.51.100.10-198.51.100.10", want: rng("198.51.100.10", "198.51.100.10")},
		{name: "IPv6 range", in: "2001:db8::10-2001:db8::1:0", want: rng("2001:db8::10", "2001:db8::1:0")},
		{name: "single IPv4 address", in: "192.0.2.7", want: rng("192.0.2.7", "192.0.2.7")},
		{name: "single IPv6 address", in: "2001:db8::7", want: rng("2001:db8::7", "2001:db8::7")},

		{name: "reversed range", in: "198.51.100.20-198.51.100.10", wantErr: `invalid address range "198.51.100.20-198.51.100.10": range is reversed`},
		{name: "mixed families", in: "198.51.100.10-2001:db8::1", wantErr: "mixes IPv4 and IPv6"},
		{name: "garbage", in: "not-an-ip", wantErr: `invalid address range "not-an-ip": start of range: "not" is not an IP address`},
		{name: "garbage CIDR", in: "192.0.2.0/33", wantErr: `invalid address range "192.0.2.0/33": not a valid CIDR`},
		{name: "empty", in: "", wantErr: `invalid address range ""`},
		{name: "non-canonical CIDR", in: "192.0.2.1/28", wantErr: `invalid address range "192.0.2.1/28": host bits are set; the CIDR is 192.0.2.0/28`},
		{name: "non-canonical IPv6 CIDR", in: "2001:db8::1/64", wantErr: "the CIDR is 2001:db8::/64"},
		{name: "IPv4-mapped CIDR", in: "::ffff:192.0.2.0/120", wantErr: "IPv4-mapped"},
		{name: "IPv4-mapped address", in: "::ffff:192.0.2.1", wantErr: "write 192.0.2.1 instead"},
		{name: "zoned address", in: "fe80::1%eth0", wantErr: "zone"},
		{name: "missing end", in: "192.0.2.1-", wantErr: "end of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// A /0 is no pool entry (it holds special addresses), but the prefix
// arithmetic must still cover every host bit.
func TestPrefixRangeWholeSpace(t *testing.T) {
	for in, want := range map[string]Range{
		"0.0.0.0/0": rng("0.0.0.0", "255.255.255.255"),
		"::/0":      rng("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	} {
		if got := FromPrefix(netip.MustParsePrefix(in)); got != want {
			t.Errorf("FromPrefix(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestRangeString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "CIDR stays a CIDR", in: "192.0.2.0/28", want: "192.0.2.0/28"},
		{name: "aligned range prints as CIDR", in: "192.0.2.0-192.0.2.255", want: "192.0.2.0/24"},
		{name: "unaligned range", in: "198.51.100.10-198.51.100.20", want: "198.51.100.10-198.51.100.20"},
		{name: "power-of-two size, unaligned", in: "192.0.2.1-192.0.2.2", want: "192.0.2.1-192.0.2.2"},
		{name: "single address", in: "192.0.2.7/32", want: "192.0.2.7"},
		{name: "IPv6 /64", in: "2001:db8::/64", want: "2001:db8::/64"},
		{name: "IPv6 /3", in: "2000::/3", want: "2000::/3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParseRange(t, tt.in).String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRangeContains(t *testing.T) {
	r := mustParseRange(t, "198.51.100.10-198.51.100.20")
	for _, tt := range []struct {
		ip   string
		want bool
	}{
		{"198.51.100.9", false}, {"198.51.100.10", true}, {"198.51.100.20", true},
		{"198.51.100.21", false}, {"::ffff:198.51.100.15", false}, {"2001:db8::", false},
	} {
		if got := r.Contains(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("%v.Contains(%s) = %v, want %v", r, tt.ip, got, tt.want)
		}
	}
}

func TestFamilyStrings(t *testing.T) {
	got := []string{
		IPv4.String(), IPv6.String(), Family(0).String(),
		FamilyOf(netip.MustParseAddr("192.0.2.1")).String(), FamilyOf(netip.MustParseAddr("2001:db8::1")).String(),
	}
	want := []string{
		"IPv4", "IPv6", "Family(0)",
		"IPv4", "IPv6",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// No pool may hand out an address no Service can be reached at, nor an
// IPv4-mapped IPv6 address: the allocator keys IPv4 addresses by that very
// form, so ::ffff:0.0.0.0 would collide with 0.0.0.0. An entry touching such
// a block by a single address is refused, and the message names the block.
func TestParseRefusesSpecialAddresses(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // the whole error; "" = accepted
	}{
		{name: "IPv6 range across the IPv4-mapped block", in: "::fffe:ffff:ffff-::1:0:0:0",
			wantErr: `invalid address range "::fffe:ffff:ffff-::1:0:0:0": includes IPv4-mapped IPv6 addresses (::ffff:0.0.0.0/96), which stand for IPv4 addresses; list IPv4 addresses as IPv4`},
		{name: "IPv6 CIDR holding the IPv4-mapped block", in: "::fffe:0:0/95",
			wantErr: `invalid address range "::fffe:0:0/95": includes IPv4-mapped IPv6 addresses (::ffff:0.0.0.0/96), which stand for IPv4 addresses; list IPv4 addresses as IPv4`},
		{name: "IPv4 loopback", in: "127.0.0.0/30",
			wantErr: `invalid address range "127.0.0.0/30": includes loopback addresses (127.0.0.0/8), which cannot be a Service's external IP`},
		{name: "IPv4 range ending in loopback", in: "126.255.255.250-127.0.0.1",
			wantErr: `invalid address range "126.255.255.250-127.0.0.1": includes loopback addresses (127.0.0.0/8), which cannot be a Service's external IP`},
		{name: "IPv6 loopback", in: "::1",
			wantErr: `invalid address range "::1": includes the loopback address ::1, which cannot be a Service's external IP`},
		{name: "IPv4 link-local", in: "169.254.10.0/24",
			wantErr: `invalid address range "169.254.10.0/24": includes link-local addresses (169.254.0.0/16), which cannot be a Service's external IP`},
		{name: "IPv6 link-local", in: "fe80::/64",
			wantErr: `invalid address range "fe80::/64": includes link-local addresses (fe80::/10), which cannot be a Service's external IP`},
		{name: "IPv4 multicast", in: "224.0.0.0/28",
			wantErr: `invalid address range "224.0.0.0/28": includes multicast addresses (224.0.0.0/4), which cannot be a Service's external IP`},
		{name: "IPv6 multicast", in: "ff02::/120",
			wantErr: `invalid address range "ff02::/120": includes multicast addresses (ff00::/8), which cannot be a Service's external IP`},
		{name: "IPv4 unspecified", in: "0.0.0.0/32",
			wantErr: `invalid address range "0.0.0.0/32": includes the unspecified address 0.0.0.0, which cannot be a Service's external IP`},
		{name: "IPv6 unspecified", in: "::/128",
			wantErr: `invalid address range "::/128": includes the unspecified address ::, which cannot be a Service's external IP`},
		{name: "IPv4 broadcast at the end of a range", in: "255.255.255.0-255.255.255.255",
			wantErr: `invalid address range "255.255.255.0-255.255.255.255": includes the broadcast address 255.255.255.255, which cannot be a Service's external IP`},
		{name: "the whole IPv4 space names its lowest special block", in: "0.0.0.0/0",
			wantErr: `invalid address range "0.0.0.0/0": includes the unspecified address 0.0.0.0, which cannot be a Service's external IP`},
		{name: "the whole IPv6 space names its lowest special block", in: "::/0",
			wantErr: `invalid address range "::/0": includes the unspecified address ::, which cannot be a Service's external IP`},

		// Next to a special block, but not touching it.
		{name: "just below the IPv4-mapped block", in: "::fffe:ffff:ff00-::fffe:ffff:ffff"},
		{name: "just above the IPv4-mapped block", in: "::1:0:0:0/112"},
		{name: "just below IPv4 loopback", in: "126.255.255.0/24"},
		{name: "just above IPv4 link-local", in: "169.255.0.0/24"},
		{name: "just below IPv4 multicast", in: "223.255.255.0/24"},
		{name: "just above IPv6 link-local", in: "fec0::/64"},
		{name: "just below IPv6 multicast", in: "feff::/16"},
		{name: "between the IPv6 unspecified and loopback addresses", in: "::2-::ff"},
		{name: "documentation addresses", in: "2001:db8::/32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse(%q): %v", tt.in, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Parse(%q) = %v, %v\nwant error %s", tt.in, got, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func rng(first, last string) Range {
	return Range{First: netip.MustParseAddr(first), Last: netip.MustParseAddr(last)}
}

func mustParseRange(t testing.TB, s string) Range {
	t.Helper()
	r, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

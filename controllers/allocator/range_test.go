package allocator

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Range
		wantErr string // substring of the error; "" = success
	}{
		{name: "IPv4 CIDR", in: "192.0.2.0/28", want: rng("192.0.2.0", "192.0.2.15")},
		{name: "IPv4 /32", in: "192.0.2.7/32", want: rng("192.0.2.7", "192.0.2.7")},
		{name: "IPv4 /0", in: "0.0.0.0/0", want: rng("0.0.0.0", "255.255.255.255")},
		{name: "IPv6 /64", in: "2001:db8::/64", want: rng("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff")},
		{name: "IPv6 /32", in: "2001:db8::/32", want: rng("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")},
		{name: "IPv6 /0", in: "::/0", want: rng("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
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
			got, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRange(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidRange) {
					t.Errorf("error %v does not wrap ErrInvalidRange", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRange(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("ParseRange(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
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
		{name: "whole IPv6 space", in: "::/0", want: "::/0"},
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

func TestFamilyAndPolicyStrings(t *testing.T) {
	got := []string{
		IPv4.String(), IPv6.String(), Family(0).String(),
		SingleStack.String(), PreferDualStack.String(), RequireDualStack.String(), FamilyPolicy(7).String(),
		FamilyOf(netip.MustParseAddr("192.0.2.1")).String(), FamilyOf(netip.MustParseAddr("2001:db8::1")).String(),
	}
	want := []string{
		"IPv4", "IPv6", "Family(0)",
		"SingleStack", "PreferDualStack", "RequireDualStack", "FamilyPolicy(7)",
		"IPv4", "IPv6",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

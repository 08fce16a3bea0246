package validation_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

func TestAggregateOutside(t *testing.T) {
	tests := []struct {
		first, last string
		bits        int
		want        string // "" = stays inside
	}{
		{"192.0.2.0", "192.0.2.15", 32, ""},
		{"192.0.2.0", "192.0.2.15", 28, ""},
		{"192.0.2.0", "192.0.2.15", 27, "192.0.2.0/27"},
		{"192.0.2.0", "192.0.2.15", 8, "192.0.0.0/8"},
		{"192.0.2.0", "192.0.2.15", 0, "0.0.0.0/0"},
		{"192.0.2.0", "192.0.2.15", -1, "0.0.0.0/0"},
		{"192.0.2.0", "192.0.2.15", 40, ""}, // beyond the address size: one route per address
		// Ranges: both ends must sit on a block boundary.
		{"198.51.100.16", "198.51.100.47", 28, ""},
		{"198.51.100.16", "198.51.100.47", 27, "198.51.100.0/27"},
		{"198.51.100.10", "198.51.100.20", 31, "198.51.100.20/31"}, // .10/31 fits; .20/31 holds .21
		{"198.51.100.10", "198.51.100.21", 31, ""},
		{"198.51.100.10", "198.51.100.20", 30, "198.51.100.8/30"},
		{"2001:db8:1::", "2001:db8:1::ffff:ffff:ffff:ffff", 64, ""},
		{"2001:db8:1::", "2001:db8:1::ffff:ffff:ffff:ffff", 48, "2001:db8:1::/48"},
		{"2001:db8:1::", "2001:db8:1::ffff:ffff:ffff:ffff", 0, "::/0"},
		{"0.0.0.0", "255.255.255.255", 0, ""},
	}
	for _, tt := range tests {
		got, outside := validation.AggregateOutside(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last), tt.bits)
		if outside != (tt.want != "") || (outside && got.String() != tt.want) {
			t.Errorf("AggregateOutside(%s-%s, %d) = %v, %v; want %q", tt.first, tt.last, tt.bits, got, outside, tt.want)
		}
	}
}

func TestCheckAggregation(t *testing.T) {
	entry := func(text, first, last string) validation.Entry {
		return validation.Entry{Text: text, First: netip.MustParseAddr(first), Last: netip.MustParseAddr(last)}
	}
	pools := []validation.PoolEntries{
		{Name: "lan", Entries: []validation.Entry{
			entry("192.0.2.0/28", "192.0.2.0", "192.0.2.15"),
			entry("2001:db8:1::/64", "2001:db8:1::", "2001:db8:1::ffff:ffff:ffff:ffff"),
		}},
		{Name: "wan", Entries: []validation.Entry{entry("198.51.100.10-198.51.100.20", "198.51.100.10", "198.51.100.20")}},
	}
	tests := []struct {
		name   string
		v4, v6 *int32
		want   []string
	}{
		{name: "unset: one route per address"},
		{name: "host routes", v4: ptr.To[int32](32), v6: ptr.To[int32](128)},
		{
			name: "each family checked with its own length, first entry at fault named",
			v4:   ptr.To[int32](24), v6: ptr.To[int32](56),
			want: []string{
				`aggregationLength 24 would announce 192.0.2.0/24 for entry "192.0.2.0/28" of IPAddressPool "lan", covering addresses outside it; the shortest length that stays inside the entry is 28`,
				`aggregationLengthV6 56 would announce 2001:db8:1::/56 for entry "2001:db8:1::/64" of IPAddressPool "lan", covering addresses outside it; the shortest length that stays inside the entry is 64`,
			},
		},
		{
			name: "a later pool at fault",
			v4:   ptr.To[int32](28),
			want: []string{`aggregationLength 28 would announce 198.51.100.0/28 for entry "198.51.100.10-198.51.100.20" of IPAddressPool "wan", covering addresses outside it; the shortest length that stays inside the entry is 32`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range validation.CheckAggregation(tt.v4, tt.v6, pools) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

package bgp

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestParseCommunity(t *testing.T) {
	tests := []struct {
		in      string
		want    uint32
		wantErr string
	}{
		{in: "64512:100", want: 64512<<16 | 100},
		{in: "0:0", want: 0},
		{in: "65535:65535", want: 0xFFFFFFFF},
		{in: "no-export", want: 0xFFFFFF01},
		{in: "No-Advertise", want: 0xFFFFFF02},
		{in: "blackhole", want: 0xFFFF029A},
		{in: "64512", wantErr: `community "64512": want two numbers a:b (each 0-65535)`},
		{in: "1:2:3", wantErr: `community "1:2:3": want two numbers a:b (each 0-65535)`},
		{in: "65536:1", wantErr: `community "65536:1": part 1 65536 is out of range 0-65535`},
		{in: "1:70000", wantErr: `community "1:70000": part 2 70000 is out of range 0-65535`},
		{in: "a:1", wantErr: `community "a:1": part 1 "a" is not a decimal number`},
		{in: "-1:1", wantErr: `community "-1:1": part 1 "-1" is not a decimal number`},
		{in: ":1", wantErr: `community ":1": part 1 "" is not a decimal number`},
		{in: "", wantErr: `community "": want two numbers a:b (each 0-65535)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCommunity(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseLargeCommunity(t *testing.T) {
	tests := []struct {
		in      string
		want    largeCommunity
		wantErr string
	}{
		{in: "64512:1:2", want: largeCommunity{64512, 1, 2}},
		{in: "large:64512:1:2", want: largeCommunity{64512, 1, 2}},
		{in: "4200000000:4294967295:0", want: largeCommunity{4200000000, 4294967295, 0}},
		{in: "64512:1", wantErr: `large community "64512:1": want three numbers a:b:c (each 0-4294967295)`},
		{in: "4294967296:1:1", wantErr: `large community "4294967296:1:1": part 1 4294967296 is out of range 0-4294967295`},
		{in: "1:x:1", wantErr: `large community "1:x:1": part 2 "x" is not a decimal number`},
		{in: "4294967295:0:0", wantErr: `large community "4294967295:0:0": global administrator 4294967295 is reserved (RFC 8092 section 5); IronLB uses it internally to steer routes to peers`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseLargeCommunity(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkParse[T any](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("error = %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

var addrComparer = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func TestParseRoutes(t *testing.T) {
	p10 := netip.MustParsePrefix("203.0.113.10/32")
	p24 := netip.MustParsePrefix("203.0.113.0/24")
	v6 := netip.MustParsePrefix("2001:db8:5::10/128")
	lp := func(v uint32) *uint32 { return &v }
	tests := []struct {
		name    string
		routes  []Route
		want    map[netip.Prefix]routeSpec
		wantErr string
	}{
		{
			name: "canonical form: sorted, no repeats, masked prefix",
			routes: []Route{{Prefix: netip.MustParsePrefix("203.0.113.77/24"), Peers: []string{"b", "a", "b"},
				Communities: []string{"64512:2", "64512:1", "64512:2"}, LargeCommunities: []string{"large:64512:2:0", "64512:1:0"}, LocalPref: lp(150)}},
			want: map[netip.Prefix]routeSpec{p24: {Prefix: p24, Peers: []string{"a", "b"}, Communities: []uint32{64512<<16 | 1, 64512<<16 | 2},
				Large: []largeCommunity{{64512, 1, 0}, {64512, 2, 0}}, LocalPref: 150, HasLocalPref: true}},
		},
		{
			name: "same prefix twice: communities united, highest local preference, peers united",
			routes: []Route{
				{Prefix: p24, Peers: []string{"a"}, Communities: []string{"64512:1"}, LocalPref: lp(100)},
				{Prefix: p24, Peers: []string{"b"}, Communities: []string{"64512:2"}, LocalPref: lp(200)},
			},
			want: map[netip.Prefix]routeSpec{p24: {Prefix: p24, Peers: []string{"a", "b"}, Communities: []uint32{64512<<16 | 1, 64512<<16 | 2}, LocalPref: 200, HasLocalPref: true}},
		},
		{
			name:   "same prefix twice, one to every peer: every peer",
			routes: []Route{{Prefix: v6, Peers: []string{"a"}}, {Prefix: v6}},
			want:   map[netip.Prefix]routeSpec{v6: {Prefix: v6}},
		},
		{
			name: "an invalid route is left out, the others stay",
			routes: []Route{
				{Prefix: p10, Communities: []string{"64512:100000"}},
				{Prefix: v6},
				{Prefix: netip.MustParsePrefix("::ffff:203.0.113.10/128")},
			},
			want: map[netip.Prefix]routeSpec{v6: {Prefix: v6}},
			wantErr: "invalid BGP route 203.0.113.10/32: community \"64512:100000\": part 2 100000 is out of range 0-65535\n" +
				"invalid BGP route ::ffff:203.0.113.10/128: IPv4-mapped IPv6 prefixes are not announced; use the IPv4 prefix",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRoutes(tt.routes)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrInvalidRoute) {
					t.Errorf("error = %v, want %q wrapping ErrInvalidRoute", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, addrComparer); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffRoutes(t *testing.T) {
	a := routeSpec{Prefix: netip.MustParsePrefix("203.0.113.10/32")}
	b := routeSpec{Prefix: netip.MustParsePrefix("203.0.113.11/32"), Communities: []uint32{1}}
	c := routeSpec{Prefix: netip.MustParsePrefix("2001:db8::10/128")}
	announced := map[netip.Prefix]routeSpec{a.Prefix: a, b.Prefix: b}
	changed := func(r routeSpec, f func(*routeSpec)) routeSpec { f(&r); return r }
	tests := []struct {
		name         string
		wanted       map[netip.Prefix]routeSpec
		wantUpsert   []routeSpec
		wantWithdraw []netip.Prefix
	}{
		{name: "same routes: nothing to do", wanted: map[netip.Prefix]routeSpec{a.Prefix: a, b.Prefix: b}},
		{name: "a new route is announced", wanted: map[netip.Prefix]routeSpec{a.Prefix: a, b.Prefix: b, c.Prefix: c}, wantUpsert: []routeSpec{c}},
		{name: "a missing route is withdrawn", wanted: map[netip.Prefix]routeSpec{a.Prefix: a}, wantWithdraw: []netip.Prefix{b.Prefix}},
		{
			name:       "a changed community re-announces",
			wanted:     map[netip.Prefix]routeSpec{a.Prefix: a, b.Prefix: changed(b, func(r *routeSpec) { r.Communities = []uint32{2} })},
			wantUpsert: []routeSpec{changed(b, func(r *routeSpec) { r.Communities = []uint32{2} })},
		},
		{
			name:       "a changed peer list re-announces",
			wanted:     map[netip.Prefix]routeSpec{a.Prefix: changed(a, func(r *routeSpec) { r.Peers = []string{"x"} }), b.Prefix: b},
			wantUpsert: []routeSpec{changed(a, func(r *routeSpec) { r.Peers = []string{"x"} })},
		},
		{
			name:       "a local preference set to 0 is a change",
			wanted:     map[netip.Prefix]routeSpec{a.Prefix: changed(a, func(r *routeSpec) { r.HasLocalPref = true }), b.Prefix: b},
			wantUpsert: []routeSpec{changed(a, func(r *routeSpec) { r.HasLocalPref = true })},
		},
		{name: "no routes: all withdrawn", wantWithdraw: []netip.Prefix{a.Prefix, b.Prefix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upsert, withdraw := diffRoutes(announced, tt.wanted)
			if diff := cmp.Diff(tt.wantUpsert, upsert, addrComparer); diff != "" {
				t.Errorf("announce (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWithdraw, withdraw, addrComparer); diff != "" {
				t.Errorf("withdraw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIPath(t *testing.T) {
	anyOf := func(m proto.Message) *anypb.Any {
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	path := func(family *api.Family, nlri proto.Message, attrs ...proto.Message) *api.Path {
		p := &api.Path{Family: family, Nlri: anyOf(nlri)}
		for _, a := range attrs {
			p.Pattrs = append(p.Pattrs, anyOf(a))
		}
		return p
	}
	v4nlri := &api.IPAddressPrefix{PrefixLen: 32, Prefix: "203.0.113.10"}
	v6nlri := &api.IPAddressPrefix{PrefixLen: 128, Prefix: "2001:db8:5::10"}
	tests := []struct {
		name    string
		route   routeSpec
		markers []largeCommunity
		nh      nextHops
		want    *api.Path
	}{
		{
			name: "IPv4 with every attribute, user and marker large communities sorted together",
			route: routeSpec{Prefix: netip.MustParsePrefix("203.0.113.10/32"), Communities: []uint32{64512<<16 | 100},
				Large: []largeCommunity{{64512, 1, 2}}, LocalPref: 200, HasLocalPref: true},
			markers: []largeCommunity{markerFor(3)},
			nh:      nextHops{V4: nodeID},
			want: path(familyIPv4, v4nlri,
				&api.OriginAttribute{Origin: 0},
				&api.NextHopAttribute{NextHop: "198.51.100.11"},
				&api.CommunitiesAttribute{Communities: []uint32{64512<<16 | 100}},
				&api.LargeCommunitiesAttribute{Communities: []*api.LargeCommunity{{GlobalAdmin: 64512, LocalData1: 1, LocalData2: 2}, {GlobalAdmin: 4294967295, LocalData1: 1, LocalData2: 3}}},
				&api.LocalPrefAttribute{LocalPref: 200}),
		},
		{
			name:    "IPv4 without a configured next hop: the session's address",
			route:   routeSpec{Prefix: netip.MustParsePrefix("203.0.113.10/32")},
			markers: []largeCommunity{markerEveryPeer},
			want: path(familyIPv4, v4nlri,
				&api.OriginAttribute{Origin: 0},
				&api.NextHopAttribute{NextHop: "0.0.0.0"},
				&api.LargeCommunitiesAttribute{Communities: []*api.LargeCommunity{{GlobalAdmin: 4294967295}}}),
		},
		{
			name:    "IPv6 over MP_REACH_NLRI with the IPv6 next hop",
			route:   routeSpec{Prefix: netip.MustParsePrefix("2001:db8:5::10/128")},
			markers: []largeCommunity{markerEveryPeer},
			nh:      nextHops{V4: nodeID, V6: netip.MustParseAddr("2001:db8:ffff::11")},
			want: path(familyIPv6, v6nlri,
				&api.OriginAttribute{Origin: 0},
				&api.MpReachNLRIAttribute{Family: familyIPv6, NextHops: []string{"2001:db8:ffff::11"}, Nlris: []*anypb.Any{anyOf(v6nlri)}},
				&api.LargeCommunitiesAttribute{Communities: []*api.LargeCommunity{{GlobalAdmin: 4294967295}}}),
		},
		{
			name:    "IPv6 without a configured next hop",
			route:   routeSpec{Prefix: netip.MustParsePrefix("2001:db8:5::10/128")},
			markers: []largeCommunity{markerEveryPeer},
			want: path(familyIPv6, v6nlri,
				&api.OriginAttribute{Origin: 0},
				&api.MpReachNLRIAttribute{Family: familyIPv6, NextHops: []string{"::"}, Nlris: []*anypb.Any{anyOf(v6nlri)}},
				&api.LargeCommunitiesAttribute{Communities: []*api.LargeCommunity{{GlobalAdmin: 4294967295}}}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apiPath(tt.route, tt.markers, tt.nh)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("GoBGP path (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkParseAndDiff5000 is the CPU cost SetRoutes adds, before GoBGP,
// when one route of 5,000 changes.
func BenchmarkParseAndDiff5000(b *testing.B) {
	routes := make([]Route, 5000)
	for i := range routes {
		a := netip.MustParseAddr("2001:db8:100::").As16()
		a[14], a[15] = byte(i>>8), byte(i)
		routes[i] = Route{Prefix: netip.PrefixFrom(netip.AddrFrom16(a), 128), Communities: []string{"64512:100"}}
	}
	announced, err := parseRoutes(routes)
	if err != nil {
		b.Fatal(err)
	}
	routes[0].Prefix = netip.MustParsePrefix("2001:db8:200::1/128")
	b.ResetTimer()
	for range b.N {
		wanted, _ := parseRoutes(routes)
		upsert, withdraw := diffRoutes(announced, wanted)
		if len(upsert) != 1 || len(withdraw) != 1 {
			b.Fatalf("diff: %d to announce, %d to withdraw; want 1 and 1", len(upsert), len(withdraw))
		}
	}
}

package bgp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/testing/protocmp"
)

func TestRouteMarkers(t *testing.T) {
	var ids peerIDs
	ids.id("a") // 1
	ids.id("b") // 2
	tests := []struct {
		name  string
		peers []string
		want  []largeCommunity
	}{
		{name: "no restriction: every peer", want: []largeCommunity{{markerAdmin, 0, 0}}},
		{name: "one peer", peers: []string{"b"}, want: []largeCommunity{{markerAdmin, 1, 2}}},
		{name: "peers in any order give sorted markers", peers: []string{"b", "a"}, want: []largeCommunity{{markerAdmin, 1, 1}, {markerAdmin, 1, 2}}},
		{name: "a name not seen before gets the next number", peers: []string{"c"}, want: []largeCommunity{{markerAdmin, 1, 3}}},
		{name: "and keeps it", peers: []string{"c", "a"}, want: []largeCommunity{{markerAdmin, 1, 1}, {markerAdmin, 1, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, routeMarkers(tt.peers, &ids)); diff != "" {
				t.Errorf("markers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExportPolicy(t *testing.T) {
	tests := []struct {
		name string
		id   uint32
		addr netip.Addr
		want peerPolicy
	}{
		{
			name: "IPv6 neighbour",
			id:   7,
			addr: netip.MustParseAddr("2001:db8:ffff::1"),
			want: peerPolicy{
				Sets: []*api.DefinedSet{
					{DefinedType: api.DefinedType_NEIGHBOR, Name: "ironlb-peer-7-neighbor", List: []string{"2001:db8:ffff::1/128"}},
					{DefinedType: api.DefinedType_LARGE_COMMUNITY, Name: "ironlb-peer-7-allowed", List: []string{"4294967295:0:0", "4294967295:1:7"}},
				},
				Policy: &api.Policy{Name: "ironlb-peer-7", Statements: []*api.Statement{
					{
						Name: "ironlb-peer-7-reject",
						Conditions: &api.Conditions{
							NeighborSet:       &api.MatchSet{Type: api.MatchSet_ANY, Name: "ironlb-peer-7-neighbor"},
							LargeCommunitySet: &api.MatchSet{Type: api.MatchSet_INVERT, Name: "ironlb-peer-7-allowed"},
						},
						Actions: &api.Actions{RouteAction: api.RouteAction_REJECT},
					},
					{
						Name:       "ironlb-peer-7-accept",
						Conditions: &api.Conditions{NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: "ironlb-peer-7-neighbor"}},
						Actions: &api.Actions{
							RouteAction:    api.RouteAction_ACCEPT,
							LargeCommunity: &api.CommunityAction{Type: api.CommunityAction_REMOVE, Communities: []string{"^4294967295:[0-9]+:[0-9]+$"}},
						},
					},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, exportPolicy(tt.id, tt.addr), protocmp.Transform()); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
		})
	}
	// Only the neighbour's address is in its set: the IPv4 form is a /32.
	if got := exportPolicy(1, routerV4).Sets[0].List; !cmp.Equal(got, []string{"198.51.100.1/32"}) {
		t.Errorf("IPv4 neighbour set = %v, want [198.51.100.1/32]", got)
	}
}

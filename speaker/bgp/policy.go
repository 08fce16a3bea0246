package bgp

import (
	"fmt"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// markerAdmin is the global administrator of the large communities that say
// which peers a route may go to. 4294967295 is a reserved ASN (RFC 7300, RFC
// 8092 section 5), so no operator's community needs it; admission and
// parseLargeCommunity both refuse it through validation.ParseLargeCommunity.
const markerAdmin = validation.ReservedGlobalAdmin

// markerEveryPeer marks a route that goes to every peer.
var markerEveryPeer = largeCommunity{markerAdmin, 0, 0}

// markerFor marks a route that may go to the peer with this id.
func markerFor(id uint32) largeCommunity { return largeCommunity{markerAdmin, 1, id} }

// markerPattern matches every marker, for the export action that strips them.
var markerPattern = fmt.Sprintf("^%d:[0-9]+:[0-9]+$", uint64(markerAdmin))

// peerIDs numbers peer names for the markers. A name keeps its number for
// the life of the Speaker, so a route's markers change only when its own peer
// list does. Numbers are never reused; names are few.
type peerIDs struct {
	last uint32
	ids  map[string]uint32
}

func (p *peerIDs) id(name string) uint32 {
	if id, ok := p.ids[name]; ok {
		return id
	}
	if p.ids == nil {
		p.ids = map[string]uint32{}
	}
	p.last++
	p.ids[name] = p.last
	return p.last
}

// routeMarkers are the markers of a route restricted to peers (none: all).
func routeMarkers(peers []string, ids *peerIDs) []largeCommunity {
	if len(peers) == 0 {
		return []largeCommunity{markerEveryPeer}
	}
	m := make([]largeCommunity, 0, len(peers))
	for _, name := range peers {
		m = append(m, markerFor(ids.id(name)))
	}
	slices.SortFunc(m, compareLarge)
	return m
}

// peerPolicy is the export policy of one peer and the sets it refers to.
type peerPolicy struct {
	Sets   []*api.DefinedSet
	Policy *api.Policy
}

// exportPolicy builds the export policy of the peer numbered id at addr. It
// applies to routes sent to that neighbour only (neighbour-set condition)
// and:
//  1. rejects a route that carries neither the every-peer marker nor this
//     peer's marker;
//  2. accepts any other route after stripping all markers.
//
// Routes to other neighbours match neither statement and fall through to
// their own policy. GoBGP's default export action is set to reject, so a
// neighbour without a policy gets nothing rather than markers.
func exportPolicy(id uint32, addr netip.Addr) peerPolicy {
	name := fmt.Sprintf("ironlb-peer-%d", id)
	neighbors := name + "-neighbor"
	allowed := name + "-allowed"
	host := addr.WithZone("")
	onlyThisPeer := &api.MatchSet{Type: api.MatchSet_ANY, Name: neighbors}
	return peerPolicy{
		Sets: []*api.DefinedSet{
			{DefinedType: api.DefinedType_NEIGHBOR, Name: neighbors, List: []string{netip.PrefixFrom(host, host.BitLen()).String()}},
			{DefinedType: api.DefinedType_LARGE_COMMUNITY, Name: allowed, List: []string{markerEveryPeer.String(), markerFor(id).String()}},
		},
		Policy: &api.Policy{Name: name, Statements: []*api.Statement{
			{
				Name: name + "-reject",
				Conditions: &api.Conditions{
					NeighborSet:       onlyThisPeer,
					LargeCommunitySet: &api.MatchSet{Type: api.MatchSet_INVERT, Name: allowed},
				},
				Actions: &api.Actions{RouteAction: api.RouteAction_REJECT},
			},
			{
				Name:       name + "-accept",
				Conditions: &api.Conditions{NeighborSet: onlyThisPeer},
				Actions: &api.Actions{
					RouteAction:    api.RouteAction_ACCEPT,
					LargeCommunity: &api.CommunityAction{Type: api.CommunityAction_REMOVE, Communities: []string{markerPattern}},
				},
			},
		}},
	}
}

// importPolicy accepts only the routes we originate. GoBGP runs the global
// import policy on local paths too, so a plain "reject all" would drop them;
// routes learned from routers are neither used nor passed on, so a speaker
// never becomes a transit router between its peers.
func importPolicy() *api.Policy {
	return &api.Policy{Name: "ironlb-import", Statements: []*api.Statement{{
		Name:       "ironlb-import-local",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
	}}}
}

package bgp

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/speaker/announce"
)

// Route is one prefix this node advertises: the value the announce
// decision produces (see announce.Route for its fields). Routes with the same
// prefix are merged by SetRoutes.
type Route = announce.Route

// ErrInvalidRoute is wrapped by the errors SetRoutes returns for routes it
// refuses to announce.
var ErrInvalidRoute = errors.New("invalid BGP route")

// largeCommunity is a BGP large community (RFC 8092).
type largeCommunity struct{ Global, Local1, Local2 uint32 }

func (l largeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", l.Global, l.Local1, l.Local2)
}

func compareLarge(a, b largeCommunity) int {
	return cmp.Or(cmp.Compare(a.Global, b.Global), cmp.Compare(a.Local1, b.Local1), cmp.Compare(a.Local2, b.Local2))
}

// routeSpec is a Route after parsing: what is compared to decide whether a
// route must be re-announced. Slices are sorted and free of repeats.
type routeSpec struct {
	Prefix       netip.Prefix
	Communities  []uint32
	Large        []largeCommunity
	LocalPref    uint32
	HasLocalPref bool
	// Peers is empty for "every peer".
	Peers []string
}

func (r routeSpec) equal(o routeSpec) bool {
	return r.Prefix == o.Prefix && r.HasLocalPref == o.HasLocalPref && r.LocalPref == o.LocalPref &&
		slices.Equal(r.Communities, o.Communities) && slices.Equal(r.Large, o.Large) &&
		slices.Equal(r.Peers, o.Peers)
}

// parseCommunity parses a standard community "a:b" or a well-known name by
// the rule admission applies to BGPAdvertisement communities
// (validation.ParseCommunity), so the two never disagree.
func parseCommunity(s string) (uint32, error) {
	v, err := validation.ParseCommunity(s)
	if err != nil {
		return 0, fmt.Errorf("community %q: %w", s, err)
	}
	return v, nil
}

// parseLargeCommunity parses "a:b:c" or "large:a:b:c", refusing the global
// administrator of IronLB's peer markers (validation.ReservedGlobalAdmin).
func parseLargeCommunity(s string) (largeCommunity, error) {
	l, err := validation.ParseLargeCommunity(s)
	if err != nil {
		return largeCommunity{}, fmt.Errorf("large community %q: %w", s, err)
	}
	return largeCommunity(l), nil
}

// parseRoute validates a route and puts it in canonical form.
func parseRoute(r Route) (routeSpec, error) {
	if !r.Prefix.IsValid() {
		return routeSpec{}, fmt.Errorf("%w: prefix %v is not valid", ErrInvalidRoute, r.Prefix)
	}
	spec := routeSpec{Prefix: r.Prefix.Masked()}
	if spec.Prefix.Addr().Is4In6() {
		return routeSpec{}, fmt.Errorf("%w %s: IPv4-mapped IPv6 prefixes are not announced; use the IPv4 prefix", ErrInvalidRoute, spec.Prefix)
	}
	var errs []error
	for _, s := range r.Communities {
		c, err := parseCommunity(s)
		if err != nil {
			errs = append(errs, err)
		}
		spec.Communities = append(spec.Communities, c)
	}
	for _, s := range r.LargeCommunities {
		l, err := parseLargeCommunity(s)
		if err != nil {
			errs = append(errs, err)
		}
		spec.Large = append(spec.Large, l)
	}
	if err := errors.Join(errs...); err != nil {
		return routeSpec{}, fmt.Errorf("%w %s: %w", ErrInvalidRoute, spec.Prefix, err)
	}
	if r.LocalPref != nil {
		spec.LocalPref, spec.HasLocalPref = *r.LocalPref, true
	}
	spec.Peers = slices.Clone(r.Peers)
	spec.canonical()
	return spec, nil
}

func (r *routeSpec) canonical() {
	slices.Sort(r.Communities)
	r.Communities = slices.Compact(r.Communities)
	slices.SortFunc(r.Large, compareLarge)
	r.Large = slices.Compact(r.Large)
	slices.Sort(r.Peers)
	r.Peers = slices.Compact(r.Peers)
}

// mergeRoutes combines two routes for the same prefix, as when several
// services' addresses aggregate into one prefix: the union of their
// communities, the highest local preference, and every peer either goes to
// (all peers when either goes to all).
func mergeRoutes(a, b routeSpec) routeSpec {
	m := routeSpec{
		Prefix:       a.Prefix,
		Communities:  slices.Concat(a.Communities, b.Communities),
		Large:        slices.Concat(a.Large, b.Large),
		LocalPref:    max(a.LocalPref, b.LocalPref),
		HasLocalPref: a.HasLocalPref || b.HasLocalPref,
	}
	if len(a.Peers) > 0 && len(b.Peers) > 0 {
		m.Peers = slices.Concat(a.Peers, b.Peers)
	}
	m.canonical()
	return m
}

// parseRoutes validates every route and merges those with the same prefix.
// Invalid routes are left out and reported in the joined error.
func parseRoutes(routes []Route) (map[netip.Prefix]routeSpec, error) {
	specs := make(map[netip.Prefix]routeSpec, len(routes))
	var errs []error
	for _, r := range routes {
		spec, err := parseRoute(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := specs[spec.Prefix]; ok {
			spec = mergeRoutes(prev, spec)
		}
		specs[spec.Prefix] = spec
	}
	return specs, errors.Join(errs...)
}

// diffRoutes compares the announced routes with the wanted ones: upsert are
// the routes to announce (new, or changed and announced again, which
// replaces the old path without a withdrawal), withdraw the prefixes to
// withdraw. Both are sorted.
func diffRoutes(announced, wanted map[netip.Prefix]routeSpec) (upsert []routeSpec, withdraw []netip.Prefix) {
	kept := 0
	for p, r := range wanted {
		old, ok := announced[p]
		if ok {
			kept++
		}
		if !ok || !old.equal(r) {
			upsert = append(upsert, r)
		}
	}
	// Most calls withdraw nothing: skip the second pass over every route.
	if kept < len(announced) {
		for p := range announced {
			if _, ok := wanted[p]; !ok {
				withdraw = append(withdraw, p)
			}
		}
	}
	slices.SortFunc(upsert, func(a, b routeSpec) int { return comparePrefixes(a.Prefix, b.Prefix) })
	slices.SortFunc(withdraw, comparePrefixes)
	return upsert, withdraw
}

func comparePrefixes(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// nextHops are the next hops put on routes; an invalid address stands for
// "the local address of each session".
type nextHops struct{ V4, V6 netip.Addr }

// originIGP is the ORIGIN of routes we originate (RFC 4271 5.1.1).
const originIGP = 0

// apiPath translates a route, with its peer markers, into a GoBGP path.
func apiPath(r routeSpec, markers []largeCommunity, nh nextHops) (*api.Path, error) {
	nlri := &api.IPAddressPrefix{PrefixLen: uint32(r.Prefix.Bits()), Prefix: r.Prefix.Addr().String()}
	attrs := []proto.Message{&api.OriginAttribute{Origin: originIGP}}
	family := familyIPv4
	if r.Prefix.Addr().Is4() {
		attrs = append(attrs, &api.NextHopAttribute{NextHop: nextHopOr(nh.V4, netip.IPv4Unspecified())})
	} else {
		family = familyIPv6
		anyNLRI, err := anypb.New(nlri)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, &api.MpReachNLRIAttribute{
			Family:   familyIPv6,
			NextHops: []string{nextHopOr(nh.V6, netip.IPv6Unspecified())},
			Nlris:    []*anypb.Any{anyNLRI},
		})
	}
	if len(r.Communities) > 0 {
		attrs = append(attrs, &api.CommunitiesAttribute{Communities: r.Communities})
	}
	large := slices.Concat(r.Large, markers)
	slices.SortFunc(large, compareLarge)
	if len(large) > 0 {
		lc := &api.LargeCommunitiesAttribute{}
		for _, l := range large {
			lc.Communities = append(lc.Communities, &api.LargeCommunity{GlobalAdmin: l.Global, LocalData1: l.Local1, LocalData2: l.Local2})
		}
		attrs = append(attrs, lc)
	}
	if r.HasLocalPref {
		// GoBGP removes LOCAL_PREF towards eBGP peers itself.
		attrs = append(attrs, &api.LocalPrefAttribute{LocalPref: r.LocalPref})
	}
	return newAPIPath(family, nlri, attrs)
}

func nextHopOr(a, unspecified netip.Addr) string {
	if a.IsValid() {
		return a.Unmap().String()
	}
	// GoBGP replaces an unspecified next hop with the session's local address.
	return unspecified.String()
}

func newAPIPath(family *api.Family, nlri proto.Message, attrs []proto.Message) (*api.Path, error) {
	n, err := anypb.New(nlri)
	if err != nil {
		return nil, err
	}
	p := &api.Path{Family: family, Nlri: n}
	for _, a := range attrs {
		pa, err := anypb.New(a)
		if err != nil {
			return nil, err
		}
		p.Pattrs = append(p.Pattrs, pa)
	}
	return p, nil
}

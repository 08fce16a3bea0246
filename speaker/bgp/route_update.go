package bgp

import (
	"context"
	"net/netip"
	"slices"
)

// UpdateRoutes makes routes the announced routes of prefixes, and of the
// prefixes of routes, leaving every other announced route as it is: what
// SetRoutes does with the whole set, for a caller that knows which
// prefixes changed. A prefix of prefixes that no valid route of routes has
// is withdrawn. Routes with the same prefix are merged and invalid ones
// left out and reported, as by SetRoutes. Cost follows len(prefixes) and
// len(routes), not the number of routes announced.
func (s *Speaker) UpdateRoutes(ctx context.Context, prefixes []netip.Prefix, routes []Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopped {
		return ErrNotRunning
	}
	wanted, err := parseRoutes(routes)
	upsert, withdraw := diffSomeRoutes(s.routes, wanted, prefixes)
	return s.changeRoutes(ctx, upsert, withdraw, err)
}

// diffSomeRoutes is diffRoutes restricted to prefixes and the prefixes of
// wanted: the others are left as announced.
func diffSomeRoutes(announced, wanted map[netip.Prefix]routeSpec, prefixes []netip.Prefix) (upsert []routeSpec, withdraw []netip.Prefix) {
	for p, r := range wanted {
		if old, ok := announced[p]; !ok || !old.equal(r) {
			upsert = append(upsert, r)
		}
	}
	for _, p := range prefixes {
		p = p.Masked()
		if _, want := wanted[p]; want {
			continue
		}
		if _, ok := announced[p]; ok {
			withdraw = append(withdraw, p)
		}
	}
	slices.SortFunc(upsert, func(a, b routeSpec) int { return comparePrefixes(a.Prefix, b.Prefix) })
	slices.SortFunc(withdraw, comparePrefixes)
	withdraw = slices.Compact(withdraw) // a prefix listed twice
	return upsert, withdraw
}

package bgp

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
)

// TestUpdateRoutesMatchesSetRoutes: a speaker told only the prefixes that
// changed (UpdateRoutes) announces, in GoBGP's table and in its own
// record, what one handed every route each time (SetRoutes) announces;
// prefixes merged, invalid routes left out, withdrawn prefixes gone.
func TestUpdateRoutesMatchesSetRoutes(t *testing.T) {
	ctx := context.Background()
	whole, delta := startedSpeaker(t), startedSpeaker(t)
	r := rand.New(rand.NewPCG(3, 9))
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("203.0.113.1/32"), netip.MustParsePrefix("203.0.113.2/32"),
		netip.MustParsePrefix("203.0.113.3/32"), netip.MustParsePrefix("198.51.100.0/28"),
		netip.MustParsePrefix("2001:db8::1/128"), netip.MustParsePrefix("2001:db8::2/128"),
	}
	communities := [][]string{nil, {"64512:1"}, {"no-export"}, {"bad"}}
	var prev []Route
	seen := 0
	for step := range 60 {
		var routes []Route
		for _, p := range prefixes {
			for range r.IntN(3) { // none, one, or two to merge
				routes = append(routes, Route{Prefix: p, Communities: communities[r.IntN(len(communities))],
					Peers: [][]string{nil, {"r1"}}[r.IntN(2)]})
			}
		}
		errWhole := whole.SetRoutes(ctx, routes)
		errDelta := delta.UpdateRoutes(ctx, changedPrefixes(prev, routes), routes)
		if (errWhole == nil) != (errDelta == nil) {
			t.Fatalf("step %d: SetRoutes returned %v, UpdateRoutes %v", step, errWhole, errDelta)
		}
		if diff := cmp.Diff(whole.routes, delta.routes, cmp.AllowUnexported(routeSpec{}), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Fatalf("step %d: announced routes (-SetRoutes +UpdateRoutes):\n%s", step, diff)
		}
		table := rib(t, whole)
		if diff := cmp.Diff(table, rib(t, delta)); diff != "" {
			t.Fatalf("step %d: GoBGP table (-SetRoutes +UpdateRoutes):\n%s", step, diff)
		}
		seen += len(table)
		prev = routes
	}
	if seen == 0 {
		t.Fatal("GoBGP's table was always empty: the test proves nothing")
	}
}

// changedPrefixes are the prefixes whose routes differ between prev and
// next, as the decision lists changed addresses: UpdateRoutes must leave
// every other prefix as it is.
func changedPrefixes(prev, next []Route) []netip.Prefix {
	group := func(rs []Route) map[netip.Prefix][]Route {
		out := map[netip.Prefix][]Route{}
		for _, r := range rs {
			out[r.Prefix] = append(out[r.Prefix], r)
		}
		return out
	}
	was, now := group(prev), group(next)
	var out []netip.Prefix
	for _, r := range slices.Concat(prev, next) {
		if !reflect.DeepEqual(was[r.Prefix], now[r.Prefix]) && !slices.Contains(out, r.Prefix) {
			out = append(out, r.Prefix)
		}
	}
	return out
}

func startedSpeaker(t *testing.T) *Speaker {
	t.Helper()
	s, err := New(Options{RouterID: nodeID, ListenPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// rib lists the prefixes in s's GoBGP global table, with the number of
// attributes of their path.
func rib(t *testing.T, s *Speaker) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, inst := range s.instances {
		for _, f := range []*api.Family{familyIPv4, familyIPv6} {
			err := inst.bgp.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: f},
				func(d *api.Destination) {
					for _, p := range d.Paths {
						out[d.Prefix] = len(p.Pattrs)
					}
				})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestDiffSomeRoutes: only the prefixes named, and those of the routes
// wanted, are compared; the others stay as announced.
func TestDiffSomeRoutes(t *testing.T) {
	p1, p2, p3 := netip.MustParsePrefix("203.0.113.1/32"), netip.MustParsePrefix("203.0.113.2/32"), netip.MustParsePrefix("203.0.113.3/32")
	announced := map[netip.Prefix]routeSpec{p1: {Prefix: p1}, p2: {Prefix: p2}, p3: {Prefix: p3}}
	wanted := map[netip.Prefix]routeSpec{p1: {Prefix: p1, Communities: []uint32{1}}}
	upsert, withdraw := diffSomeRoutes(announced, wanted, []netip.Prefix{p1, p2, p2})
	if len(upsert) != 1 || upsert[0].Prefix != p1 {
		t.Errorf("upsert = %v, want %s changed", upsert, p1)
	}
	if !slices.Equal(withdraw, []netip.Prefix{p2}) {
		t.Errorf("withdraw = %v, want %s once (named, no route), and not %s (not named)", withdraw, p2, p3)
	}
}

// BenchmarkUpdateRoutes is a Service change's share of BGP at the scale of
// docs/scale.md: with 50,000 routes announced, one address's route is
// withdrawn and another's announced (UpdateRoutes of two prefixes), on a
// GoBGP server with no peer.
func BenchmarkUpdateRoutes(b *testing.B) {
	ctx := context.Background()
	s, err := New(Options{RouterID: nodeID, ListenPort: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(ctx) })
	const n = 50000
	prefixes := make([]netip.Prefix, n+1)
	a := netip.MustParseAddr("2001:db8::")
	routes := make([]Route, 0, n)
	for i := range prefixes {
		a = a.Next()
		prefixes[i] = netip.PrefixFrom(a, 128)
		if i < n {
			routes = append(routes, Route{Prefix: prefixes[i]})
		}
	}
	if err := s.SetRoutes(ctx, routes); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		gone, come := prefixes[i%(n+1)], prefixes[(i+n)%(n+1)]
		if err := s.UpdateRoutes(ctx, []netip.Prefix{gone, come}, []Route{{Prefix: come}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/change")
}

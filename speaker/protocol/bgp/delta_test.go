package bgp

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/protocol/internal/decisiontest"
)

// memorySpeaker keeps the routes it is given by prefix, as speaker/bgp
// does, counts the whole sets, and fails the route calls while fail is
// set (recording nothing, as a GoBGP failure would).
type memorySpeaker struct {
	nullSpeaker
	routes map[netip.Prefix][]bgpspeaker.Route
	sets   int
	fail   bool
}

var errGoBGP = errors.New("GoBGP refused")

func (m *memorySpeaker) SetRoutes(_ context.Context, routes []bgpspeaker.Route) error {
	if m.fail {
		return errGoBGP
	}
	m.sets++
	m.routes = map[netip.Prefix][]bgpspeaker.Route{}
	for _, r := range routes {
		m.routes[r.Prefix] = append(m.routes[r.Prefix], r)
	}
	return nil
}

// setOnlySpeaker takes whole sets only.
type setOnlySpeaker struct{ m memorySpeaker }

func (s *setOnlySpeaker) SetPeers(ctx context.Context, p []bgpspeaker.Peer) error {
	return s.m.SetPeers(ctx, p)
}
func (s *setOnlySpeaker) SetRoutes(ctx context.Context, r []bgpspeaker.Route) error {
	return s.m.SetRoutes(ctx, r)
}
func (s *setOnlySpeaker) Sessions() map[string]bgpspeaker.SessionState    { return nil }
func (s *setOnlySpeaker) ResetPeer(context.Context, string, string) error { return nil }

func (m *memorySpeaker) UpdateRoutes(_ context.Context, prefixes []netip.Prefix, routes []bgpspeaker.Route) error {
	if m.fail {
		return errGoBGP
	}
	for _, p := range prefixes {
		delete(m.routes, p)
	}
	for _, r := range routes {
		if !slices.Contains(prefixes, r.Prefix) {
			delete(m.routes, r.Prefix)
		}
	}
	for _, r := range routes {
		m.routes[r.Prefix] = append(m.routes[r.Prefix], r)
	}
	return nil
}

// sortedRoutes lists routes by prefix, then peers.
func sortedRoutes(byPrefix map[netip.Prefix][]bgpspeaker.Route) []bgpspeaker.Route {
	var out []bgpspeaker.Route
	for _, rs := range byPrefix {
		out = append(out, rs...)
	}
	slices.SortFunc(out, func(a, b bgpspeaker.Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
			return c
		}
		return strings.Compare(strings.Join(a.Peers, ","), strings.Join(b.Peers, ","))
	})
	return out
}

var routeOpts = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Prefix{})}

// TestApplyChangedRoutesMatchesAll: a protocol handed decisions with only
// what changed ends each step advertising what the decision says this node
// advertises (Result.Routes), as one handed every decision whole does;
// with aggregation (every route set whole) and without (only the changed
// ones), and with a speaker that takes whole sets only.
func TestApplyChangedRoutesMatchesAll(t *testing.T) {
	ctx := context.Background()
	for _, agg := range []bool{false, true} {
		for seed := range uint64(25) {
			for _, node := range decisiontest.Nodes {
				seq := decisiontest.Sequence(seed, node, 30, decisiontest.Options{Aggregate: agg})
				upd, setOnly := &memorySpeaker{}, &setOnlySpeaker{}
				pu, ps := New(upd, ""), New(setOnly, "")
				for step, d := range seq {
					for _, p := range []*Protocol{pu, ps} {
						if err := p.Apply(ctx, d); err != nil {
							t.Fatal(err)
						}
					}
					want := d.Result.Routes(node)
					for name, got := range map[string]map[netip.Prefix][]bgpspeaker.Route{"updating": upd.routes, "set only": setOnly.m.routes} {
						if diff := cmp.Diff(want, sortedRoutes(got), routeOpts...); diff != "" {
							t.Fatalf("aggregate %t, seed %d, %s, step %d (all: %t, changed %v), %s speaker advertises (-decision +got):\n%s",
								agg, seed, node, step, d.All, d.Changed, name, diff)
						}
					}
				}
				all := 0
				for _, d := range seq {
					if d.All {
						all++
					}
				}
				switch {
				case agg && upd.sets != len(seq):
					t.Fatalf("seed %d, %s: with aggregation %d of %d decisions set every route, want all", seed, node, upd.sets, len(seq))
				case !agg && upd.sets != all:
					t.Fatalf("seed %d, %s: %d of %d decisions set every route, want the %d with All", seed, node, upd.sets, len(seq), all)
				}
			}
		}
	}
}

// TestApplyAfterFailureSetsEveryRoute: routes that did not reach the
// speaker are in no later decision's changes, so the decision after a
// failure sets every route. The failure hits a decision that changes this
// node's routes and is followed by one that lists only its own changes.
func TestApplyAfterFailureSetsEveryRoute(t *testing.T) {
	ctx := context.Background()
	node := decisiontest.Nodes[0]
	tried := 0
	for seed := range uint64(20) {
		seq := decisiontest.Sequence(seed, node, 30, decisiontest.Options{})
		fail := -1
		for i := 1; i+1 < len(seq); i++ {
			if !seq[i].All && !seq[i+1].All &&
				!cmp.Equal(seq[i].Result.Routes(node), seq[i-1].Result.Routes(node), routeOpts...) {
				fail = i
				break
			}
		}
		if fail < 0 {
			continue
		}
		tried++
		s := &memorySpeaker{}
		p := New(s, "")
		for step, d := range seq[:fail+2] {
			s.fail = step == fail
			err := p.Apply(ctx, d)
			if s.fail {
				if !errors.Is(err, errGoBGP) {
					t.Fatalf("seed %d, step %d: Apply returned %v, want the speaker's failure", seed, step, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(d.Result.Routes(node), sortedRoutes(s.routes), routeOpts...); diff != "" {
				t.Fatalf("seed %d, step %d (failed at %d): advertises (-decision +got):\n%s", seed, step, fail, diff)
			}
		}
	}
	if tried == 0 {
		t.Fatal("no decision changed the node's routes between two incremental ones: the test proves nothing")
	}
}

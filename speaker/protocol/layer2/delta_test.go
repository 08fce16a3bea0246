package layer2

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ironlb/ironlb/speaker/protocol"
	"github.com/ironlb/ironlb/speaker/protocol/internal/decisiontest"
)

// setOnly is an Announcer taking the whole set only: it keeps the last.
type setOnly struct{ owned map[netip.Addr][]string }

func (a *setOnly) SetOwned(owned map[netip.Addr][]string) { a.owned = maps.Clone(owned) }
func (*setOnly) Unannounced() map[netip.Addr]string       { return nil }

// updating is an Announcer that takes changes too, applying them to the
// set it holds, and counts the whole sets it was handed.
type updating struct {
	setOnly
	sets int
}

func (a *updating) SetOwned(owned map[netip.Addr][]string) {
	a.sets++
	a.setOnly.SetOwned(owned)
}

func (a *updating) UpdateOwned(set map[netip.Addr][]string, drop []netip.Addr) {
	for _, ip := range drop {
		delete(a.owned, ip)
	}
	maps.Copy(a.owned, set)
}

// TestApplyChangedMatchesAll: a protocol handed decisions with only what
// changed ends each step answering for what one handed every decision
// whole answers for, which is this node's share of the decision
// (Result.L2Owned), and names the same advertisements for the status loop;
// with an announcer that takes changes and with one that does not.
func TestApplyChangedMatchesAll(t *testing.T) {
	ctx := context.Background()
	deltas := 0
	for seed := range uint64(60) {
		for _, node := range decisiontest.Nodes {
			seq := decisiontest.Sequence(seed, node, 30, decisiontest.Options{})
			upd, set, whole := &updating{}, &setOnly{}, &setOnly{}
			pu, ps, pw := New(upd), New(set), New(whole)
			for step, d := range seq {
				apply(t, ctx, pu, d)
				apply(t, ctx, ps, d)
				apply(t, ctx, pw, decisiontest.WithAll([]protocol.Decision{d})[0])
				want := d.Result.L2Owned(node)
				for name, got := range map[string]map[netip.Addr][]string{"updating": upd.owned, "set only": set.owned, "whole": whole.owned} {
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
						t.Fatalf("seed %d, %s, step %d (all: %t, changed %v), %s announcer owns (-decision +got):\n%s",
							seed, node, step, d.All, d.Changed, name, diff)
					}
				}
				for ip := range d.Result.AllL2() {
					wantAdvs := d.Result.L2Advertisements(ip)
					if _, mine := want[ip]; !mine {
						wantAdvs = nil // another node's: not this one's to report
					}
					if got := pu.advertisementsOf(ip); !slices.Equal(got, wantAdvs) {
						t.Fatalf("seed %d, %s, step %d: %s reported under %v, want %v", seed, node, step, ip, got, wantAdvs)
					}
				}
				if !d.All {
					deltas++
				}
			}
			if upd.sets == 0 || upd.sets == len(seq) {
				t.Fatalf("seed %d, %s: %d whole sets in %d decisions: the delta path or the full one was never taken", seed, node, upd.sets, len(seq))
			}
		}
	}
	if deltas == 0 {
		t.Fatal("no decision listed its changes: the test proves nothing")
	}
}

func apply(t *testing.T, ctx context.Context, p *Protocol, d protocol.Decision) {
	t.Helper()
	if err := p.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
}

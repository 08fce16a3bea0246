package layer2

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/arp"
)

// TestOwnershipUpdatedMatchesNew: changing some addresses of an owned set
// (UpdateOwned) gives the set SetOwned would normalise the whole result
// to, leaves the set it started from as it was, and reports a change
// exactly when there is one.
func TestOwnershipUpdatedMatchesNew(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ips := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
		netip.MustParseAddr("::ffff:192.0.2.9"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("224.0.0.1"), {},
	}
	names := [][]string{nil, {"eth0"}, {"eth1", "eth0", "eth0"}, {""}}
	whole := map[netip.Addr][]string{}
	cur := newOwnership(whole)
	for step := range 500 {
		set := map[netip.Addr][]string{}
		var drop []netip.Addr
		for range r.IntN(3) {
			set[ips[r.IntN(len(ips))]] = names[r.IntN(len(names))]
		}
		for range r.IntN(2) {
			if ip := ips[r.IntN(len(ips))]; set[ip] == nil {
				if _, ok := set[ip]; !ok {
					drop = append(drop, ip)
				}
			}
		}
		for _, ip := range drop {
			delete(whole, ip)
		}
		maps.Copy(whole, set)
		before := ownedMap(cur)
		next, changed := cur.updated(set, drop)
		want := newOwnership(whole)
		// nil and empty both mean automatic.
		if diff := cmp.Diff(ownedMap(want), ownedMap(next), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("step %d: updated set (-SetOwned +UpdateOwned):\n%s", step, diff)
		}
		if next.len() != want.len() {
			t.Fatalf("step %d: updated set counts %d addresses, holds %d", step, next.len(), want.len())
		}
		if changed != !cur.same(whole) {
			t.Fatalf("step %d: changed = %t, but the sets are equal: %t", step, changed, cur.same(whole))
		}
		if diff := cmp.Diff(before, ownedMap(cur)); diff != "" {
			t.Fatalf("step %d: the set updated from was modified (-before +after):\n%s", step, diff)
		}
		// What a reconcile after SetOwned looks at: every address whose
		// entry differs, whichever shards next shares with cur.
		wantDiff := map[string]bool{}
		after := ownedMap(next)
		for ip, names := range after {
			if had, ok := before[ip]; !ok || !slices.Equal(had, names) {
				wantDiff[ip] = true
			}
		}
		for ip := range before {
			if _, ok := after[ip]; !ok {
				wantDiff[ip] = true
			}
		}
		gotDiff := map[string]bool{}
		for ip := range next.diff(cur) {
			gotDiff[ip.String()] = true
		}
		if diff := cmp.Diff(wantDiff, gotDiff, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("step %d: diff from the previous set (-want +got):\n%s", step, diff)
		}
		cur = next
	}
}

// ownedMap spells o as a map keyed by address string, for cmp.
func ownedMap(o *ownership) map[string][]string {
	out := map[string][]string{}
	for ip, names := range o.all() {
		out[ip.String()] = names
	}
	return out
}

// UpdateOwned behaves as SetOwned for what changes: a takeover burst for
// an address gained, no answer for one dropped, and the others still
// answered without a new burst.
func TestAnnouncerUpdateOwned(t *testing.T) {
	h := newFakeHost(fakeEth0())
	a, reg, _ := runAnnouncer(t, h, Options{GratuitousCount: 1})
	a.UpdateOwned(map[netip.Addr][]string{vip4: nil}, nil)
	s := h.socket(t, "eth0", ARPFrames, nil)
	checkARP(t, "takeover frame of "+vip4.String(), s.next(t), gratuitousView(vip4))

	a.UpdateOwned(map[netip.Addr][]string{vip4b: {"eth0"}}, nil)
	checkARP(t, "takeover frame of "+vip4b.String(), s.next(t), gratuitousView(vip4b))
	waitCounter(t, reg, "ironlb_layer2_gratuitous_sent_total", ARPFrames, 2)

	a.UpdateOwned(nil, []netip.Addr{vip4})
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4))
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4b))
	checkARP(t, "first frame sent after "+vip4.String()+" was dropped", s.next(t), replyView(clientMAC, vip4b, client4))

	a.UpdateOwned(nil, []netip.Addr{vip4b})
	s.waitClosed(t)
}

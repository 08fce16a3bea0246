package servicestatus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// TestDesiredOfMatchesDesired: the status of one Service built from its
// own addresses (DesiredOf, what SyncServices writes) is the one Desired
// builds from the whole decision, and it is announced exactly when
// Announced says so; over random Services sharing addresses, some of them
// twice or IPv4-mapped.
func TestDesiredOfMatchesDesired(t *testing.T) {
	pick := []string{"192.0.2.1", "192.0.2.2", "::ffff:192.0.2.2", "192.0.2.3", "2001:db8::1", "2001:db8::2", "198.51.100.1"}
	checked := 0
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 4))
		ips := map[string][]netip.Addr{}
		var svcs []announce.Service
		for i := range 1 + r.IntN(6) {
			key := fmt.Sprintf("ns/s%d", i)
			var addrs []string
			for range 1 + r.IntN(3) {
				addrs = append(addrs, pick[r.IntN(len(pick))])
			}
			s := svc(key, addrs...)
			svcs = append(svcs, s)
			ips[key] = s.IPs
		}
		ips["ns/gone"] = nil
		res := decision(t, svcs...)
		want := Desired(res, all, samePeers)
		announced := Announced(res)
		for key, addrs := range ips {
			got, ok := DesiredOf(res, key, addrs, samePeers)
			if ok != announced[key] {
				t.Fatalf("seed %d: %s announced %t, Announced says %t", seed, key, ok, announced[key])
			}
			if diff := cmp.Diff(want[key], got); diff != "" {
				t.Fatalf("seed %d: %s (-Desired +DesiredOf):\n%s", seed, key, diff)
			}
			if ok {
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("nothing announced: the test proves nothing")
	}
}

// The write loop checks the Services changed by every decision handed
// since its last write, the latest addresses of each, and every Service
// after a decision with All or a recheck.
func TestWriterCollectsChanges(t *testing.T) {
	ctx := context.Background()
	ip1, ip2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	w := New("node-a")
	check := func(what string, wantFull bool, want map[string][]netip.Addr) {
		t.Helper()
		d, full, changed := w.take(nil)
		if d == nil {
			t.Fatalf("%s: no decision to write", what)
		}
		if full != wantFull || !cmp.Equal(want, changed, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })) {
			t.Errorf("%s: full %t, changed %v; want full %t, changed %v", what, full, changed, wantFull, want)
		}
	}
	apply := func(d protocol.Decision) {
		if err := w.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	apply(protocol.Decision{All: true})
	check("the first decision", true, nil)

	apply(protocol.Decision{ChangedServices: map[string][]netip.Addr{"ns/a": {ip1}, "ns/b": {ip1}}})
	apply(protocol.Decision{ChangedServices: map[string][]netip.Addr{"ns/a": {ip2}, "ns/c": nil}})
	check("two decisions", false, map[string][]netip.Addr{"ns/a": {ip2}, "ns/b": {ip1}, "ns/c": nil})

	apply(protocol.Decision{ChangedServices: map[string][]netip.Addr{"ns/a": {ip1}}})
	apply(protocol.Decision{All: true})
	apply(protocol.Decision{ChangedServices: map[string][]netip.Addr{"ns/b": {ip1}}})
	check("a decision with All among them", true, nil)

	apply(protocol.Decision{ChangedServices: map[string][]netip.Addr{"ns/a": {ip1}}})
	w.recheck()
	check("a recheck", true, nil)

	apply(protocol.Decision{ChangedServices: map[string][]netip.Addr{"ns/a": {ip1}}})
	w.checkAll() // a write failed
	check("after a failure", true, nil)
}

package allocator

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/api/iprange"
)

// The free stack must stay bounded when the same address below the cursor
// is claimed explicitly and released over and over.
func TestFreeStackStaysBounded(t *testing.T) {
	a := newAllocator(t, pool("lan", "2001:db8::/64"))
	v6 := func(name string) Request {
		return svc(name).with(func(r *Request) { r.Families = []iprange.Family{iprange.IPv6} })
	}
	for i := range 10 {
		mustAssign(t, a, v6(fmt.Sprint("s", i)))
	}
	a.Release("default/s3")
	for range 1000 {
		mustAssign(t, a, v6("x").with(func(r *Request) { r.IPs = ips("2001:db8::3") }))
		a.Release("default/x")
	}
	rs := a.pools["lan"].ranges[famIndex(iprange.IPv6)][0]
	if len(rs.free) != 1 || len(rs.inFree) != 1 {
		t.Errorf("free stack has %d entries (%d in the set), want 1", len(rs.free), len(rs.inFree))
	}
	if got := mustAssign(t, a, v6("y")); got.IPs[0] != ip("2001:db8::3") {
		t.Errorf("got %s, want the freed 2001:db8::3", got.IPs[0])
	}
}

// Claiming addresses far into a /64 costs nothing until the cursor meets
// them, and the cursor then steps over them.
func TestCursorSkipsClaimedAddresses(t *testing.T) {
	a := newAllocator(t, pool("lan", "2001:db8::/64"))
	v6 := func(name string) Request {
		return svc(name).with(func(r *Request) { r.Families = []iprange.Family{iprange.IPv6} })
	}
	mustAssign(t, a, v6("far").with(func(r *Request) { r.IPs = ips("2001:db8::ffff:ffff:ffff:ffff") }))
	mustAssign(t, a, v6("near").with(func(r *Request) { r.Current = ips("2001:db8::1") }))
	var got []string
	for i := range 3 {
		got = append(got, mustAssign(t, a, v6(fmt.Sprint("s", i))).IPs[0].String())
	}
	if fmt.Sprint(got) != "[2001:db8:: 2001:db8::2 2001:db8::3]" {
		t.Errorf("got %v", got)
	}
}

func TestExhaustWholeSmallRangeAtEndOfSpace(t *testing.T) {
	// The last addresses of the IPv6 space: the cursor must stop without
	// wrapping around. No pool may hold them (they are multicast), so the
	// range's state is driven directly.
	top := ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	r := newRangeState(rng("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", top.String()), &poolState{})
	held := map[u128]*ipEntry{}
	take := func() (netip.Addr, bool) {
		off, fromStack, ok := r.peek(held)
		if !ok {
			return netip.Addr{}, false
		}
		r.take(off, fromStack)
		got := r.at(off)
		held[keyOf(got)] = &ipEntry{ip: got}
		r.held++
		return got, true
	}
	var got []string
	for {
		a, ok := take()
		if !ok {
			break
		}
		got = append(got, a.String())
	}
	if want := "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]"; fmt.Sprint(got) != want {
		t.Fatalf("handed out %v, want %s", got, want)
	}
	delete(held, keyOf(top))
	r.freed(top)
	if a, ok := take(); !ok || a != top {
		t.Errorf("after freeing %s got %v, %v", top, a, ok)
	}
}

func TestBuggyBelow(t *testing.T) {
	for _, tt := range []struct{ n, want uint64 }{
		{0, 0}, {1, 1}, {255, 1}, {256, 2}, {257, 3}, {512, 4}, {1 << 32, 1 << 25},
	} {
		if got := buggyBelow(tt.n); got != tt.want {
			t.Errorf("buggyBelow(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

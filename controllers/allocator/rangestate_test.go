package allocator

import (
	"fmt"
	"testing"
)

// The free stack must stay bounded when the same address below the cursor
// is claimed explicitly and released over and over.
func TestFreeStackStaysBounded(t *testing.T) {
	a := newAllocator(t, pool("lan", "2001:db8::/64"))
	v6 := func(name string) Request {
		return svc(name).with(func(r *Request) { r.Families = []Family{IPv6} })
	}
	for i := range 10 {
		mustAssign(t, a, v6(fmt.Sprint("s", i)))
	}
	a.Release("default/s3")
	for range 1000 {
		mustAssign(t, a, v6("x").with(func(r *Request) { r.IPs = ips("2001:db8::3") }))
		a.Release("default/x")
	}
	rs := a.pools["lan"].ranges[famIndex(IPv6)][0]
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
		return svc(name).with(func(r *Request) { r.Families = []Family{IPv6} })
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
	// wrapping around.
	a := newAllocator(t, pool("top", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"))
	v6 := svc("a").with(func(r *Request) { r.Families = []Family{IPv6} })
	mustAssign(t, a, v6)
	mustAssign(t, a, v6.with(func(r *Request) { r.Service = "default/b" }))
	_, err := a.Assign(v6.with(func(r *Request) { r.Service = "default/c" }))
	checkReason(t, err, ReasonPoolExhausted)
	a.Release("default/a")
	if got := mustAssign(t, a, v6.with(func(r *Request) { r.Service = "default/c" })); got.IPs[0] != ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe") {
		t.Errorf("got %v", got.IPs)
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

package allocator

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"

	"k8s.io/apimachinery/pkg/labels"
)

func rng(first, last string) iprange.Range {
	return iprange.Range{First: netip.MustParseAddr(first), Last: netip.MustParseAddr(last)}
}

func mustParseRange(t testing.TB, s string) iprange.Range {
	t.Helper()
	r, err := iprange.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pool returns an auto-assigning pool of the given address entries.
func pool(name string, addrs ...string) Pool {
	p := Pool{Name: name, AutoAssign: true}
	for _, s := range addrs {
		r, err := iprange.Parse(s)
		if err != nil {
			panic(err)
		}
		p.Ranges = append(p.Ranges, r)
	}
	return p
}

func prio(n int32) *int32 { return &n }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = ip(s)
	}
	return out
}

func sel(t testing.TB, s string) labels.Selector {
	t.Helper()
	sl, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

// svc returns an IPv4 SingleStack request for default/name.
func svc(name string) Request {
	return Request{Service: "default/" + name, Namespace: "default", Families: []iprange.Family{iprange.IPv4}}
}

func (r Request) with(f func(*Request)) Request {
	f(&r)
	return r
}

func newAllocator(t testing.TB, pools ...Pool) *Allocator {
	t.Helper()
	a := New()
	if _, err := a.SetPools(pools); err != nil {
		t.Fatal(err)
	}
	return a
}

func mustAssign(t testing.TB, a *Allocator, req Request) Assignment {
	t.Helper()
	got, err := a.Assign(req)
	if err != nil {
		t.Fatalf("Assign(%s): %v", req.Service, err)
	}
	return got
}

var sentinels = map[string]error{
	v1beta1.ReasonNoMatchingPool:  ErrNoMatchingPool,
	v1beta1.ReasonPoolExhausted:   ErrPoolExhausted,
	v1beta1.ReasonIPUnavailable:   ErrIPUnavailable,
	v1beta1.ReasonInvalidRequest:  ErrInvalidRequest,
	v1beta1.ReasonSharingConflict: ErrSharingConflict,
}

// checkReason fails unless err is an *Error with the given reason that
// errors.Is matches to that reason's sentinel and to no other.
func checkReason(t testing.TB, err error, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", reason)
	}
	if got := ReasonOf(err); got != reason {
		t.Fatalf("reason of %q = %q, want %q", err, got, reason)
	}
	for r, s := range sentinels {
		if errors.Is(err, s) != (r == reason) {
			t.Errorf("errors.Is(%q, Err%s) = %v", err, r, !(r == reason))
		}
	}
}

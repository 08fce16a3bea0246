package allocator

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"
)

func TestSetPoolsKeepsContainedLeases(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	for i := range 3 {
		mustAssign(t, a, svc(fmt.Sprint("s", i)))
	}
	// Widen the pool and add another: nothing moves.
	evicted, err := a.SetPools([]Pool{pool("lan", "192.0.2.0/27"), pool("more", "198.51.100.0/28")})
	if err != nil || evicted != nil {
		t.Fatalf("SetPools = %v, %v; want no eviction", evicted, err)
	}
	for i := range 3 {
		got, ok := a.Lookup(fmt.Sprint("default/s", i))
		want := Assignment{IPs: ips(fmt.Sprintf("192.0.2.%d", i)), Pool: "lan"}
		if diff := cmp.Diff(want, got, addrCmp); !ok || diff != "" {
			t.Errorf("s%d after widening (-want +got):\n%s", i, diff)
		}
	}
	if got := mustAssign(t, a, svc("s3")); got.IPs[0] != ip("192.0.2.3") {
		t.Errorf("next Service got %s, want 192.0.2.3", got.IPs[0])
	}

	// The range moves to another pool: the lease follows it.
	if _, err := a.SetPools([]Pool{pool("renamed", "192.0.2.0/27")}); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Lookup("default/s1")
	if got.Pool != "renamed" || a.Users("renamed") != 4 || a.Users("lan") != 0 {
		t.Errorf("after the move: s1 pool %s, users renamed=%d lan=%d; want renamed, 4, 0", got.Pool, a.Users("renamed"), a.Users("lan"))
	}
	if st, _ := a.Stats("renamed"); st.AssignedIPv4 != 4 || st.AvailableIPv4 != 28 {
		t.Errorf("renamed: assigned %d available %d, want 4 and 28", st.AssignedIPv4, st.AvailableIPv4)
	}
}

func TestSetPoolsKeepsCursorOfUnchangedRange(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	for i := range 4 {
		mustAssign(t, a, svc(fmt.Sprint("s", i)))
	}
	a.Release("default/s1")
	lan := pool("lan", "192.0.2.0/28")
	lan.Priority = prio(3) // an edit that leaves the range alone
	if _, err := a.SetPools([]Pool{lan}); err != nil {
		t.Fatal(err)
	}
	// The freed .1 is reused first, then allocation goes on after .3.
	var got []netip.Addr
	for i := range 2 {
		got = append(got, mustAssign(t, a, svc(fmt.Sprint("n", i))).IPs...)
	}
	if diff := cmp.Diff(ips("192.0.2.1", "192.0.2.4"), got, addrCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSetPoolsEvicts(t *testing.T) {
	tests := []struct {
		name        string
		before      []Pool
		reqs        []Request
		after       []Pool
		wantEvicted []string
	}{
		{
			name:   "range shrinks",
			before: []Pool{pool("lan", "192.0.2.0/28")},
			reqs: []Request{
				svc("low").with(func(r *Request) { r.IPs = ips("192.0.2.1") }),
				svc("high").with(func(r *Request) { r.IPs = ips("192.0.2.9") }),
			},
			after:       []Pool{pool("lan", "192.0.2.0/29")},
			wantEvicted: []string{"default/high"},
		},
		{
			name:        "pool removed",
			before:      []Pool{pool("lan", "192.0.2.0/28"), pool("other", "198.51.100.0/28")},
			reqs:        []Request{svc("b"), svc("a"), svc("c").with(func(r *Request) { r.Pool = "other" })},
			after:       []Pool{pool("other", "198.51.100.0/28")},
			wantEvicted: []string{"default/a", "default/b"},
		},
		{
			name:   "dual-stack lease loses its IPv6 range",
			before: []Pool{pool("lan", "192.0.2.0/28", "2001:db8::/64")},
			reqs: []Request{svc("dual").with(func(r *Request) {
				r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
			})},
			after:       []Pool{pool("lan", "192.0.2.0/28")},
			wantEvicted: []string{"default/dual"},
		},
		{
			name:   "avoidBuggyIPs turned on",
			before: []Pool{pool("lan", "192.0.2.0/28")},
			reqs:   []Request{svc("zero"), svc("one")},
			after: []Pool{func() Pool {
				p := pool("lan", "192.0.2.0/28")
				p.AvoidBuggyIPs = true
				return p
			}()},
			wantEvicted: []string{"default/zero"},
		},
		{
			name:   "a lease split across two pools",
			before: []Pool{pool("lan", "192.0.2.0/28", "2001:db8::/64")},
			reqs: []Request{svc("dual").with(func(r *Request) {
				r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
			})},
			after:       []Pool{pool("lan", "192.0.2.0/28"), pool("v6", "2001:db8::/64")},
			wantEvicted: []string{"default/dual"},
		},
		{
			name:   "selectors change: lease kept until the next Assign",
			before: []Pool{pool("lan", "192.0.2.0/28")},
			reqs:   []Request{svc("x")},
			after: []Pool{func() Pool {
				p := pool("lan", "192.0.2.0/28")
				p.Namespaces = []string{"elsewhere"}
				return p
			}()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAllocator(t, tt.before...)
			for _, r := range tt.reqs {
				mustAssign(t, a, r)
			}
			evicted, err := a.SetPools(tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantEvicted, evicted); diff != "" {
				t.Errorf("evicted (-want +got):\n%s", diff)
			}
			for _, r := range tt.reqs {
				_, has := a.Lookup(r.Service)
				if want := !contains(tt.wantEvicted, r.Service); has != want {
					t.Errorf("%s has a lease = %v, want %v", r.Service, has, want)
				}
			}
			// Every evicted address is free again.
			for _, p := range tt.after {
				st, _ := a.Stats(p.Name)
				users := 0
				for _, r := range tt.reqs {
					if l, ok := a.Lookup(r.Service); ok && l.Pool == p.Name {
						users++
					}
				}
				if int(st.AssignedIPv4+st.AssignedIPv6) < users || a.Users(p.Name) != users {
					t.Errorf("pool %s: assigned %d+%d, Users %d, want %d users", p.Name, st.AssignedIPv4, st.AssignedIPv6, a.Users(p.Name), users)
				}
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestEvictedServiceGetsCurrentBack(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28", "2001:db8::/64"))
	dual := svc("dual").with(func(r *Request) { r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, PreferDualStack })
	first := mustAssign(t, a, dual)
	if _, err := a.SetPools([]Pool{pool("lan", "192.0.2.0/28")}); err != nil {
		t.Fatal(err)
	}
	got := mustAssign(t, a, dual.with(func(r *Request) { r.Current = first.IPs }))
	if diff := cmp.Diff(Assignment{IPs: first.IPs[:1], Pool: "lan"}, got, addrCmp); diff != "" {
		t.Errorf("after losing IPv6 (-want +got):\n%s", diff)
	}
}

func TestSetPoolsRejectsWithoutChange(t *testing.T) {
	reversed := Pool{Name: "bad", Ranges: []iprange.Range{rng("192.0.2.9", "192.0.2.1")}}
	tests := []struct {
		name      string
		pools     []Pool
		wantErr   error
		wantPool  string
		wantOther string
		wantMsg   string
	}{
		{name: "overlap between pools", pools: []Pool{pool("a", "198.51.100.0/28"), pool("b", "198.51.100.8-198.51.100.30")},
			wantErr: ErrOverlap, wantPool: "b", wantOther: "a",
			wantMsg: "pool b: address ranges overlap: 198.51.100.8-198.51.100.30 overlaps 198.51.100.0/28 of pool a"},
		{name: "overlap at one address", pools: []Pool{pool("a", "198.51.100.0-198.51.100.10"), pool("b", "198.51.100.10-198.51.100.20")},
			wantErr: ErrOverlap, wantPool: "b", wantOther: "a"},
		{name: "overlap within a pool", pools: []Pool{pool("a", "2001:db8::/64", "2001:db8::5")},
			wantErr: ErrOverlap, wantPool: "a", wantOther: "a",
			wantMsg: "pool a: address ranges overlap: 2001:db8::5 overlaps 2001:db8::/64"},
		{name: "reversed range", pools: []Pool{reversed}, wantErr: iprange.ErrInvalid, wantPool: "bad"},
		{name: "mixed-family range", pools: []Pool{{Name: "bad", Ranges: []iprange.Range{rng("192.0.2.1", "2001:db8::1")}}},
			wantErr: iprange.ErrInvalid, wantPool: "bad"},
		{name: "empty range", pools: []Pool{{Name: "bad", Ranges: []iprange.Range{{}}}}, wantErr: iprange.ErrInvalid, wantPool: "bad"},
		{name: "duplicate name", pools: []Pool{pool("a", "198.51.100.0/28"), pool("a", "203.0.113.0/28")},
			wantErr: ErrInvalidPool, wantPool: "a"},
		{name: "no name", pools: []Pool{pool("", "198.51.100.0/28")}, wantErr: ErrInvalidPool, wantPool: "#0"},
		{name: "nil selector", pools: []Pool{{Name: "a", ServiceSelectors: []labels.Selector{nil}}},
			wantErr: ErrInvalidPool, wantPool: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAllocator(t, pool("lan", "192.0.2.0/28"))
			before := mustAssign(t, a, svc("x"))
			evicted, err := a.SetPools(tt.pools)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetPools error = %v, want %v", err, tt.wantErr)
			}
			var pe *PoolError
			if !errors.As(err, &pe) || pe.Pool != tt.wantPool || pe.Other != tt.wantOther {
				t.Errorf("PoolError = %+v, want Pool %q Other %q", pe, tt.wantPool, tt.wantOther)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message:\n got %q\nwant %q", err, tt.wantMsg)
			}
			if evicted != nil {
				t.Errorf("evicted %v on error", evicted)
			}
			// Nothing changed.
			if got, _ := a.Lookup("default/x"); !cmp.Equal(before, got, addrCmp) {
				t.Errorf("lease changed to %v", got)
			}
			if p, ok := a.PoolOf(ip("192.0.2.3")); !ok || p != "lan" {
				t.Errorf("PoolOf = %q, %v; want lan", p, ok)
			}
			if _, ok := a.Stats("a"); ok {
				t.Error("a rejected pool is visible")
			}
			if got := mustAssign(t, a, svc("y")); got.IPs[0] != ip("192.0.2.1") {
				t.Errorf("next allocation %v, want 192.0.2.1", got.IPs)
			}
		})
	}
}

func TestClosedPool(t *testing.T) {
	lan := pool("lan", "192.0.2.0/28")
	a := newAllocator(t, lan, pool("other", "198.51.100.0/28"))
	x := mustAssign(t, a, svc("x"))
	mustAssign(t, a, svc("y"))

	lan.Closed = true
	if evicted, err := a.SetPools([]Pool{lan, pool("other", "198.51.100.0/28")}); err != nil || evicted != nil {
		t.Fatalf("SetPools = %v, %v", evicted, err)
	}
	if got := mustAssign(t, a, svc("x")); !cmp.Equal(x, got, addrCmp) {
		t.Errorf("holder of a closing pool moved from %v to %v", x, got)
	}
	if got := mustAssign(t, a, svc("new")); got.Pool != "other" {
		t.Errorf("new Service got pool %s, want other", got.Pool)
	}
	_, err := a.Assign(svc("n2").with(func(r *Request) { r.IPs = ips("192.0.2.9") }))
	checkReason(t, err, v1beta1.ReasonIPUnavailable)
	if n := a.Users("lan"); n != 2 {
		t.Fatalf("Users(lan) = %d, want 2", n)
	}
	a.Release("default/x")
	a.Release("default/y")
	if n := a.Users("lan"); n != 0 {
		t.Errorf("Users(lan) = %d after both left, want 0", n)
	}

	// Only a closed pool admits the Service.
	b := newAllocator(t, lan)
	_, err = b.Assign(svc("z"))
	checkReason(t, err, v1beta1.ReasonNoMatchingPool)
	if want := "no address pool that admits default/z can give it an IPv4 address; pools being deleted: lan"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	// ...but a Service restored from its status keeps its address there.
	got := mustAssign(t, b, svc("z").with(func(r *Request) { r.Current, r.NoNew = ips("192.0.2.4"), true }))
	if got.IPs[0] != ip("192.0.2.4") || b.Users("lan") != 1 {
		t.Errorf("restore in a closed pool: %v, users %d", got, b.Users("lan"))
	}
}

func TestPoolOf(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28", "2001:db8::/64"), pool("other", "198.51.100.10-198.51.100.20"))
	for _, tt := range []struct {
		ip   string
		want string
	}{
		{"192.0.2.0", "lan"}, {"192.0.2.15", "lan"}, {"192.0.2.16", ""}, {"2001:db8::ffff", "lan"},
		{"2001:db8:0:1::", ""}, {"198.51.100.9", ""}, {"198.51.100.10", "other"}, {"198.51.100.20", "other"},
		{"::ffff:198.51.100.15", "other"}, {"203.0.113.1", ""},
	} {
		got, ok := a.PoolOf(ip(tt.ip))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("PoolOf(%s) = %q, %v; want %q", tt.ip, got, ok, tt.want)
		}
	}
	if _, ok := a.PoolOf(netip.Addr{}); ok {
		t.Error("PoolOf(zero Addr) reported a pool")
	}
}

// TestRestartStability simulates a controller restart: a new Allocator gets
// the same pools, then every Service is restored from its status in random
// order with NoNew, and must get exactly the addresses it had.
func TestRestartStability(t *testing.T) {
	pools := []Pool{
		pool("lan", "198.18.0.0/22", "2001:db8::/64"), // RFC 2544 benchmarking space
		func() Pool { p := pool("manual", "198.51.100.0/24"); p.AutoAssign = false; return p }(),
	}
	r := rand.New(rand.NewPCG(1, 2))
	first := newAllocator(t, pools...)
	var reqs []Request
	for i := range 600 {
		req := svc(fmt.Sprint("s", i))
		switch i % 5 {
		case 1:
			req.Families, req.Policy = []iprange.Family{iprange.IPv6, iprange.IPv4}, PreferDualStack
		case 2:
			req.Pool = "manual"
		case 3:
			req.SharingKey, req.Ports = fmt.Sprint("key", i%7), []Port{{"TCP", int32(i)}}
		}
		mustAssign(t, first, req)
		reqs = append(reqs, req)
	}
	// Leave holes: 100 Services go away.
	r.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	for _, req := range reqs[500:] {
		first.Release(req.Service)
	}
	reqs = reqs[:500]
	want := map[string]Assignment{}
	for _, req := range reqs {
		want[req.Service], _ = first.Lookup(req.Service)
	}

	second := newAllocator(t, pools...)
	r.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	for _, req := range reqs {
		req.Current, req.NoNew = want[req.Service].IPs, true
		got := mustAssign(t, second, req)
		if diff := cmp.Diff(want[req.Service], got, addrCmp); diff != "" {
			t.Fatalf("%s restored (-want +got):\n%s", req.Service, diff)
		}
	}
	// New Services after the restore never get a restored address.
	taken := map[netip.Addr]string{}
	for s, as := range want {
		for _, a := range as.IPs {
			taken[a] = s
		}
	}
	for i := range 200 {
		got := mustAssign(t, second, svc(fmt.Sprint("new", i)).with(func(r *Request) {
			r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
		}))
		for _, a := range got.IPs {
			if s, ok := taken[a]; ok {
				t.Fatalf("new%d got %s, which %s holds", i, a, s)
			}
			taken[a] = "new"
		}
	}
	// The restored allocator counts exactly what the first one did, plus
	// the 200 new dual-stack Services in lan.
	for _, tt := range []struct {
		pool  string
		added int64
	}{{"lan", 200}, {"manual", 0}} {
		before, _ := first.Stats(tt.pool)
		after, _ := second.Stats(tt.pool)
		before.AssignedIPv4 += tt.added
		before.AssignedIPv6 += tt.added
		before.AvailableIPv4 -= tt.added
		before.AvailableIPv6.Sub(before.AvailableIPv6, big.NewInt(tt.added))
		if diff := cmp.Diff(before, after, bigCmp); diff != "" {
			t.Errorf("pool %s stats (-want +got):\n%s", tt.pool, diff)
		}
		if got, want := second.Users(tt.pool), first.Users(tt.pool)+int(tt.added); got != want {
			t.Errorf("pool %s: Users = %d, want %d", tt.pool, got, want)
		}
	}
}

// A Range built by hand rather than parsed meets the same rule in SetPools:
// an IPv6 range over ::ffff:0:0/96 would hand out keys of IPv4 addresses.
func TestSetPoolsRefusesSpecialAddresses(t *testing.T) {
	a := New()
	_, err := a.SetPools([]Pool{{Name: "mapped", AutoAssign: true, Ranges: []iprange.Range{rng("::fffe:ffff:ffff", "::1:0:0:0")}}})
	if !errors.Is(err, iprange.ErrInvalid) || !strings.Contains(err.Error(), "IPv4-mapped") {
		t.Fatalf("SetPools = %v, want an ErrInvalid naming the IPv4-mapped block", err)
	}
}

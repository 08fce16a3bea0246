package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"
)

// addrCmp compares netip.Addr by value in cmp.Diff.
var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// assignCase is one independent scenario: pools, Services assigned first
// (each must succeed), then the request under test.
type assignCase struct {
	name       string
	pools      []Pool
	before     []Request
	req        Request
	want       Assignment
	wantReason string
	wantMsg    string // exact error message, when set
}

func runAssignCases(t *testing.T, tests []assignCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAllocator(t, tt.pools...)
			for _, b := range tt.before {
				mustAssign(t, a, b)
			}
			prev, hadPrev := a.Lookup(tt.req.Service)
			got, err := a.Assign(tt.req)
			if tt.wantReason != "" {
				checkReason(t, err, tt.wantReason)
				if tt.wantMsg != "" && err.Error() != tt.wantMsg {
					t.Errorf("message:\n got %q\nwant %q", err, tt.wantMsg)
				}
				// A failed Assign changes nothing for the Service.
				now, has := a.Lookup(tt.req.Service)
				if has != hadPrev {
					t.Errorf("after the failure Lookup found a lease = %v, want %v", has, hadPrev)
				}
				if diff := cmp.Diff(prev, now, addrCmp); diff != "" {
					t.Errorf("lease changed by a failed Assign (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Assign: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, addrCmp); diff != "" {
				t.Errorf("Assign (-want +got):\n%s", diff)
			}
			if look, _ := a.Lookup(tt.req.Service); !cmp.Equal(look, got, addrCmp) {
				t.Errorf("Lookup = %v, want what Assign returned, %v", look, got)
			}
		})
	}
}

func TestAssignSequentialInSlash28(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	for i := range 16 {
		got := mustAssign(t, a, svc(fmt.Sprint("s", i)))
		want := Assignment{IPs: ips(fmt.Sprintf("192.0.2.%d", i)), Pool: "lan"}
		if diff := cmp.Diff(want, got, addrCmp); diff != "" {
			t.Fatalf("service %d (-want +got):\n%s", i, diff)
		}
	}
	_, err := a.Assign(svc("s16"))
	checkReason(t, err, v1beta1.ReasonPoolExhausted)
	if want := "no free address for default/s16 in the pools that admit it (lan)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestAvoidBuggyIPsAcrossSlash23(t *testing.T) {
	p := pool("lan", "198.18.0.0/23") // RFC 2544 benchmarking space
	p.AvoidBuggyIPs = true
	a := newAllocator(t, p)

	st, _ := a.Stats("lan")
	if st.AvailableIPv4 != 508 {
		t.Fatalf("available before allocating = %d, want 512-4 = 508", st.AvailableIPv4)
	}
	seen := map[netip.Addr]bool{}
	for i := range 508 {
		got := mustAssign(t, a, svc(fmt.Sprint("s", i)))
		addr := got.IPs[0]
		if b := addr.As4(); b[3] == 0 || b[3] == 255 {
			t.Fatalf("service %d got %s, an address the pool avoids", i, addr)
		}
		if seen[addr] {
			t.Fatalf("service %d got %s twice", i, addr)
		}
		seen[addr] = true
	}
	_, err := a.Assign(svc("one-too-many"))
	checkReason(t, err, v1beta1.ReasonPoolExhausted)
	st, _ = a.Stats("lan")
	if diff := cmp.Diff(PoolStats{AssignedIPv4: 508, AvailableIPv4: 0, AvailableIPv6: bigInt(t, "0")}, st, bigCmp); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}

	// Asking for a .255 address explicitly is refused too.
	a.Release("default/s0")
	_, err = a.Assign(svc("bcast").with(func(r *Request) { r.IPs = ips("198.18.0.255") }))
	checkReason(t, err, v1beta1.ReasonIPUnavailable)
	if want := "198.18.0.255 ends in .0 or .255, which pool lan avoids"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestAvoidBuggyIPsUnalignedRange(t *testing.T) {
	p := pool("lan", "198.18.0.253-198.18.1.2") // .253 .254 [.255] [1.0] 1.1 1.2
	p.AvoidBuggyIPs = true
	a := newAllocator(t, p)
	var got []netip.Addr
	for i := range 4 {
		got = append(got, mustAssign(t, a, svc(fmt.Sprint("s", i))).IPs...)
	}
	if diff := cmp.Diff(ips("198.18.0.253", "198.18.0.254", "198.18.1.1", "198.18.1.2"), got, addrCmp); diff != "" {
		t.Errorf("handed out (-want +got):\n%s", diff)
	}
	_, err := a.Assign(svc("s4"))
	checkReason(t, err, v1beta1.ReasonPoolExhausted)
}

func TestAssignRequestedIP(t *testing.T) {
	lan := pool("lan", "192.0.2.0/28", "2001:db8::/64")
	manual := pool("manual", "198.51.100.0/28", "2001:db8:2::/64")
	manual.AutoAssign = false
	team := pool("team", "203.0.113.0/28")
	team.Namespaces = []string{"team-a"}
	pools := []Pool{lan, manual, team}
	holder := svc("web").with(func(r *Request) { r.IPs = ips("192.0.2.5") })
	want := func(r *Request, addrs ...string) { r.IPs = ips(addrs...) }

	runAssignCases(t, []assignCase{
		{
			name:  "free address in a pool",
			pools: pools, before: []Request{holder},
			req:  svc("x").with(func(r *Request) { want(r, "192.0.2.7") }),
			want: Assignment{IPs: ips("192.0.2.7"), Pool: "lan"},
		},
		{
			name:  "address in an autoAssign=false pool",
			pools: pools,
			req:   svc("x").with(func(r *Request) { want(r, "198.51.100.3") }),
			want:  Assignment{IPs: ips("198.51.100.3"), Pool: "manual"},
		},
		{
			name:  "IPv4-mapped IPv6 form of an address is unmapped",
			pools: pools,
			req:   svc("x").with(func(r *Request) { want(r, "::ffff:192.0.2.9") }),
			want:  Assignment{IPs: ips("192.0.2.9"), Pool: "lan"},
		},
		{
			name:  "dual-stack pair from one pool",
			pools: pools,
			req: svc("x").with(func(r *Request) {
				r.Families, r.Policy = []iprange.Family{iprange.IPv6, iprange.IPv4}, RequireDualStack
				want(r, "192.0.2.9", "2001:db8::9")
			}),
			want: Assignment{IPs: ips("2001:db8::9", "192.0.2.9"), Pool: "lan"},
		},
		{
			name:       "address outside every pool",
			pools:      pools,
			req:        svc("x").with(func(r *Request) { want(r, "203.0.113.250") }),
			wantReason: v1beta1.ReasonIPUnavailable, wantMsg: "203.0.113.250, asked for by default/x, is not in any address pool",
		},
		{
			name:  "address held by another service",
			pools: pools, before: []Request{holder},
			req:        svc("x").with(func(r *Request) { want(r, "192.0.2.5") }),
			wantReason: v1beta1.ReasonIPUnavailable, wantMsg: "192.0.2.5 is held by default/web, which does not share it",
		},
		{
			name:       "address in a pool that does not admit the namespace",
			pools:      pools,
			req:        svc("x").with(func(r *Request) { want(r, "203.0.113.5") }),
			wantReason: v1beta1.ReasonIPUnavailable, wantMsg: "203.0.113.5, asked for by default/x, is in pool team, which does not admit it",
		},
		{
			name:       "IPv6 address for an IPv4 service",
			pools:      pools,
			req:        svc("x").with(func(r *Request) { want(r, "2001:db8::5") }),
			wantReason: v1beta1.ReasonInvalidRequest, wantMsg: "default/x asks for 2001:db8::5, an IPv6 address, but its IP families under SingleStack are [IPv4]",
		},
		{
			name:  "second family's address for a SingleStack service",
			pools: pools,
			req: svc("x").with(func(r *Request) {
				r.Families = []iprange.Family{iprange.IPv4, iprange.IPv6}
				want(r, "192.0.2.5", "2001:db8::5")
			}),
			wantReason: v1beta1.ReasonInvalidRequest,
		},
		{
			name:  "two addresses of one family",
			pools: pools,
			req: svc("x").with(func(r *Request) {
				r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, PreferDualStack
				want(r, "192.0.2.5", "192.0.2.6")
			}),
			wantReason: v1beta1.ReasonInvalidRequest, wantMsg: "default/x asks for two IPv4 addresses, 192.0.2.5 and 192.0.2.6; at most one per family is allowed",
		},
		{
			name:       "address not in the named pool",
			pools:      pools,
			req:        svc("x").with(func(r *Request) { r.Pool = "manual"; want(r, "192.0.2.7") }),
			wantReason: v1beta1.ReasonInvalidRequest, wantMsg: "default/x asks for 192.0.2.7, which is not in the pool it names, manual",
		},
		{
			name:  "address in the named pool",
			pools: pools,
			req:   svc("x").with(func(r *Request) { r.Pool = "manual"; want(r, "198.51.100.7") }),
			want:  Assignment{IPs: ips("198.51.100.7"), Pool: "manual"},
		},
		{
			name:  "addresses in two pools",
			pools: pools,
			req: svc("x").with(func(r *Request) {
				r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
				want(r, "192.0.2.7", "2001:db8:2::7")
			}),
			wantReason: v1beta1.ReasonInvalidRequest,
		},
		{
			name:  "RequireDualStack asking for one address",
			pools: pools,
			req: svc("x").with(func(r *Request) {
				r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
				want(r, "192.0.2.7")
			}),
			wantReason: v1beta1.ReasonInvalidRequest,
		},
		{
			name:  "PreferDualStack asking for one address gets only it",
			pools: pools,
			req: svc("x").with(func(r *Request) {
				r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, PreferDualStack
				want(r, "2001:db8::7")
			}),
			want: Assignment{IPs: ips("2001:db8::7"), Pool: "lan"},
		},
		{
			name:  "changing the requested address moves the lease",
			pools: pools, before: []Request{svc("x").with(func(r *Request) { want(r, "192.0.2.1") })},
			req:  svc("x").with(func(r *Request) { want(r, "192.0.2.2") }),
			want: Assignment{IPs: ips("192.0.2.2"), Pool: "lan"},
		},
		{
			// The Service keeps 192.0.2.1 (checked by runAssignCases).
			name:  "asking for a taken address keeps the old lease",
			pools: pools, before: []Request{holder, svc("x").with(func(r *Request) { want(r, "192.0.2.1") })},
			req:        svc("x").with(func(r *Request) { want(r, "192.0.2.5") }),
			wantReason: v1beta1.ReasonIPUnavailable,
		},
	})
}

func TestAssignNamedPool(t *testing.T) {
	lan := pool("lan", "192.0.2.0/28")
	manual := pool("manual", "198.51.100.0/28")
	manual.AutoAssign = false
	v6 := pool("v6", "2001:db8::/64")
	closed := pool("closed", "203.0.113.0/28")
	closed.Closed = true
	restricted := pool("restricted", "203.0.113.16/28")
	restricted.ServiceSelectors = []labels.Selector{sel(t, "exposure=public")}
	pools := []Pool{lan, manual, v6, closed, restricted}
	named := func(name string) Request { return svc("x").with(func(r *Request) { r.Pool = name }) }

	runAssignCases(t, []assignCase{
		{name: "autoAssign=false pool by name", pools: pools, req: named("manual"),
			want: Assignment{IPs: ips("198.51.100.0"), Pool: "manual"}},
		{name: "missing pool", pools: pools, req: named("nope"),
			wantReason: v1beta1.ReasonNoMatchingPool, wantMsg: "pool nope, named by default/x, does not exist"},
		{name: "pool of the wrong family", pools: pools, req: named("v6"),
			wantReason: v1beta1.ReasonNoMatchingPool, wantMsg: "pool v6 has no IPv4 addresses for default/x"},
		{name: "closed pool", pools: pools, req: named("closed"),
			wantReason: v1beta1.ReasonNoMatchingPool, wantMsg: "pool closed is being deleted and hands out no new addresses, so default/x cannot get one from it"},
		{name: "pool that does not admit the service", pools: pools, req: named("restricted"),
			wantReason: v1beta1.ReasonNoMatchingPool, wantMsg: "pool restricted, named by default/x, does not admit it"},
		{name: "full named pool", pools: []Pool{pool("tiny", "203.0.113.1/32"), lan},
			before: []Request{svc("y").with(func(r *Request) { r.Pool = "tiny" })}, req: named("tiny"),
			wantReason: v1beta1.ReasonPoolExhausted, wantMsg: "pool tiny has no free IPv4 address for default/x"},
		{name: "naming another pool moves the lease", pools: pools,
			before: []Request{svc("x")}, req: named("manual"),
			want: Assignment{IPs: ips("198.51.100.0"), Pool: "manual"}},
	})
}

func TestAssignPriorityOrder(t *testing.T) {
	one := func(name string, p *int32, addr string) Pool {
		pl := pool(name, addr)
		pl.Priority = p
		return pl
	}
	a := newAllocator(t,
		one("a", prio(20), "192.0.2.1/32"),
		one("d", nil, "192.0.2.4/32"),
		one("c", nil, "192.0.2.3/32"),
		one("b", prio(10), "192.0.2.2/32"),
		one("e", prio(10), "192.0.2.5/32"),
		one("zero", prio(0), "192.0.2.6/32"),
	)
	var got []string
	for i := range 6 {
		got = append(got, mustAssign(t, a, svc(fmt.Sprint("s", i))).Pool)
	}
	// Lower priority first, ties by name, pools without priority last.
	if diff := cmp.Diff([]string{"zero", "b", "e", "a", "c", "d"}, got); diff != "" {
		t.Errorf("pools used in order (-want +got):\n%s", diff)
	}
}

func TestAssignSkipsFullPoolAndStaysThere(t *testing.T) {
	first := pool("first", "192.0.2.1/32")
	first.Priority = prio(1)
	a := newAllocator(t, first, pool("second", "198.51.100.0/28"))
	mustAssign(t, a, svc("early"))
	got := mustAssign(t, a, svc("late"))
	if got.Pool != "second" {
		t.Fatalf("with first full, got pool %s, want second", got.Pool)
	}
	// first frees up: the late Service keeps its address all the same.
	a.Release("default/early")
	again := mustAssign(t, a, svc("late"))
	if diff := cmp.Diff(got, again, addrCmp); diff != "" {
		t.Errorf("re-Assign moved the Service (-before +after):\n%s", diff)
	}
}

func TestAssignAdmission(t *testing.T) {
	restricted := func(f func(*Pool)) []Pool {
		p := pool("restricted", "192.0.2.0/28")
		f(&p)
		return []Pool{p}
	}
	inNS := func(ns string, nsLabels, svcLabels map[string]string) Request {
		return Request{Service: ns + "/x", Namespace: ns, NamespaceLabels: nsLabels, Labels: svcLabels, Families: []iprange.Family{iprange.IPv4}}
	}
	ok := Assignment{IPs: ips("192.0.2.0"), Pool: "restricted"}
	nsPool := restricted(func(p *Pool) { p.Namespaces = []string{"team-a", "team-b"} })
	nsSelPool := restricted(func(p *Pool) {
		p.NamespaceSelectors = []labels.Selector{sel(t, "tier=prod"), sel(t, "tier=staging")}
	})
	svcSelPool := restricted(func(p *Pool) { p.ServiceSelectors = []labels.Selector{sel(t, "exposure=public")} })
	allPool := restricted(func(p *Pool) {
		p.Namespaces = []string{"team-a"}
		p.NamespaceSelectors = []labels.Selector{sel(t, "tier=prod")}
		p.ServiceSelectors = []labels.Selector{sel(t, "exposure=public")}
	})
	prod := map[string]string{"tier": "prod"}
	public := map[string]string{"exposure": "public"}

	runAssignCases(t, []assignCase{
		{name: "namespace listed", pools: nsPool, req: inNS("team-b", nil, nil), want: ok},
		{name: "namespace not listed", pools: nsPool, req: inNS("default", nil, nil),
			wantReason: v1beta1.ReasonNoMatchingPool, wantMsg: "no address pool with automatic assignment admits default/x"},
		{name: "namespace labels match second selector", pools: nsSelPool,
			req: inNS("a", map[string]string{"tier": "staging"}, nil), want: ok},
		{name: "namespace labels match no selector", pools: nsSelPool,
			req: inNS("a", map[string]string{"tier": "dev"}, nil), wantReason: v1beta1.ReasonNoMatchingPool},
		{name: "service labels match", pools: svcSelPool, req: inNS("a", nil, public), want: ok},
		{name: "service labels do not match", pools: svcSelPool,
			req: inNS("a", nil, map[string]string{"exposure": "internal"}), wantReason: v1beta1.ReasonNoMatchingPool},
		{name: "all rules match", pools: allPool, req: inNS("team-a", prod, public), want: ok},
		{name: "all rules but the namespace match", pools: allPool, req: inNS("team-b", prod, public),
			wantReason: v1beta1.ReasonNoMatchingPool},
		{name: "all rules but the service selector match", pools: allPool, req: inNS("team-a", prod, nil),
			wantReason: v1beta1.ReasonNoMatchingPool},
		{name: "restricted pool first, open pool as fallback",
			pools: append(restricted(func(p *Pool) { p.Namespaces = []string{"team-a"}; p.Priority = prio(1) }),
				pool("open", "198.51.100.0/28")),
			req:  inNS("default", nil, nil),
			want: Assignment{IPs: ips("198.51.100.0"), Pool: "open"}},
		{name: "no pools at all", req: inNS("default", nil, nil),
			wantReason: v1beta1.ReasonNoMatchingPool, wantMsg: "no address pool exists for default/x"},
	})
}

func TestAssignFamilyPolicy(t *testing.T) {
	v4only := pool("v4only", "192.0.2.0/28")
	v4only.Priority = prio(1)
	dual := pool("dual", "198.51.100.0/28", "2001:db8::/64")
	dual.Priority = prio(2)
	both := []Pool{v4only, dual}
	fams := func(p FamilyPolicy, f ...iprange.Family) Request {
		return svc("x").with(func(r *Request) { r.Families, r.Policy = f, p })
	}
	tinyV6 := pool("tiny", "198.51.100.0/28", "2001:db8::1/128")
	v6Holder := svc("v6").with(func(r *Request) { r.Families = []iprange.Family{iprange.IPv6} })

	runAssignCases(t, []assignCase{
		{name: "SingleStack IPv4 takes the first pool", pools: both, req: fams(SingleStack, iprange.IPv4),
			want: Assignment{IPs: ips("192.0.2.0"), Pool: "v4only"}},
		{name: "SingleStack uses only the first family", pools: both, req: fams(SingleStack, iprange.IPv6, iprange.IPv4),
			want: Assignment{IPs: ips("2001:db8::"), Pool: "dual"}},
		{name: "PreferDualStack prefers a pool with both families", pools: both, req: fams(PreferDualStack, iprange.IPv4, iprange.IPv6),
			want: Assignment{IPs: ips("198.51.100.0", "2001:db8::"), Pool: "dual"}},
		{name: "PreferDualStack orders addresses like Families", pools: both, req: fams(PreferDualStack, iprange.IPv6, iprange.IPv4),
			want: Assignment{IPs: ips("2001:db8::", "198.51.100.0"), Pool: "dual"}},
		{name: "PreferDualStack with only an IPv4 pool gets one address", pools: []Pool{v4only},
			req: fams(PreferDualStack, iprange.IPv4, iprange.IPv6), want: Assignment{IPs: ips("192.0.2.0"), Pool: "v4only"}},
		{name: "PreferDualStack with only an IPv4 pool and IPv6 first gets IPv4", pools: []Pool{v4only},
			req: fams(PreferDualStack, iprange.IPv6, iprange.IPv4), want: Assignment{IPs: ips("192.0.2.0"), Pool: "v4only"}},
		{name: "PreferDualStack with one family listed", pools: both, req: fams(PreferDualStack, iprange.IPv4),
			want: Assignment{IPs: ips("192.0.2.0"), Pool: "v4only"}},
		{name: "RequireDualStack gets both", pools: both, req: fams(RequireDualStack, iprange.IPv4, iprange.IPv6),
			want: Assignment{IPs: ips("198.51.100.0", "2001:db8::"), Pool: "dual"}},
		{name: "RequireDualStack without a dual pool fails", pools: []Pool{v4only, pool("v6only", "2001:db8::/64")},
			req: fams(RequireDualStack, iprange.IPv4, iprange.IPv6), wantReason: v1beta1.ReasonNoMatchingPool,
			wantMsg: "no address pool that admits default/x can give it both an IPv4 and an IPv6 address"},
		{name: "RequireDualStack with IPv6 exhausted fails", pools: []Pool{tinyV6},
			before: []Request{v6Holder}, req: fams(RequireDualStack, iprange.IPv4, iprange.IPv6), wantReason: v1beta1.ReasonPoolExhausted},
		{name: "PreferDualStack with IPv6 exhausted gets IPv4", pools: []Pool{tinyV6},
			before: []Request{v6Holder}, req: fams(PreferDualStack, iprange.IPv6, iprange.IPv4),
			want: Assignment{IPs: ips("198.51.100.0"), Pool: "tiny"}},
		{name: "RequireDualStack listing one family", pools: both, req: fams(RequireDualStack, iprange.IPv4),
			wantReason: v1beta1.ReasonInvalidRequest},
		{name: "no family", pools: both, req: fams(SingleStack), wantReason: v1beta1.ReasonInvalidRequest},
		{name: "same family twice", pools: both, req: fams(PreferDualStack, iprange.IPv4, iprange.IPv4), wantReason: v1beta1.ReasonInvalidRequest},
		{name: "zero Family", pools: both, req: fams(SingleStack, 0), wantReason: v1beta1.ReasonInvalidRequest},
	})
}

func TestRequireDualStackFailureAllocatesNothing(t *testing.T) {
	a := newAllocator(t, pool("tiny", "198.51.100.0/28", "2001:db8::1/128"))
	mustAssign(t, a, svc("v6").with(func(r *Request) { r.Families = []iprange.Family{iprange.IPv6} }))
	_, err := a.Assign(svc("x").with(func(r *Request) {
		r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
	}))
	checkReason(t, err, v1beta1.ReasonPoolExhausted)
	st, _ := a.Stats("tiny")
	if st.AssignedIPv4 != 0 || st.AvailableIPv4 != 16 {
		t.Errorf("after the failure IPv4 assigned/available = %d/%d, want 0/16", st.AssignedIPv4, st.AvailableIPv4)
	}
	// The IPv4 address the failed attempt looked at is still the next one.
	if got := mustAssign(t, a, svc("y")); got.IPs[0] != ip("198.51.100.0") {
		t.Errorf("next Service got %s, want 198.51.100.0", got.IPs[0])
	}
}

func TestPreferDualStackGainsSecondFamilyInItsPool(t *testing.T) {
	a := newAllocator(t, pool("tiny", "198.51.100.0/28", "2001:db8::1/128"))
	mustAssign(t, a, svc("v6").with(func(r *Request) { r.Families = []iprange.Family{iprange.IPv6} }))
	req := svc("x").with(func(r *Request) { r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, PreferDualStack })
	if got := mustAssign(t, a, req); len(got.IPs) != 1 {
		t.Fatalf("with IPv6 full got %v, want one IPv4 address", got.IPs)
	}
	a.Release("default/v6")
	got := mustAssign(t, a, req)
	want := Assignment{IPs: ips("198.51.100.0", "2001:db8::1"), Pool: "tiny"}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Errorf("once IPv6 frees up (-want +got):\n%s", diff)
	}
}

func TestPreferDualStackKeepsItsAddressOverADualPool(t *testing.T) {
	v4only := pool("v4only", "192.0.2.0/28")
	v4only.Priority = prio(1)
	a := newAllocator(t, v4only)
	req := svc("x").with(func(r *Request) { r.Families, r.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, PreferDualStack })
	first := mustAssign(t, a, req)

	// A dual-stack pool appears. A new Service goes there, but the existing
	// one keeps its address rather than move to gain IPv6.
	if _, err := a.SetPools([]Pool{v4only, pool("dual", "198.51.100.0/28", "2001:db8::/64")}); err != nil {
		t.Fatal(err)
	}
	if got := mustAssign(t, a, req); !cmp.Equal(first, got, addrCmp) {
		t.Errorf("existing Service moved from %v to %v", first, got)
	}
	if got := mustAssign(t, a, req.with(func(r *Request) { r.Service = "default/new" })); got.Pool != "dual" {
		t.Errorf("new PreferDualStack Service got pool %s, want dual", got.Pool)
	}
}

func TestAssignIsIdempotent(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28", "2001:db8::/64"))
	req := svc("x").with(func(r *Request) {
		r.Families, r.Policy = []iprange.Family{iprange.IPv6, iprange.IPv4}, RequireDualStack
	})
	first := mustAssign(t, a, req)
	// Other Services coming and going do not move it.
	for i := range 5 {
		mustAssign(t, a, svc(fmt.Sprint("other", i)))
	}
	a.Release("default/other1")
	for range 3 {
		if got := mustAssign(t, a, req); !cmp.Equal(first, got, addrCmp) {
			t.Fatalf("Assign again = %v, want %v", got, first)
		}
	}
	st, _ := a.Stats("lan")
	if st.AssignedIPv4 != 5 || st.AssignedIPv6 != 1 {
		t.Errorf("assigned IPv4/IPv6 = %d/%d, want 5/1", st.AssignedIPv4, st.AssignedIPv6)
	}
	if n := a.Users("lan"); n != 5 {
		t.Errorf("Users = %d, want 5", n)
	}
}

func TestAssignLeavesPoolThatNoLongerAdmits(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	mustAssign(t, a, svc("x"))
	lan := pool("lan", "192.0.2.0/28")
	lan.Namespaces = []string{"team-a"}
	if _, err := a.SetPools([]Pool{lan, pool("other", "198.51.100.0/28")}); err != nil {
		t.Fatal(err)
	}
	got := mustAssign(t, a, svc("x"))
	if diff := cmp.Diff(Assignment{IPs: ips("198.51.100.0"), Pool: "other"}, got, addrCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := a.Users("lan"); n != 0 {
		t.Errorf("lan still has %d users", n)
	}
}

func TestExhaustionReleaseReuse(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/30"))
	for i := range 4 {
		mustAssign(t, a, svc(fmt.Sprint("s", i)))
	}
	_, err := a.Assign(svc("late"))
	checkReason(t, err, v1beta1.ReasonPoolExhausted)
	if _, ok := a.Lookup("default/late"); ok {
		t.Fatal("a failed Service has a lease")
	}

	if got := a.Release("default/s1"); !cmp.Equal(got, ips("192.0.2.1"), addrCmp) {
		t.Fatalf("Release = %v, want [192.0.2.1]", got)
	}
	if got := a.Release("default/s1"); got != nil {
		t.Errorf("second Release = %v, want nil", got)
	}
	if got := mustAssign(t, a, svc("late")); got.IPs[0] != ip("192.0.2.1") {
		t.Errorf("after release got %s, want the freed 192.0.2.1", got.IPs[0])
	}
	_, err = a.Assign(svc("later"))
	checkReason(t, err, v1beta1.ReasonPoolExhausted)
}

func TestCurrentIsHonoured(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	got := mustAssign(t, a, svc("x").with(func(r *Request) { r.Current = ips("192.0.2.9") }))
	if got.IPs[0] != ip("192.0.2.9") {
		t.Fatalf("got %s, want the Current 192.0.2.9", got.IPs[0])
	}
	// Fresh allocation skips the claimed address.
	var seen []netip.Addr
	for i := range 15 {
		seen = append(seen, mustAssign(t, a, svc(fmt.Sprint("s", i))).IPs[0])
	}
	for _, s := range seen {
		if s == ip("192.0.2.9") {
			t.Fatalf("192.0.2.9 handed out twice: %v", seen)
		}
	}

	// A Current address held by someone else is not taken from them.
	b := newAllocator(t, pool("lan", "192.0.2.0/28"))
	mustAssign(t, b, svc("owner").with(func(r *Request) { r.IPs = ips("192.0.2.9") }))
	got = mustAssign(t, b, svc("x").with(func(r *Request) { r.Current = ips("192.0.2.9") }))
	if got.IPs[0] != ip("192.0.2.0") {
		t.Errorf("got %s, want a fresh 192.0.2.0", got.IPs[0])
	}
	// A Current address outside every pool is ignored, and the first pool
	// by priority still wins over the others scanned for it.
	c := newAllocator(t, func() Pool { p := pool("a", "192.0.2.0/28"); p.Priority = prio(1); return p }(),
		pool("b", "198.51.100.0/28"))
	got = mustAssign(t, c, svc("x").with(func(r *Request) { r.Current = ips("203.0.113.5") }))
	if diff := cmp.Diff(Assignment{IPs: ips("192.0.2.0"), Pool: "a"}, got, addrCmp); diff != "" {
		t.Errorf("Current outside every pool (-want +got):\n%s", diff)
	}
	// A Current address outside the allowed pools is ignored.
	got = mustAssign(t, b, svc("y").with(func(r *Request) { r.Current = ips("198.51.100.200") }))
	if got.IPs[0] != ip("192.0.2.1") {
		t.Errorf("got %s, want a fresh 192.0.2.1", got.IPs[0])
	}
}

func TestNoNew(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	mustAssign(t, a, svc("owner").with(func(r *Request) { r.IPs = ips("192.0.2.9") }))
	noNew := func(name string, f func(*Request)) Request {
		return svc(name).with(func(r *Request) { r.NoNew = true; f(r) })
	}

	got := mustAssign(t, a, noNew("kept", func(r *Request) { r.Current = ips("192.0.2.3") }))
	if got.IPs[0] != ip("192.0.2.3") {
		t.Errorf("got %v, want the Current 192.0.2.3", got.IPs)
	}

	_, err := a.Assign(noNew("nothing", func(*Request) {}))
	if !errors.Is(err, ErrNoNew) {
		t.Errorf("without Current: err = %v, want ErrNoNew", err)
	}
	_, err = a.Assign(noNew("other-ip", func(r *Request) { r.Current = ips("192.0.2.4"); r.IPs = ips("192.0.2.5") }))
	if !errors.Is(err, ErrNoNew) {
		t.Errorf("asking for an address it does not show: err = %v, want ErrNoNew", err)
	}
	_, err = a.Assign(noNew("clash", func(r *Request) { r.Current = ips("192.0.2.9") }))
	checkReason(t, err, v1beta1.ReasonIPUnavailable)

	st, _ := a.Stats("lan")
	if st.AssignedIPv4 != 2 {
		t.Errorf("assigned = %d, want 2: NoNew must not hand out addresses", st.AssignedIPv4)
	}
}

func TestAutoAssignOffKeepsOwnAddresses(t *testing.T) {
	on := pool("p", "192.0.2.0/28")
	a := newAllocator(t, on)
	got := mustAssign(t, a, svc("a"))

	off := on
	off.AutoAssign = false
	if _, err := a.SetPools([]Pool{off, pool("q", "198.51.100.0/28")}); err != nil {
		t.Fatal(err)
	}
	kept := mustAssign(t, a, svc("a").with(func(r *Request) { r.Current = got.IPs }))
	if diff := cmp.Diff(got, kept, addrCmp); diff != "" {
		t.Errorf("the Service moved when its pool turned autoAssign off (-before +after):\n%s", diff)
	}
	if newcomer := mustAssign(t, a, svc("b")); newcomer.Pool != "q" {
		t.Errorf("newcomer got %v; want an address of pool q, not of the autoAssign-off pool", newcomer)
	}

	// After a restart (no lease, the status shows the address) it is kept too.
	b := newAllocator(t, off)
	restored := mustAssign(t, b, svc("a").with(func(r *Request) { r.Current, r.NoNew = got.IPs, true }))
	if diff := cmp.Diff(got, restored, addrCmp); diff != "" {
		t.Errorf("restore (-want +got):\n%s", diff)
	}
	_, err := b.Assign(svc("c"))
	checkReason(t, err, v1beta1.ReasonNoMatchingPool)
}

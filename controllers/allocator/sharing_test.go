package allocator

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSharing(t *testing.T) {
	lan := []Pool{pool("lan", "192.0.2.0/28")}
	single := []Pool{pool("single", "192.0.2.1/32")}
	local := func(s string) *string { return &s }
	// shared returns a Service asking to share under key with the given ports.
	shared := func(name, key string, ports ...Port) Request {
		return svc(name).with(func(r *Request) { r.SharingKey, r.Ports = key, ports })
	}
	at := func(r Request, addr string) Request {
		return r.with(func(r *Request) { r.IPs = ips(addr) })
	}
	tcp := func(p int32) Port { return Port{Protocol: "TCP", Port: p} }
	udp := func(p int32) Port { return Port{Protocol: "UDP", Port: p} }
	web := shared("web", "k", tcp(80), tcp(443))
	webLocal := web.with(func(r *Request) { r.LocalSelector = local("app=web") })

	first := pool("first", "203.0.113.0/28")
	first.Priority = prio(1)
	second := pool("second", "198.51.100.0/28")
	second.Priority = prio(2)
	twoPools := []Pool{first, second}
	webInSecond := web.with(func(r *Request) { r.Pool = "second" })

	runAssignCases(t, []assignCase{
		{name: "shared address in a later pool beats a fresh one in the first", pools: twoPools,
			before: []Request{webInSecond}, req: shared("dns", "k", udp(53)),
			want: Assignment{IPs: ips("198.51.100.0"), Pool: "second"}},
		{name: "incompatible shared address: fresh one from the first pool", pools: twoPools,
			before: []Request{webInSecond}, req: shared("proxy", "k", tcp(80)),
			want: Assignment{IPs: ips("203.0.113.0"), Pool: "first"}},
		{name: "same key, other ports: reuses the address", pools: lan, before: []Request{web},
			req: shared("dns", "k", udp(53), tcp(53)), want: Assignment{IPs: ips("192.0.2.0"), Pool: "lan"}},
		{name: "same port number, other protocol: shares", pools: lan, before: []Request{web},
			req: shared("quic", "k", udp(443)), want: Assignment{IPs: ips("192.0.2.0"), Pool: "lan"}},
		{name: "same key, clashing port: takes a fresh address", pools: lan, before: []Request{web},
			req: shared("proxy", "k", tcp(80)), want: Assignment{IPs: ips("192.0.2.1"), Pool: "lan"}},
		{name: "other key: takes a fresh address", pools: lan, before: []Request{web},
			req: shared("dns", "other", udp(53)), want: Assignment{IPs: ips("192.0.2.1"), Pool: "lan"}},
		{name: "shared address in a full pool", pools: single, before: []Request{web},
			req: shared("dns", "k", udp(53)), want: Assignment{IPs: ips("192.0.2.1"), Pool: "single"}},
		{name: "clashing port in a full pool", pools: single, before: []Request{web},
			req: shared("proxy", "k", tcp(443)), wantReason: v1beta1.ReasonPoolExhausted},
		{name: "asks for the address, same key", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("dns", "k", udp(53)), "192.0.2.7"), want: Assignment{IPs: ips("192.0.2.7"), Pool: "lan"}},
		{name: "asks for the address, clashing port", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("proxy", "k", tcp(8080), tcp(443)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: "192.0.2.7 is shared by default/web, which already uses TCP port 443"},
		{name: "asks for the address, other key", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("dns", "other", udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: `192.0.2.7 is shared by default/web under the sharing key "k", but default/dns has the key "other"`},
		{name: "asks for the address without a key", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(svc("dns"), "192.0.2.7"), wantReason: v1beta1.ReasonIPUnavailable,
			wantMsg: `192.0.2.7 is held by default/web, which shares it only under the sharing key "k" that default/dns does not have`},
		{name: "holder has no key", pools: lan, before: []Request{at(svc("web"), "192.0.2.7")},
			req: at(shared("dns", "k", udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonIPUnavailable,
			wantMsg: "192.0.2.7 is held by default/web, which does not share it"},
		{name: "both Local with the same pods", pools: lan, before: []Request{webLocal},
			req:  shared("dns", "k", udp(53)).with(func(r *Request) { r.LocalSelector = local("app=web") }),
			want: Assignment{IPs: ips("192.0.2.0"), Pool: "lan"}},
		{name: "both Local with other pods: fresh address", pools: lan, before: []Request{webLocal},
			req:  shared("dns", "k", udp(53)).with(func(r *Request) { r.LocalSelector = local("app=dns") }),
			want: Assignment{IPs: ips("192.0.2.1"), Pool: "lan"}},
		{name: "asks for the address, Local with other pods", pools: lan, before: []Request{at(webLocal, "192.0.2.7")},
			req:        at(shared("dns", "k", udp(53)), "192.0.2.7").with(func(r *Request) { r.LocalSelector = local("app=dns") }),
			wantReason: v1beta1.ReasonSharingConflict,
			wantMsg:    `192.0.2.7 is shared by default/web, which has externalTrafficPolicy Local and selects pods "app=web", while default/dns selects "app=dns"; under Local, services sharing an IP must select the same pods`},
		{name: "asks for the address, Cluster beside Local", pools: lan, before: []Request{at(webLocal, "192.0.2.7")},
			req: at(shared("dns", "k", udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict},
		{name: "asks for the address, Local beside Cluster", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req:        at(shared("dns", "k", udp(53)), "192.0.2.7").with(func(r *Request) { r.LocalSelector = local("app=web") }),
			wantReason: v1beta1.ReasonSharingConflict},
		{name: "three services on one address", pools: lan, before: []Request{web, shared("dns", "k", udp(53))},
			req: shared("ssh", "k", tcp(22)), want: Assignment{IPs: ips("192.0.2.0"), Pool: "lan"}},
		{name: "third clashes with the second, not the first", pools: lan, before: []Request{web, shared("dns", "k", udp(53))},
			req: shared("dns2", "k", udp(53)), want: Assignment{IPs: ips("192.0.2.1"), Pool: "lan"}},
	})
}

func TestSharedAddressStaysUntilLastUserReleases(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	mustAssign(t, a, svc("web").with(func(r *Request) { r.SharingKey, r.Ports = "k", []Port{{"TCP", 80}} }))
	mustAssign(t, a, svc("dns").with(func(r *Request) { r.SharingKey, r.Ports = "k", []Port{{"UDP", 53}} }))
	st, _ := a.Stats("lan")
	if st.AssignedIPv4 != 1 || st.AvailableIPv4 != 15 || a.Users("lan") != 2 {
		t.Fatalf("shared: assigned %d, available %d, users %d; want 1, 15, 2", st.AssignedIPv4, st.AvailableIPv4, a.Users("lan"))
	}

	if got := a.Release("default/web"); !cmp.Equal(got, ips("192.0.2.0"), addrCmp) {
		t.Fatalf("Release(web) = %v", got)
	}
	_, err := a.Assign(svc("thief").with(func(r *Request) { r.IPs = ips("192.0.2.0") }))
	checkReason(t, err, v1beta1.ReasonIPUnavailable)
	if want := "192.0.2.0 is held by default/dns, which shares it only under the sharing key \"k\" that default/thief does not have"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if got := mustAssign(t, a, svc("other")); got.IPs[0] != ip("192.0.2.1") {
		t.Errorf("a fresh Service got %s while 192.0.2.0 is still shared", got.IPs[0])
	}

	a.Release("default/dns")
	if got := mustAssign(t, a, svc("thief").with(func(r *Request) { r.IPs = ips("192.0.2.0") })); got.IPs[0] != ip("192.0.2.0") {
		t.Errorf("after the last user left got %v", got.IPs)
	}
}

func TestChangingSharingKey(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	web := svc("web").with(func(r *Request) { r.SharingKey, r.Ports = "k", []Port{{"TCP", 80}} })
	dns := svc("dns").with(func(r *Request) { r.SharingKey, r.Ports = "k", []Port{{"UDP", 53}} })
	mustAssign(t, a, web)
	mustAssign(t, a, dns)

	// dns changes key: it can no longer share with web, so it moves.
	got := mustAssign(t, a, dns.with(func(r *Request) { r.SharingKey = "k2" }))
	if got.IPs[0] != ip("192.0.2.1") {
		t.Fatalf("dns with a new key got %s, want 192.0.2.1", got.IPs[0])
	}
	// web, now alone, changes key and keeps its address.
	got = mustAssign(t, a, web.with(func(r *Request) { r.SharingKey = "k3" }))
	if got.IPs[0] != ip("192.0.2.0") {
		t.Fatalf("web alone with a new key got %s, want to keep 192.0.2.0", got.IPs[0])
	}
	// Sharing under the old key no longer finds web's address.
	got = mustAssign(t, a, svc("ssh").with(func(r *Request) { r.SharingKey, r.Ports = "k", []Port{{"TCP", 22}} }))
	if got.IPs[0] != ip("192.0.2.2") {
		t.Errorf("ssh under the old key got %s, want a fresh 192.0.2.2", got.IPs[0])
	}
	got = mustAssign(t, a, svc("ssh2").with(func(r *Request) { r.SharingKey, r.Ports = "k3", []Port{{"TCP", 22}} }))
	if got.IPs[0] != ip("192.0.2.0") {
		t.Errorf("ssh2 under web's new key got %s, want 192.0.2.0", got.IPs[0])
	}

	// Ports changing on a kept address are checked against the others.
	_, err := a.Assign(svc("ssh2").with(func(r *Request) {
		r.SharingKey, r.Ports, r.IPs = "k3", []Port{{"TCP", 80}}, ips("192.0.2.0")
	}))
	checkReason(t, err, v1beta1.ReasonSharingConflict)
}

// Sharing keys are namespaced: a Service of another namespace that knows
// the key (and the IP) may share only with consent from both sides, and
// never under externalTrafficPolicy Local.
func TestSharingAcrossNamespaces(t *testing.T) {
	lan := []Pool{pool("lan", "192.0.2.0/28")}
	tcp := func(p int32) Port { return Port{Protocol: "TCP", Port: p} }
	udp := func(p int32) Port { return Port{Protocol: "UDP", Port: p} }
	local := func(s string) *string { return &s }
	// shared returns ns/name asking to share under key with the given
	// ports, consenting to the namespaces nss.
	shared := func(ns, name, key string, nss []string, ports ...Port) Request {
		return Request{
			Service: ns + "/" + name, Namespace: ns, Families: []iprange.Family{iprange.IPv4},
			SharingKey: key, SharingNamespaces: nss, Ports: ports,
		}
	}
	at := func(r Request, addr string) Request {
		return r.with(func(r *Request) { r.IPs = ips(addr) })
	}
	onLocal := func(r Request) Request {
		return r.with(func(r *Request) { r.LocalSelector = local("app=web") })
	}
	to := func(nss ...string) []string { return nss }
	none := to()

	// The victim, team-a/web, holds 192.0.2.0 (or .7 when asked).
	web := shared("team-a", "web", "k", none, tcp(80), tcp(443))
	webTrusting := shared("team-a", "web", "k", to("team-b"), tcp(80), tcp(443))
	webTrustingAll := shared("team-a", "web", "k", to("*"), tcp(80), tcp(443))
	fresh := Assignment{IPs: ips("192.0.2.1"), Pool: "lan"}
	joined := Assignment{IPs: ips("192.0.2.0"), Pool: "lan"}
	joinedAt7 := Assignment{IPs: ips("192.0.2.7"), Pool: "lan"}
	const rule = "192.0.2.7 is held by a Service of namespace team-a; Services of two namespaces share an IP " +
		"only when each lists the other's namespace in ironlb.io/allow-shared-ip-namespaces: "

	runAssignCases(t, []assignCase{
		{name: "same key, other namespace, no consent: fresh address", pools: lan, before: []Request{web},
			req: shared("team-b", "dns", "k", none, udp(53)), want: fresh},
		{name: "same key, other namespace, asks for the address without consent", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("team-b", "dns", "k", none, udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: rule + "team-b/dns must list team-a, and the Service of team-a must list team-b"},
		{name: "other namespace asks for the address without a key", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req:        at(svc("dns").with(func(r *Request) { r.Service, r.Namespace = "team-b/dns", "team-b" }), "192.0.2.7"),
			wantReason: v1beta1.ReasonSharingConflict,
			wantMsg:    rule + "team-b/dns must list team-a, and the Service of team-a must list team-b"},
		{name: "other namespace's holder has no key: not named", pools: lan,
			before: []Request{at(svc("web").with(func(r *Request) { r.Service, r.Namespace = "team-a/web", "team-a" }), "192.0.2.7")},
			req:    at(shared("team-b", "dns", "k", to("team-a"), udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonIPUnavailable,
			wantMsg: "192.0.2.7 is held by a Service of namespace team-a, which does not share it"},
		{name: "only the newcomer consents: fresh address", pools: lan, before: []Request{web},
			req: shared("team-b", "dns", "k", to("team-a"), udp(53)), want: fresh},
		{name: "only the newcomer consents, asks for the address", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("team-b", "dns", "k", to("team-a"), udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: rule + "the Service of team-a must list team-b"},
		{name: "only the holder consents: fresh address", pools: lan, before: []Request{webTrusting},
			req: shared("team-b", "dns", "k", none, udp(53)), want: fresh},
		{name: "only the holder consents, asks for the address", pools: lan, before: []Request{at(webTrusting, "192.0.2.7")},
			req: at(shared("team-b", "dns", "k", none, udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: rule + "team-b/dns must list team-a"},
		{name: "consent to a third namespace only", pools: lan, before: []Request{shared("team-a", "web", "k", to("team-c"), tcp(80))},
			req: shared("team-b", "dns", "k", to("team-a"), udp(53)), want: fresh},
		{name: "mutual consent: shares", pools: lan, before: []Request{webTrusting},
			req: shared("team-b", "dns", "k", to("team-a"), udp(53)), want: joined},
		{name: "mutual consent, asks for the address", pools: lan, before: []Request{at(webTrusting, "192.0.2.7")},
			req: at(shared("team-b", "dns", "k", to("team-a"), udp(53)), "192.0.2.7"), want: joinedAt7},
		{name: "* on both sides: shares", pools: lan, before: []Request{webTrustingAll},
			req: shared("team-b", "dns", "k", to("*"), udp(53)), want: joined},
		{name: "* on one side, the namespace on the other: shares", pools: lan, before: []Request{webTrustingAll},
			req: shared("team-b", "dns", "k", to("team-x", "team-a"), udp(53)), want: joined},
		{name: "* on one side only", pools: lan, before: []Request{webTrustingAll},
			req: shared("team-b", "dns", "k", none, udp(53)), want: fresh},
		{name: "mutual consent, other key", pools: lan, before: []Request{at(webTrusting, "192.0.2.7")},
			req: at(shared("team-b", "dns", "other", to("team-a"), udp(53)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: `192.0.2.7 is shared by team-a/web under the sharing key "k", but team-b/dns has the key "other"`},
		{name: "mutual consent, clashing port", pools: lan, before: []Request{at(webTrusting, "192.0.2.7")},
			req: at(shared("team-b", "proxy", "k", to("team-a"), tcp(443)), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: "192.0.2.7 is shared by team-a/web, which already uses TCP port 443"},
		{name: "Local, mutual consent, same selector: fresh address", pools: lan, before: []Request{onLocal(webTrusting)},
			req: onLocal(shared("team-b", "dns", "k", to("team-a"), udp(53))), want: fresh},
		{name: "Local, mutual consent, asks for the address", pools: lan, before: []Request{at(onLocal(webTrustingAll), "192.0.2.7")},
			req: at(onLocal(shared("team-b", "dns", "k", to("*"), udp(53))), "192.0.2.7"), wantReason: v1beta1.ReasonSharingConflict,
			wantMsg: "192.0.2.7 is shared by team-a/web, which has externalTrafficPolicy Local in namespace team-a, while team-b/dns is in team-b; " +
				"under Local only Services of one namespace share an IP, since Services of two namespaces never select the same pods"},
		{name: "a third Service must consent to every namespace already there", pools: lan,
			before: []Request{webTrusting, shared("team-b", "dns", "k", to("team-a"), udp(53))},
			req:    shared("team-a", "ssh", "k", none, tcp(22)), want: fresh},
		{name: "a third Service consenting to every namespace already there", pools: lan,
			before: []Request{webTrusting, shared("team-b", "dns", "k", to("team-a"), udp(53))},
			req:    shared("team-a", "ssh", "k", to("team-b"), tcp(22)), want: joined},
		{name: "its own namespace's address first", pools: lan,
			before: []Request{
				at(shared("team-b", "dns", "k", to("team-a"), udp(53)), "192.0.2.5"),
				at(shared("team-a", "web", "k", none, tcp(80)), "192.0.2.7"),
			},
			req: shared("team-a", "ssh", "k", to("team-b"), tcp(22)), want: joinedAt7},
		{name: "namespaces without a key", pools: lan,
			req: shared("team-b", "dns", "", to("team-a"), udp(53)), wantReason: v1beta1.ReasonInvalidRequest,
			wantMsg: "team-b/dns lists namespaces to share an IP with but has no sharing key"},
		{name: "an empty namespace name", pools: lan,
			req: shared("team-b", "dns", "k", to("team-a", ""), udp(53)), wantReason: v1beta1.ReasonInvalidRequest,
			wantMsg: `team-b/dns lists an empty namespace to share an IP with`},
	})
}

// Withdrawing consent moves the Service that withdrew it, never the other.
func TestWithdrawingConsent(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/28"))
	web := Request{Service: "team-a/web", Namespace: "team-a", Families: []iprange.Family{iprange.IPv4},
		SharingKey: "k", SharingNamespaces: []string{"team-b"}, Ports: []Port{{"TCP", 80}}}
	dns := Request{Service: "team-b/dns", Namespace: "team-b", Families: []iprange.Family{iprange.IPv4},
		SharingKey: "k", SharingNamespaces: []string{"team-a"}, Ports: []Port{{"UDP", 53}}}
	mustAssign(t, a, web)
	if got := mustAssign(t, a, dns); got.IPs[0] != ip("192.0.2.0") {
		t.Fatalf("dns with mutual consent got %s, want the shared 192.0.2.0", got.IPs[0])
	}

	got := mustAssign(t, a, web.with(func(r *Request) { r.SharingNamespaces = nil }))
	if diff := cmp.Diff(ips("192.0.2.1"), got.IPs, addrCmp); diff != "" {
		t.Errorf("web after withdrawing consent (-want +got):\n%s", diff)
	}
	if got := mustAssign(t, a, dns); got.IPs[0] != ip("192.0.2.0") {
		t.Errorf("dns got %s, want to keep 192.0.2.0", got.IPs[0])
	}
	// The address dns keeps is no longer open to team-a without consent.
	_, err := a.Assign(web.with(func(r *Request) { r.SharingNamespaces, r.IPs = nil, ips("192.0.2.0") }))
	checkReason(t, err, v1beta1.ReasonSharingConflict)
}

// After any sequence of Assign and Release, every pair of holders of an
// address may share it, and the share index lists each address exactly
// under the groups of its holders.
func TestShareIndexMatchesHolders(t *testing.T) {
	a := newAllocator(t, pool("lan", "192.0.2.0/29"))
	r := rand.New(rand.NewPCG(3, 4))
	namespaces := []string{"team-a", "team-b", "team-c"}
	consents := [][]string{nil, {"team-a"}, {"team-b", "team-c"}, {"*"}}
	for step := range 3000 {
		ns := namespaces[r.IntN(len(namespaces))]
		name := fmt.Sprintf("%s/s%d", ns, r.IntN(6))
		if r.IntN(4) == 0 {
			a.Release(name)
		} else {
			req := Request{Service: name, Namespace: ns, Families: []iprange.Family{iprange.IPv4},
				Ports: []Port{{"TCP", int32(r.IntN(4))}}}
			if key := r.IntN(3); key > 0 {
				req.SharingKey = fmt.Sprint("k", key)
				req.SharingNamespaces = consents[r.IntN(len(consents))]
			}
			if r.IntN(3) == 0 {
				sel := "app=web"
				req.LocalSelector = &sel
			}
			if r.IntN(3) == 0 {
				req.IPs = ips(fmt.Sprintf("192.0.2.%d", r.IntN(8)))
			}
			_, _ = a.Assign(req) // failures are expected; the state must stay sound
		}
		if err := checkSharing(a); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
}

// checkSharing verifies the allocator's sharing invariants.
func checkSharing(a *Allocator) error {
	want := shareIndex{}
	for _, e := range a.ips {
		for i, h := range e.holders {
			for _, o := range e.holders[i+1:] {
				rq := prepared{Request: Request{Service: o.service, Ports: o.ports, LocalSelector: o.local}, share: o.share}
				if err := joinError(e.ip, h, &rq); err != nil {
					return fmt.Errorf("%s and %s hold %s together: %v", h.service, o.service, e.ip, err)
				}
			}
			if h.share.shares() && !slices.ContainsFunc(e.holders[:i], func(p *lease) bool { return p.share.id.namespace == h.share.id.namespace }) {
				want.add(h.share.id, e.ip)
			}
		}
	}
	sorted := cmpopts.SortSlices(func(x, y netip.Addr) bool { return x.Less(y) })
	if diff := cmp.Diff(want, a.shared, addrCmp, sorted, cmpopts.EquateEmpty()); diff != "" {
		return fmt.Errorf("share index (-want +got):\n%s", diff)
	}
	return nil
}

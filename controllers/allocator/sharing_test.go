package allocator

import (
	"testing"

	"github.com/google/go-cmp/cmp"
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
			req: shared("proxy", "k", tcp(443)), wantReason: ReasonPoolExhausted},
		{name: "asks for the address, same key", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("dns", "k", udp(53)), "192.0.2.7"), want: Assignment{IPs: ips("192.0.2.7"), Pool: "lan"}},
		{name: "asks for the address, clashing port", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("proxy", "k", tcp(8080), tcp(443)), "192.0.2.7"), wantReason: ReasonSharingConflict,
			wantMsg: "192.0.2.7 is shared by default/web, which already uses TCP port 443"},
		{name: "asks for the address, other key", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(shared("dns", "other", udp(53)), "192.0.2.7"), wantReason: ReasonSharingConflict,
			wantMsg: `192.0.2.7 is shared by default/web under the sharing key "k", but default/dns has the key "other"`},
		{name: "asks for the address without a key", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req: at(svc("dns"), "192.0.2.7"), wantReason: ReasonIPUnavailable,
			wantMsg: `192.0.2.7 is held by default/web, which shares it only under the sharing key "k" that default/dns does not have`},
		{name: "holder has no key", pools: lan, before: []Request{at(svc("web"), "192.0.2.7")},
			req: at(shared("dns", "k", udp(53)), "192.0.2.7"), wantReason: ReasonIPUnavailable,
			wantMsg: "192.0.2.7 is held by default/web, which does not share it"},
		{name: "both Local with the same pods", pools: lan, before: []Request{webLocal},
			req:  shared("dns", "k", udp(53)).with(func(r *Request) { r.LocalSelector = local("app=web") }),
			want: Assignment{IPs: ips("192.0.2.0"), Pool: "lan"}},
		{name: "both Local with other pods: fresh address", pools: lan, before: []Request{webLocal},
			req:  shared("dns", "k", udp(53)).with(func(r *Request) { r.LocalSelector = local("app=dns") }),
			want: Assignment{IPs: ips("192.0.2.1"), Pool: "lan"}},
		{name: "asks for the address, Local with other pods", pools: lan, before: []Request{at(webLocal, "192.0.2.7")},
			req:        at(shared("dns", "k", udp(53)), "192.0.2.7").with(func(r *Request) { r.LocalSelector = local("app=dns") }),
			wantReason: ReasonSharingConflict,
			wantMsg:    `192.0.2.7 is shared by default/web, which has externalTrafficPolicy Local and selects pods "app=web", while default/dns selects "app=dns"; under Local, services sharing an IP must select the same pods`},
		{name: "asks for the address, Cluster beside Local", pools: lan, before: []Request{at(webLocal, "192.0.2.7")},
			req: at(shared("dns", "k", udp(53)), "192.0.2.7"), wantReason: ReasonSharingConflict},
		{name: "asks for the address, Local beside Cluster", pools: lan, before: []Request{at(web, "192.0.2.7")},
			req:        at(shared("dns", "k", udp(53)), "192.0.2.7").with(func(r *Request) { r.LocalSelector = local("app=web") }),
			wantReason: ReasonSharingConflict},
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
	checkReason(t, err, ReasonIPUnavailable)
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
	checkReason(t, err, ReasonSharingConflict)
}

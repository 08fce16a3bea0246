package layer2

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/prometheus/client_golang/prometheus"
)

// benchOwner is an owner over a set of n addresses, as the packet loop sees it
// (a map lookup), with the owned target inside it.
func benchOwner(n int, target netip.Addr) owner {
	set := make(addrSet, n)
	set[target] = struct{}{}
	base := netip.MustParseAddr("2001:db8:1::").As16()
	for i := range n - 1 {
		base[14], base[15] = byte(i>>8), byte(i)
		set[netip.AddrFrom16(base)] = struct{}{}
	}
	o := newOwnership(map[netip.Addr][]string{target: nil})
	return func(ip netip.Addr) bool {
		_, ok := set[ip]
		return ok && o.allows(ip, "eth0")
	}
}

// BenchmarkAnswer measures the per-frame decision (parse, validate, look up,
// build the reply) for the frames a responder sees: requests for an owned
// address, which are answered, and requests for someone else's, which are
// the bulk of ARP traffic on a shared segment.
func BenchmarkAnswer(b *testing.B) {
	cases := []struct {
		name   string
		frame  []byte
		answer func([]byte, port, owner) ([]byte, verdict)
		target netip.Addr
		want   verdict
	}{
		{"arp/owned", arpRequestFrame(b, arp.OperationRequest, clientMAC, client4, vip4), answerARP, vip4, answered},
		{"arp/not-owned", arpRequestFrame(b, arp.OperationRequest, clientMAC, client4, notOwned4), answerARP, vip4, ignored},
		{"arp/malformed", arpRequestFrame(b, arp.OperationRequest, clientMAC, client4, vip4)[:30], answerARP, vip4, malformed},
		{"ndp/owned", multicastNS(b, vip6), answerNDP, vip6, answered},
		{"ndp/not-owned", multicastNS(b, notOwned6), answerNDP, vip6, ignored},
	}
	for _, owned := range []int{1, 5000} {
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/owned=%d", c.name, owned), func(b *testing.B) {
				owns := benchOwner(owned, c.target)
				b.ReportAllocs()
				for b.Loop() {
					if _, v := c.answer(c.frame, testPort, owns); v != c.want {
						b.Fatalf("verdict %s, want %s", v, c.want)
					}
				}
			})
		}
	}
}

// BenchmarkUpdateOwned5000 measures what one UpdateOwned of one address
// costs the speaker while it owns 5,000 IPv6 addresses on one link, as
// during a burst of Services: the call and the reconcile it triggers, run
// here on the benchmark's goroutine in place of Run's. Addresses are gained
// and dropped in turn, so half the operations start a takeover burst (one
// frame, on the fake link). cpu-ns/op is the process's CPU time (packet
// loops, bursts and GC included) per operation.
func BenchmarkUpdateOwned5000(b *testing.B) {
	a, ctx := benchAnnouncer5000(b)
	extra := netip.MustParseAddr("2001:db8::2:1")
	set := map[netip.Addr][]string{extra: nil}
	drop := []netip.Addr{extra}
	b.ReportAllocs()
	start := cpuTime(b)
	gained := false
	for b.Loop() {
		if gained {
			a.UpdateOwned(nil, drop)
		} else {
			a.UpdateOwned(set, nil)
		}
		gained = !gained
		<-a.kick
		if err := a.reconcile(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// benchAnnouncer5000 returns an Announcer serving 5,000 IPv6 addresses
// on the fake eth0, reconciled once on the benchmark's goroutine (no Run),
// and the context its bursts run under.
func benchAnnouncer5000(b *testing.B) (*Announcer, context.Context) {
	h := newFakeHost(fakeEth0())
	a, err := New(Options{GratuitousCount: 1, Listen: h.listen, interfaces: h.interfaces, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(func() {
		cancel()
		a.shutdown()
	})
	a.SetOwned(benchAddrs(5000, "2001:db8::1:0"))
	if err := a.reconcile(ctx); err != nil {
		b.Fatal(err)
	}
	return a, ctx
}

// BenchmarkOwnerOn5000 measures the ownership test the packet loops make
// for every request, on a link answering for 5,000 addresses, from both
// cores at once as a link's ARP and NDP loops would.
func BenchmarkOwnerOn5000(b *testing.B) {
	a, _ := benchAnnouncer5000(b)
	owns := a.ownerOn(a.links["eth0"])
	ip := netip.MustParseAddr("2001:db8::1:100")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !owns(ip) {
				b.Error("owned address refused")
				return
			}
		}
	})
}

// benchAddrs returns n consecutive addresses from first, none named.
func benchAddrs(n int, first string) map[netip.Addr][]string {
	out := make(map[netip.Addr][]string, n)
	ip := netip.MustParseAddr(first)
	for range n {
		out[ip] = nil
		ip = ip.Next()
	}
	return out
}

// cpuTime is the CPU time, user and system, the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanInterfaces measures the netlink listing every reconcile
// starts with, on the interfaces of the namespace the benchmark runs in
// (reported as interfaces): what a reconcile after UpdateOwned costs on a
// real node beyond BenchmarkUpdateOwned5000's figure.
func BenchmarkScanInterfaces(b *testing.B) {
	var n int
	b.ReportAllocs()
	for b.Loop() {
		ifs, err := scanInterfaces()
		if err != nil {
			b.Fatal(err)
		}
		n = len(ifs)
	}
	b.ReportMetric(float64(n), "interfaces")
}

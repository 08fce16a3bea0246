package layer2

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
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

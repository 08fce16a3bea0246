package announce_test

import (
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/speaker/announce"
)

// BenchmarkCompute5000x3 is the decision every speaker makes on each change
// with 5,000 services on 3 nodes.
func BenchmarkCompute5000x3(b *testing.B) {
	for _, policy := range []string{"Cluster", "Local"} {
		b.Run(policy, func(b *testing.B) {
			ips := append(manyIPs(600), extraV6(4400)...)
			in := allPoolsInput([]string{"n1", "n2", "n3"}, ips)
			if policy == "Local" {
				for i := range in.Services {
					in.Services[i] = local(in.Services[i], []string{"n1", "n2", "n3"}[i%3])
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				r := announce.Compute(in)
				_ = r.L2Owned("n1")
				_ = r.Routes("n1")
			}
		})
	}
}

func extraV6(n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	a := netip.MustParseAddr("2001:db8:1::")
	for range n {
		a = a.Next()
		out = append(out, a)
	}
	return out
}

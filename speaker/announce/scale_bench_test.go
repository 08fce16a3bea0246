package announce_test

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/ironlb/ironlb/speaker/announce"
)

// The scale model of docs/scale.md: 1,000 nodes, 50,000 Services of one
// address each, one pool, one L2Advertisement and one BGPAdvertisement
// selecting every node (the worst case for the election: every node is a
// candidate for every address).
const (
	scaleNodes    = 1000
	scaleServices = 50000
)

// scaleIPs returns n distinct documentation addresses: the 768 of the three
// IPv4 /24s, then IPv6.
func scaleIPs(n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	for _, p := range []string{"192.0.2.0", "198.51.100.0", "203.0.113.0"} {
		a := netip.MustParseAddr(p)
		for range 256 {
			if len(out) == n {
				return out
			}
			out = append(out, a)
			a = a.Next()
		}
	}
	a := netip.MustParseAddr("2001:db8::")
	for len(out) < n {
		a = a.Next()
		out = append(out, a)
	}
	return out
}

func scaleNodeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("worker-%04d", i)
	}
	return out
}

func scaleInput(v announce.WinnerVersion) announce.Input {
	in := allPoolsInput(scaleNodeNames(scaleNodes), scaleIPs(scaleServices))
	in.WinnerVersion = v
	return in
}

// BenchmarkWinner1000Nodes is one election among 1,000 candidates: what
// each address costs in a full decision.
func BenchmarkWinner1000Nodes(b *testing.B) {
	nodes := scaleNodeNames(scaleNodes)
	ip := netip.MustParseAddr("2001:db8::1")
	for _, v := range []announce.WinnerVersion{announce.WinnerV1, announce.WinnerV2} {
		b.Run(v.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = v.Winner(ip, nodes)
			}
		})
	}
}

// BenchmarkScaleCompute is the full decision at 1,000 nodes and 50,000
// Services, with each election version. The speaker recomputes everything on
// every event, so this is the cost both of a membership change and, today,
// of a single Service change. live-MiB is the heap still in use with the
// input and the result held (what a speaker keeps between decisions, besides
// its informer cache).
func BenchmarkScaleCompute(b *testing.B) {
	for _, v := range []announce.WinnerVersion{announce.WinnerV1, announce.WinnerV2} {
		b.Run(v.String(), func(b *testing.B) {
			in := scaleInput(v)
			var res announce.Result
			b.ReportAllocs()
			for b.Loop() {
				res = announce.Compute(in)
				_ = res.L2Owned("worker-0001")
			}
			b.StopTimer()
			if res.LenL2() != scaleServices {
				b.Fatalf("%d of %d addresses announced", res.LenL2(), scaleServices)
			}
			b.ReportMetric(liveMiB(), "live-MiB")
			runtime.KeepAlive(in)
			runtime.KeepAlive(res)
		})
	}
}

// liveMiB is the heap in use after a collection.
func liveMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

//go:build lab

package bgp_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/bgp"
)

// benchFRRConf is one eBGP session carrying both families.
const benchFRRConf = `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 198.51.100.11 remote-as 64513
 address-family ipv4 unicast
  neighbor 198.51.100.11 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor 198.51.100.11 activate
 exit-address-family
`

// BenchmarkAnnounceToFRR measures, against FRR, the time from SetRoutes to
// the router holding every route, the time to withdraw them all, and the
// session resets while routes come and go. Run with -benchtime 1x: each
// iteration builds its own lab.
//
// Documentation ranges hold only 768 IPv4 addresses, so the 5,000-route case
// announces IPv6 /128s (over the IPv4 session, MP-BGP); the IPv4 case
// announces all 256 /32s of 203.0.113.0/24.
func BenchmarkAnnounceToFRR(b *testing.B) {
	b.Run("5000-ipv6-host-routes", func(b *testing.B) {
		routes := make([]bgp.Route, 5000)
		for i := range routes {
			a := netip.MustParseAddr("2001:db8:100::").As16()
			a[14], a[15] = byte(i>>8), byte(i)
			routes[i] = bgp.Route{Prefix: netip.PrefixFrom(netip.AddrFrom16(a), 128)}
		}
		benchAnnounce(b, routes, "ipv6Unicast", 500)
	})
	b.Run("256-ipv4-host-routes", func(b *testing.B) {
		routes := make([]bgp.Route, 256)
		for i := range routes {
			routes[i] = bgp.Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 32)}
		}
		benchAnnounce(b, routes, "ipv4Unicast", 0)
	})
}

func benchAnnounce(b *testing.B, routes []bgp.Route, family string, changes int) {
	for range b.N {
		b.StopTimer()
		l := newLab(b, routerAddrs[:1], nodeAddrs[:1], benchFRRConf)
		a := startAgent(b, l, testAgentOptions())
		a.mustCall(agentRequest{Op: "peers", Peers: testPeers()[:1]})
		expectEstablished(b, l, a, map[string]string{"ebgp": frrEBGP})
		before, err := l.neighbors()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		set := a.mustCall(agentRequest{Op: "routes", Routes: routes})
		waitReceived(b, l, family, len(routes))
		announced := time.Since(start)

		var changeTime time.Duration
		cur := append(routes[:0:0], routes...)
		for i := range changes {
			// One service goes, another comes.
			cur[i%len(cur)].Prefix = netip.MustParsePrefix(fmt.Sprintf("2001:db8:200::%x/128", i+1))
			changeTime += a.mustCall(agentRequest{Op: "routes", Routes: cur}).Elapsed
		}

		start = time.Now()
		a.mustCall(agentRequest{Op: "routes"})
		waitReceived(b, l, family, 0)
		withdrawn := time.Since(start)
		b.StopTimer()

		after, err := l.neighbors()
		if err != nil {
			b.Fatal(err)
		}
		resets := after[frrEBGP].Dropped - before[frrEBGP].Dropped
		if diff := cmp.Diff(before[frrEBGP], after[frrEBGP]); diff != "" {
			b.Errorf("the session was reset (-before +after):\n%s", diff)
		}
		b.ReportMetric(float64(set.Elapsed.Milliseconds()), "ms-SetRoutes")
		b.ReportMetric(float64(announced.Milliseconds()), "ms-until-router-holds-all")
		b.ReportMetric(float64(withdrawn.Milliseconds()), "ms-until-all-withdrawn")
		b.ReportMetric(float64(resets), "session-resets")
		msg := fmt.Sprintf("%d routes: SetRoutes %s, router holds all after %s, all withdrawn after %s, session resets %d",
			len(routes), set.Elapsed.Round(time.Millisecond), announced.Round(time.Millisecond), withdrawn.Round(time.Millisecond), resets)
		if changes > 0 {
			b.ReportMetric(float64(changeTime.Microseconds())/float64(changes), "µs-per-change")
			msg += fmt.Sprintf(", %d SetRoutes calls changing one route each at %s per call", changes, (changeTime / time.Duration(changes)).Round(time.Microsecond))
		}
		b.Log(msg)
		fmt.Println(msg)
	}
}

// waitReceived polls the router until it holds n prefixes of family from
// the speaker, every 20 ms (a vtysh call takes about as long).
func waitReceived(b *testing.B, l *lab, family string, n int) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		counts, err := l.received(family)
		if err == nil && counts[frrEBGP] == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("router holds %d %s prefixes, want %d (err %v)", counts[frrEBGP], family, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

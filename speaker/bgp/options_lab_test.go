//go:build lab

package bgp_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/speaker/bfd"
	"github.com/ironlb/ironlb/speaker/bgp"
)

// These tests check BGPPeer options against FRR: eBGP multihop through a
// transit router, BFD tearing a session down before its hold timer, and the
// hold time GoBGP really sends.

var (
	labRouterV4 = netip.MustParseAddr("198.51.100.1")
	labNodeV4   = netip.MustParseAddr("198.51.100.11")
	labPrefix4  = netip.MustParsePrefix("203.0.113.10/32")
)

// neighborTimers is what FRR says of a neighbour's timers.
type neighborTimers struct {
	State         string `json:"bgpState"`
	HoldTimeMsecs int    `json:"bgpTimerHoldTimeMsecs"`
	LastReset     string `json:"lastResetDueTo"`
	// LastNotification is the NOTIFICATION behind the last reset, such
	// as "Cease/BFD Down".
	LastNotification string `json:"lastNotificationReason"`
}

func (l *lab) neighbor(addr string) (neighborTimers, error) {
	var n map[string]neighborTimers
	if err := l.vtyshJSON("show bgp neighbors "+addr+" json", &n); err != nil {
		return neighborTimers{}, err
	}
	return n[addr], nil
}

// waitReceived waits until the router holds n IPv4 prefixes from neighbour.
func (l *lab) waitReceived(t testing.TB, neighbour string, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		got, err := l.received("ipv4Unicast")
		if err != nil {
			return err
		}
		if got[neighbour] != n {
			return fmt.Errorf("router holds %d prefixes from %s, want %d", got[neighbour], neighbour, n)
		}
		return nil
	})
}

// TestHoldTimeGoBGPSends documents why a BGPPeer with holdTime 0s is
// refused by the wiring (speaker/protocol/bgp ErrHoldTimeZero): FRR, ready
// to accept up to 180 s, sees 90 s from a peer whose hold time is 0, since
// GoBGP's API turns 0 into its default. 30 s is the control.
func TestHoldTimeGoBGPSends(t *testing.T) {
	const conf = `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.11 timers 60 180
`
	for _, tc := range []struct {
		name      string
		hold      time.Duration
		wantMsecs int
	}{
		{"hold time 0 reaches FRR as 90s", 0, 90000},
		{"hold time 30s reaches FRR as 30s", 30 * time.Second, 30000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, []string{"198.51.100.1/24"}, []string{"198.51.100.11/24"}, conf)
			a := startAgent(t, l, agentOptions{RouterID: labNodeV4, ListenPort: -1})
			a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{{Name: "r", MyASN: nodeASN, PeerASN: routerASN,
				Address: labRouterV4, SourceAddress: labNodeV4, HoldTime: tc.hold}}})
			var n neighborTimers
			eventually(t, 30*time.Second, func() error {
				var err error
				if n, err = l.neighbor("198.51.100.11"); err == nil && n.State != "Established" {
					err = fmt.Errorf("neighbour is %s", n.State)
				}
				return err
			})
			if n.HoldTimeMsecs != tc.wantMsecs {
				t.Errorf("FRR negotiated hold time %d ms, want %d", n.HoldTimeMsecs, tc.wantMsecs)
			}
		})
	}
}

// TestEBGPMultiHop peers with FRR one router away: the node reaches FRR
// through a transit namespace that forwards, so only a session whose
// packets leave with a TTL above 1 (ebgpMultiHop) comes up, and FRR learns
// the node's route over it.
//
//	node 198.51.100.11 -- 198.51.100.1 transit 192.0.2.1 -- 192.0.2.2 FRR
func TestEBGPMultiHop(t *testing.T) {
	l := newNamespaces(t)
	transit := strings.TrimSuffix(l.router, "-r") + "-t"
	l.addNamespace(transit)
	l.extra = append(l.extra, transit)
	l.link(l.node, "eth0", []string{"198.51.100.11/24"}, transit, "eth0", []string{"198.51.100.1/24"})
	l.link(transit, "eth1", []string{"192.0.2.1/24"}, l.router, "eth0", []string{"192.0.2.2/24"})
	run(t, "ip", "netns", "exec", transit, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "-n", l.node, "route", "add", "192.0.2.0/24", "via", "198.51.100.1")
	run(t, "ip", "-n", l.router, "route", "add", "198.51.100.0/24", "via", "192.0.2.1")
	l.startFRR(`
router bgp 64512
 bgp router-id 192.0.2.2
 no bgp ebgp-requires-policy
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.11 ebgp-multihop 2
 neighbor 198.51.100.11 timers 3 9
`)
	a := startAgent(t, l, agentOptions{RouterID: labNodeV4, ListenPort: -1})
	a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{{Name: "far", MyASN: nodeASN, PeerASN: routerASN,
		Address: netip.MustParseAddr("192.0.2.2"), SourceAddress: labNodeV4, EBGPMultiHop: true, HoldTime: 9 * time.Second}}})
	a.mustCall(agentRequest{Op: "routes", Routes: []bgp.Route{{Prefix: labPrefix4}}})
	expectEstablished(t, l, a, map[string]string{"far": "198.51.100.11"})
	l.waitReceived(t, "198.51.100.11", 1, 15*time.Second)
}

// bfdFRRConf peers FRR with the node with hold time 9 s, and with BFD at
// FRR's defaults (300 ms × 3) when withBFD.
func bfdFRRConf(withBFD bool) string {
	conf := `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.11 timers 3 9
`
	if withBFD {
		conf += " neighbor 198.51.100.11 bfd\n"
	}
	return conf
}

// bfdLabProfile matches FRR's defaults.
var bfdLabProfile = bfd.Profile{ReceiveInterval: 300 * time.Millisecond, TransmitInterval: 300 * time.Millisecond, DetectMultiplier: 3}

// startBFDLab runs FRR (with bfdd when withBFD) and a speaker peering with
// it, announcing one route, and waits until FRR holds it (and BFD is Up).
func startBFDLab(t testing.TB, withBFD bool) (*lab, *agent) {
	t.Helper()
	l := newNamespaces(t)
	l.bfdd = withBFD
	l.link(l.router, "eth0", []string{"198.51.100.1/24"}, l.node, "eth0", []string{"198.51.100.11/24"})
	l.startFRR(bfdFRRConf(withBFD))
	a := startAgent(t, l, agentOptions{RouterID: labNodeV4, ListenPort: -1})
	a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{{Name: "r", MyASN: nodeASN, PeerASN: routerASN,
		Address: labRouterV4, SourceAddress: labNodeV4, HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second,
		// Quick redials, so trials follow each other fast.
		ConnectTime: time.Second}}})
	a.mustCall(agentRequest{Op: "routes", Routes: []bgp.Route{{Prefix: labPrefix4}}})
	if withBFD {
		a.mustCall(agentRequest{Op: "bfd", BFD: map[string]bfd.Peer{"r": {Addr: labRouterV4, LocalAddr: labNodeV4, Profile: bfdLabProfile}}})
	}
	l.waitReady(t, a, withBFD)
	return l, a
}

// waitReady waits until FRR holds the route, and BFD is Up on both sides.
func (l *lab) waitReady(t testing.TB, a *agent, withBFD bool) {
	t.Helper()
	l.waitReceived(t, "198.51.100.11", 1, 60*time.Second)
	if !withBFD {
		return
	}
	eventually(t, 30*time.Second, func() error {
		if st := a.mustCall(agentRequest{Op: "sessions"}).BFD["r"]; st != "Up" {
			return fmt.Errorf("our BFD session is %s", st)
		}
		var peers []struct {
			Peer   string `json:"peer"`
			Status string `json:"status"`
		}
		if err := l.vtyshJSON("show bfd peers json", &peers); err != nil {
			return err
		}
		for _, p := range peers {
			if p.Peer == "198.51.100.11" && p.Status == "up" {
				return nil
			}
		}
		return fmt.Errorf("FRR's BFD peers: %+v", peers)
	})
}

// cut drops every packet both ways on the node's link, without taking the
// link down: a router would react to its interface going down at once, with
// or without BFD, which is not the failure BFD is for (a switch or a far
// side failing while the link stays up).
func (l *lab) cut(on bool) {
	op := "-D"
	if on {
		op = "-I"
	}
	// Each side is cut in one iptables-restore, both directions at once,
	// the router first: cut rule by rule, a side could still send for a
	// moment after it stopped receiving, and under load that moment is
	// longer than BFD's detection time, so the speaker's own reset
	// (Cease/Administrative Reset) could reach FRR before FRR's BFD saw the
	// cut.
	rules := fmt.Sprintf("*filter\n%[1]s INPUT -i eth0 -j DROP\n%[1]s OUTPUT -o eth0 -j DROP\nCOMMIT\n", op)
	for _, ns := range []string{l.router, l.node} {
		cmd := exec.Command("ip", "netns", "exec", ns, "iptables-restore", "--noflush")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			l.t.Fatalf("cutting the link in %s: %v: %s", ns, err, out)
		}
	}
}

// cutUntilWithdrawn cuts the link and returns how long FRR kept the route.
func (l *lab) cutUntilWithdrawn(t testing.TB) time.Duration {
	t.Helper()
	l.cut(true)
	start := time.Now()
	l.waitReceived(t, "198.51.100.11", 0, 30*time.Second)
	return time.Since(start)
}

// TestBFDWithdrawsBeforeTheHoldTimer cuts the link with BFD running: FRR
// drops the session, and the route, because BFD went down, not because the
// hold timer expired; the speaker resets its side for the same reason.
func TestBFDWithdrawsBeforeTheHoldTimer(t *testing.T) {
	l, a := startBFDLab(t, true)
	took := l.cutUntilWithdrawn(t)
	n, err := l.neighbor("198.51.100.11")
	if err != nil {
		t.Fatal(err)
	}
	// The route must go long before the 9 s hold timer could expire, and
	// FRR must say why: its own BFD went down ("BFD down received"; once
	// sent, Cease subcode 10 "BFD Down") or, when the speaker's BFD saw the
	// cut first and its reset got through, the speaker's Cease. Never
	// "Hold Timer Expired".
	why := strings.ToLower(n.LastReset + " " + n.LastNotification)
	if !strings.Contains(why, "bfd down") && !strings.Contains(why, "administrative reset") {
		t.Errorf("FRR reset the session for %q (%q), want BFD Down (route withdrawn after %v)", n.LastReset, n.LastNotification, took)
	}
	if took > 3*time.Second {
		t.Errorf("route withdrawn %v after the cut: BFD should withdraw it long before the 9 s hold timer", took)
	}
	eventually(t, 5*time.Second, func() error {
		s := a.mustCall(agentRequest{Op: "sessions"}).Sessions["r"]
		if s.State == bgp.StateEstablished || !strings.Contains(s.Message, "BFD session to 198.51.100.1 went down") {
			return fmt.Errorf("speaker's session: %+v", s)
		}
		return nil
	})
	t.Logf("route withdrawn at FRR %v after the cut; FRR's reset reason: %s (%s)", took, n.LastReset, n.LastNotification)
}

// BenchmarkLinkCutToWithdrawal measures, at FRR, the time from cutting the
// node's link to the route being withdrawn: with BFD (300 ms × 3) and with
// the hold timer alone (9 s). Polling FRR adds up to a few tens of ms.
//
//	go test -tags lab -run '^$' -bench LinkCutToWithdrawal ./speaker/bgp/
func BenchmarkLinkCutToWithdrawal(b *testing.B) {
	for _, mode := range []struct {
		name    string
		withBFD bool
		trials  int
	}{{"bfd-300msx3", true, 5}, {"hold-9s", false, 3}} {
		b.Run(mode.name, func(b *testing.B) {
			l, a := startBFDLab(b, mode.withBFD)
			var took []time.Duration
			for range b.N {
				for range mode.trials {
					took = append(took, l.cutUntilWithdrawn(b))
					l.cut(false)
					l.waitReady(b, a, mode.withBFD)
				}
			}
			p50, p99 := percentile(took, 50), percentile(took, 99)
			b.ReportMetric(float64(p50)/1e6, "p50-ms")
			b.ReportMetric(float64(p99)/1e6, "p99-ms")
			fmt.Printf("link cut → route withdrawn at FRR, %s: p50 %.0f ms, p99 %.0f ms over %d trials\n",
				mode.name, float64(p50)/1e6, float64(p99)/1e6, len(took))
		})
	}
}

// percentile is the nearest-rank percentile p of d.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

// TestVRF dials a session inside a VRF: the node's link is enslaved to VRF
// "red", so the router is reachable from that VRF's table only, and only a
// socket bound to the VRF device reaches it.
func TestVRF(t *testing.T) {
	l := newLab(t, []string{"198.51.100.1/24"}, []string{"198.51.100.11/24"}, `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.11 timers 3 9
`)
	if out, err := exec.Command("ip", "-n", l.node, "link", "add", "red", "type", "vrf", "table", "10").CombinedOutput(); err != nil {
		t.Skipf("this kernel cannot create a VRF device (CONFIG_NET_VRF): %v: %s", err, out)
	}
	run(t, "ip", "-n", l.node, "link", "set", "red", "up")
	run(t, "ip", "-n", l.node, "link", "set", "eth0", "master", "red")
	// The main table has no route to the router any more.
	if out, err := exec.Command("ip", "-n", l.node, "route", "get", "198.51.100.1").CombinedOutput(); err == nil {
		t.Fatalf("the router is still reachable outside the VRF: %s", out)
	}
	a := startAgent(t, l, agentOptions{RouterID: labNodeV4, ListenPort: -1})
	a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{{Name: "vrf", MyASN: nodeASN, PeerASN: routerASN,
		Address: labRouterV4, SourceAddress: labNodeV4, VRF: "red", HoldTime: 9 * time.Second, ConnectTime: time.Second}}})
	a.mustCall(agentRequest{Op: "routes", Routes: []bgp.Route{{Prefix: labPrefix4}}})
	expectEstablished(t, l, a, map[string]string{"vrf": "198.51.100.11"})
	l.waitReceived(t, "198.51.100.11", 1, 15*time.Second)
}

// multiprotocol is what FRR says a neighbour's OPEN and its own negotiated,
// per family: "advertisedAndReceived", or only one side's.
func (l *lab) multiprotocol(addr string) (map[string]map[string]bool, error) {
	var n map[string]struct {
		Caps struct {
			MP map[string]map[string]bool `json:"multiprotocolExtensions"`
		} `json:"neighborCapabilities"`
	}
	if err := l.vtyshJSON("show bgp neighbors "+addr+" json", &n); err != nil {
		return nil, err
	}
	return n[addr].Caps.MP, nil
}

// TestDisableMP: with disableMP the session over IPv4 negotiates IPv4
// unicast alone, where the default negotiates IPv6 unicast as well.
func TestDisableMP(t *testing.T) {
	const conf = `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.12 remote-as 64513
 address-family ipv6 unicast
  neighbor 198.51.100.11 activate
  neighbor 198.51.100.12 activate
 exit-address-family
`
	l := newLab(t, []string{"198.51.100.1/24", "198.51.100.2/24"}, []string{"198.51.100.11/24", "198.51.100.12/24"}, conf)
	a := startAgent(t, l, agentOptions{RouterID: labNodeV4, ListenPort: -1})
	a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{
		{Name: "mp", MyASN: nodeASN, PeerASN: routerASN, Address: labRouterV4, SourceAddress: labNodeV4},
		{Name: "single", MyASN: nodeASN, PeerASN: routerASN, Address: netip.MustParseAddr("198.51.100.2"),
			SourceAddress: netip.MustParseAddr("198.51.100.12"), DisableMP: true},
	}})
	expectEstablished(t, l, a, map[string]string{"mp": "198.51.100.11", "single": "198.51.100.12"})
	for addr, wantV6 := range map[string]bool{"198.51.100.11": true, "198.51.100.12": false} {
		mp, err := l.multiprotocol(addr)
		if err != nil {
			t.Fatal(err)
		}
		if !mp["ipv4Unicast"]["advertisedAndReceived"] {
			t.Errorf("%s: IPv4 unicast not negotiated: %v", addr, mp)
		}
		if got := mp["ipv6Unicast"]["advertisedAndReceived"] || mp["ipv6Unicast"]["received"]; got != wantV6 {
			t.Errorf("%s: the speaker offered IPv6 unicast: %v, want %v (%v)", addr, got, wantV6, mp)
		}
	}
}

// TestDynamicASN: "external" takes the router's ASN from its OPEN when it
// differs from ours, and closes the session, saying why, when it is ours;
// "internal" peers only with our own ASN.
func TestDynamicASN(t *testing.T) {
	const conf = `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.12 remote-as 64512
 neighbor 198.51.100.13 remote-as 64512
`
	l := newLab(t, []string{"198.51.100.1/24", "198.51.100.2/24", "198.51.100.3/24"},
		[]string{"198.51.100.11/24", "198.51.100.12/24", "198.51.100.13/24"}, conf)
	a := startAgent(t, l, agentOptions{RouterID: labNodeV4, ListenPort: -1})
	a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{
		{Name: "external", MyASN: nodeASN, DynamicASN: bgp.DynamicExternal, Address: labRouterV4, SourceAddress: labNodeV4},
		{Name: "internal", MyASN: routerASN, DynamicASN: bgp.DynamicInternal, Address: netip.MustParseAddr("198.51.100.2"),
			SourceAddress: netip.MustParseAddr("198.51.100.12")},
		// The router is in our own AS: not the eBGP session asked for.
		{Name: "not-external", MyASN: routerASN, DynamicASN: bgp.DynamicExternal, Address: netip.MustParseAddr("198.51.100.3"),
			SourceAddress: netip.MustParseAddr("198.51.100.13")},
	}})
	expectEstablished(t, l, a, map[string]string{"external": "198.51.100.11", "internal": "198.51.100.12"})
	eventually(t, 30*time.Second, func() error {
		s := a.mustCall(agentRequest{Op: "sessions"}).Sessions["not-external"]
		if s.State == bgp.StateEstablished || !strings.Contains(s.Message, "dynamicASN is external") {
			return fmt.Errorf("session not-external: %+v", s)
		}
		return nil
	})
}

//go:build lab

package bgp_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/bgp"
)

// The router side of these tests is FRR 8.4 (Debian's frr): every check
// reads FRR's own view through vtysh's JSON output.

var (
	routerAddrs = []string{"198.51.100.1/24", "198.51.100.2/24", "198.51.100.3/24", "2001:db8:ffff::1/64"}
	nodeAddrs   = []string{"198.51.100.11/24", "198.51.100.12/24", "198.51.100.13/24", "2001:db8:ffff::11/64"}

	nodeV4 = netip.MustParseAddr("198.51.100.11")
	nodeV6 = netip.MustParseAddr("2001:db8:ffff::11")
)

// FRR names a neighbour by its address, which is the node's source address
// of each session.
const (
	frrEBGP     = "198.51.100.11"     // peer "ebgp"
	frrIBGP     = "2001:db8:ffff::11" // peer "ibgp", over IPv6
	frrMD5Wrong = "198.51.100.12"     // peer "md5-wrong"
	frrMD5Right = "198.51.100.13"     // peer "md5-right"
)

// testFRRConf peers the router (AS 64512) with four sessions of the node:
// eBGP from 198.51.100.11, iBGP over IPv6 from 2001:db8:ffff::11, and two
// TCP-MD5 sessions from 198.51.100.12 and .13 whose password the speaker
// gets wrong and right.
const testFRRConf = `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 198.51.100.11 remote-as 64513
 neighbor 2001:db8:ffff::11 remote-as 64512
 neighbor 198.51.100.12 remote-as 64513
 neighbor 198.51.100.12 password right-secret
 neighbor 198.51.100.13 remote-as 64513
 neighbor 198.51.100.13 password s3cret
 address-family ipv4 unicast
  neighbor 198.51.100.11 activate
  neighbor 2001:db8:ffff::11 activate
  neighbor 198.51.100.12 activate
  neighbor 198.51.100.13 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor 198.51.100.11 activate
  neighbor 2001:db8:ffff::11 activate
  neighbor 198.51.100.12 activate
  neighbor 198.51.100.13 activate
 exit-address-family
`

func testPeers() []bgp.Peer {
	return []bgp.Peer{
		{Name: "ebgp", MyASN: nodeASN, PeerASN: routerASN, Address: netip.MustParseAddr("198.51.100.1"), SourceAddress: nodeV4, HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second},
		{Name: "ibgp", MyASN: routerASN, PeerASN: routerASN, Address: netip.MustParseAddr("2001:db8:ffff::1"), HoldTime: 9 * time.Second},
		{Name: "md5-wrong", MyASN: nodeASN, PeerASN: routerASN, Address: netip.MustParseAddr("198.51.100.2"), SourceAddress: netip.MustParseAddr("198.51.100.12"), Password: "wrong-secret"},
		// Its own router ID puts it on a second GoBGP server.
		{Name: "md5-right", MyASN: nodeASN, PeerASN: routerASN, Address: netip.MustParseAddr("198.51.100.3"), SourceAddress: netip.MustParseAddr("198.51.100.13"), Password: "s3cret", RouterID: netip.MustParseAddr("192.0.2.13")},
	}
}

func testAgentOptions() agentOptions {
	return agentOptions{RouterID: nodeV4, NextHopV4: nodeV4, NextHopV6: nodeV6, ListenPort: -1}
}

// learnedPath is what the router holds for a prefix from one neighbour.
type learnedPath struct {
	NextHop          string
	ASPath           string
	LocalPref        uint32 // 0: no LOCAL_PREF
	Communities      string
	LargeCommunities string
	Stale            bool
}

// learned returns the paths the router holds for prefix, by neighbour.
func (l *lab) learned(prefix string) (map[string]learnedPath, error) {
	afi := "ipv4"
	if strings.Contains(prefix, ":") {
		afi = "ipv6"
	}
	var out struct {
		Paths []struct {
			ASPath         struct{ String string } `json:"aspath"`
			LocPrf         uint32                  `json:"locPrf"`
			Stale          bool                    `json:"stale"`
			Community      struct{ String string } `json:"community"`
			LargeCommunity struct{ String string } `json:"largeCommunity"`
			Nexthops       []struct{ IP string }   `json:"nexthops"`
			Peer           struct {
				PeerID string `json:"peerId"`
			} `json:"peer"`
		} `json:"paths"`
	}
	if err := l.vtyshJSON(fmt.Sprintf("show bgp %s unicast %s json", afi, prefix), &out); err != nil {
		return nil, err
	}
	paths := map[string]learnedPath{}
	for _, p := range out.Paths {
		lp := learnedPath{ASPath: p.ASPath.String, LocalPref: p.LocPrf, Communities: p.Community.String, LargeCommunities: p.LargeCommunity.String, Stale: p.Stale}
		if len(p.Nexthops) > 0 {
			lp.NextHop = p.Nexthops[0].IP
		}
		paths[p.Peer.PeerID] = lp
	}
	return paths, nil
}

// expectLearned waits until the router holds exactly want for prefix.
func (l *lab) expectLearned(t testing.TB, prefix string, want map[string]learnedPath) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		got, err := l.learned(prefix)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("router's paths for %s (-want +got):\n%s", prefix, diff)
		}
		return nil
	})
}

type neighbor struct {
	State       string `json:"bgpState"`
	RouterID    string `json:"remoteRouterId"`
	Established int    `json:"connectionsEstablished"`
	Dropped     int    `json:"connectionsDropped"`
}

func (l *lab) neighbors() (map[string]neighbor, error) {
	var n map[string]neighbor
	return n, l.vtyshJSON("show bgp neighbors json", &n)
}

// received returns how many prefixes of a family ("ipv4Unicast",
// "ipv6Unicast") the router accepted from each neighbour.
func (l *lab) received(family string) (map[string]int, error) {
	var summary map[string]struct {
		Peers map[string]struct {
			PfxRcd int `json:"pfxRcd"`
		} `json:"peers"`
	}
	if err := l.vtyshJSON("show bgp summary json", &summary); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for addr, p := range summary[family].Peers {
		counts[addr] = p.PfxRcd
	}
	return counts, nil
}

func expectEstablished(t testing.TB, l *lab, a *agent, frrAddrs map[string]string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		ns, err := l.neighbors()
		if err != nil {
			return err
		}
		sessions := a.mustCall(agentRequest{Op: "sessions"}).Sessions
		for name, addr := range frrAddrs {
			if ns[addr].State != "Established" {
				return fmt.Errorf("router: neighbour %s (%s) is %q", addr, name, ns[addr].State)
			}
			if sessions[name].State != bgp.StateEstablished {
				return fmt.Errorf("speaker: peer %s is %+v", name, sessions[name])
			}
		}
		return nil
	})
}

func uint32p(v uint32) *uint32 { return &v }

// baseRoutes are announced in most steps of TestSpeakerAgainstFRR.
func baseRoutes() []bgp.Route {
	return []bgp.Route{
		{Prefix: netip.MustParsePrefix("203.0.113.10/32"), Communities: []string{"64512:100", "no-export"}, LargeCommunities: []string{"64512:1:2"}, LocalPref: uint32p(200)},
		{Prefix: netip.MustParsePrefix("2001:db8:5::10/128"), Communities: []string{"64512:200"}},
		{Prefix: netip.MustParsePrefix("203.0.113.20/32"), Peers: []string{"ebgp"}},
	}
}

func TestSpeakerAgainstFRR(t *testing.T) {
	l := newLab(t, routerAddrs, nodeAddrs, testFRRConf)
	a := startAgent(t, l, testAgentOptions())
	a.mustCall(agentRequest{Op: "peers", Peers: testPeers()})
	up := map[string]string{"ebgp": frrEBGP, "ibgp": frrIBGP, "md5-right": frrMD5Right}

	steps := []struct {
		name string
		f    func(t *testing.T)
	}{
		{"eBGP, iBGP over IPv6 and TCP-MD5 sessions establish, with their router IDs", func(t *testing.T) {
			expectEstablished(t, l, a, up)
			ns, err := l.neighbors()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, addr := range up {
				got[addr] = ns[addr].RouterID
			}
			want := map[string]string{frrEBGP: "198.51.100.11", frrIBGP: "198.51.100.11", frrMD5Right: "192.0.2.13"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("router IDs the router sees (-want +got):\n%s", diff)
			}
		}},
		{"a wrong MD5 password never establishes and the session says why", func(t *testing.T) {
			eventually(t, 30*time.Second, func() error {
				s := a.mustCall(agentRequest{Op: "sessions"}).Sessions["md5-wrong"]
				if s.State == bgp.StateEstablished || !strings.Contains(s.Message, "MD5") {
					return fmt.Errorf("md5-wrong session is %+v, want not established with a message about the MD5 password", s)
				}
				return nil
			})
			ns, err := l.neighbors()
			if err != nil {
				t.Fatal(err)
			}
			if n := ns[frrMD5Wrong]; n.State == "Established" || n.Established != 0 {
				t.Fatalf("router's neighbour %s = %+v, want never established", frrMD5Wrong, n)
			}
		}},
		{"routes arrive with our next hop, communities, and local preference on iBGP only", func(t *testing.T) {
			a.mustCall(agentRequest{Op: "routes", Routes: baseRoutes()})
			ebgp := learnedPath{NextHop: "198.51.100.11", ASPath: "64513", Communities: "64512:100 no-export", LargeCommunities: "64512:1:2"}
			ibgp := learnedPath{NextHop: "198.51.100.11", ASPath: "Local", LocalPref: 200, Communities: "64512:100 no-export", LargeCommunities: "64512:1:2"}
			l.expectLearned(t, "203.0.113.10/32", map[string]learnedPath{frrEBGP: ebgp, frrIBGP: ibgp, frrMD5Right: ebgp})
		}},
		{"an IPv6 route arrives over MP-BGP on IPv4 and IPv6 sessions", func(t *testing.T) {
			ebgp := learnedPath{NextHop: "2001:db8:ffff::11", ASPath: "64513", Communities: "64512:200"}
			ibgp := learnedPath{NextHop: "2001:db8:ffff::11", ASPath: "Local", LocalPref: 100, Communities: "64512:200"}
			l.expectLearned(t, "2001:db8:5::10/128", map[string]learnedPath{frrEBGP: ebgp, frrIBGP: ibgp, frrMD5Right: ebgp})
		}},
		{"a route restricted to peers goes to those peers only, and moves with the list", func(t *testing.T) {
			l.expectLearned(t, "203.0.113.20/32", map[string]learnedPath{frrEBGP: {NextHop: "198.51.100.11", ASPath: "64513"}})
			routes := baseRoutes()
			routes[2].Peers = []string{"ibgp", "md5-right"}
			a.mustCall(agentRequest{Op: "routes", Routes: routes})
			l.expectLearned(t, "203.0.113.20/32", map[string]learnedPath{
				frrIBGP:     {NextHop: "198.51.100.11", ASPath: "Local", LocalPref: 100},
				frrMD5Right: {NextHop: "198.51.100.11", ASPath: "64513"},
			})
		}},
		{"a withdrawn route disappears", func(t *testing.T) {
			a.mustCall(agentRequest{Op: "routes", Routes: baseRoutes()[1:]})
			l.expectLearned(t, "203.0.113.10/32", map[string]learnedPath{})
			l.expectLearned(t, "203.0.113.20/32", map[string]learnedPath{frrEBGP: {NextHop: "198.51.100.11", ASPath: "64513"}})
		}},
		{"adding and removing 100 routes, and repeating SetPeers, resets no session", func(t *testing.T) {
			before, err := l.neighbors()
			if err != nil {
				t.Fatal(err)
			}
			routes := baseRoutes()
			for i := 100; i < 200; i++ {
				routes = append(routes, bgp.Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 32)})
			}
			a.mustCall(agentRequest{Op: "routes", Routes: routes})
			expectReceived(t, l, "ipv4Unicast", frrEBGP, 102)
			a.mustCall(agentRequest{Op: "peers", Peers: testPeers()})
			a.mustCall(agentRequest{Op: "routes", Routes: baseRoutes()})
			expectReceived(t, l, "ipv4Unicast", frrEBGP, 2)
			after, err := l.neighbors()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("router's neighbours changed (-before +after):\n%s", diff)
			}
		}},
		{"metrics count sessions, updates and announced prefixes", func(t *testing.T) {
			m := a.mustCall(agentRequest{Op: "metrics"}).Metrics
			want := map[string]float64{
				"ironlb_bgp_session_up/ebgp": 1, "ironlb_bgp_session_up/ibgp": 1, "ironlb_bgp_session_up/md5-right": 1, "ironlb_bgp_session_up/md5-wrong": 0,
				// ebgp: 203.0.113.10, .20 and 2001:db8:5::10; the others miss .20.
				"ironlb_bgp_announced_prefixes/ebgp": 3, "ironlb_bgp_announced_prefixes/ibgp": 2, "ironlb_bgp_announced_prefixes/md5-right": 2, "ironlb_bgp_announced_prefixes/md5-wrong": 0,
			}
			got := map[string]float64{}
			for k := range want {
				got[k] = m[k]
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			// 100 routes came and went: at least one UPDATE each way.
			if u := m["ironlb_bgp_updates_total/ebgp"]; u < 200 {
				t.Errorf("ironlb_bgp_updates_total{peer=ebgp} = %v, want at least 200", u)
			}
		}},
		{"a changed hold time resets only that peer", func(t *testing.T) {
			before, err := l.neighbors()
			if err != nil {
				t.Fatal(err)
			}
			peers := testPeers()
			peers[0].HoldTime = 15 * time.Second
			a.mustCall(agentRequest{Op: "peers", Peers: peers})
			eventually(t, 30*time.Second, func() error {
				ns, err := l.neighbors()
				if err != nil {
					return err
				}
				if n := ns[frrEBGP]; n.State != "Established" || n.Established != before[frrEBGP].Established+1 {
					return fmt.Errorf("router's neighbour %s = %+v, want established once more than %+v", frrEBGP, n, before[frrEBGP])
				}
				return nil
			})
			after, err := l.neighbors()
			if err != nil {
				t.Fatal(err)
			}
			for _, addr := range []string{frrIBGP, frrMD5Right} {
				if diff := cmp.Diff(before[addr], after[addr]); diff != "" {
					t.Errorf("router's neighbour %s changed (-before +after):\n%s", addr, diff)
				}
			}
			l.expectLearned(t, "203.0.113.20/32", map[string]learnedPath{frrEBGP: {NextHop: "198.51.100.11", ASPath: "64513"}})
		}},
		{"Stop withdraws every route", func(t *testing.T) {
			a.mustCall(agentRequest{Op: "stop"})
			eventually(t, 15*time.Second, func() error {
				for _, family := range []string{"ipv4Unicast", "ipv6Unicast"} {
					counts, err := l.received(family)
					if err != nil {
						return err
					}
					for addr, n := range counts {
						if n != 0 {
							return fmt.Errorf("router still holds %d %s prefixes from %s", n, family, addr)
						}
					}
				}
				return nil
			})
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.f) {
			t.FailNow()
		}
	}
}

// expectReceived waits until the router accepted n prefixes of family from
// the neighbour at addr.
func expectReceived(t testing.TB, l *lab, family, addr string, n int) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		counts, err := l.received(family)
		if err != nil {
			return err
		}
		if counts[addr] != n {
			return fmt.Errorf("router holds %d %s prefixes from %s, want %d", counts[addr], family, addr, n)
		}
		return nil
	})
}

// grFRRConf is one eBGP session with graceful restart on both sides.
const grFRRConf = `
router bgp 64512
 bgp router-id 198.51.100.1
 bgp graceful-restart
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 198.51.100.11 remote-as 64513
 address-family ipv4 unicast
  neighbor 198.51.100.11 activate
 exit-address-family
`

func TestGracefulRestartKeepsRoutesAtTheRouterAfterStop(t *testing.T) {
	l := newLab(t, routerAddrs[:1], nodeAddrs[:1], grFRRConf)
	a := startAgent(t, l, testAgentOptions())
	peer := testPeers()[0]
	peer.GracefulRestart = true
	a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{peer}})
	a.mustCall(agentRequest{Op: "routes", Routes: []bgp.Route{{Prefix: netip.MustParsePrefix("203.0.113.10/32")}}})
	expectEstablished(t, l, a, map[string]string{"ebgp": frrEBGP})
	l.expectLearned(t, "203.0.113.10/32", map[string]learnedPath{frrEBGP: {NextHop: "198.51.100.11", ASPath: "64513"}})

	a.mustCall(agentRequest{Op: "stop"})
	a.exit()
	eventually(t, 15*time.Second, func() error {
		ns, err := l.neighbors()
		if err != nil {
			return err
		}
		if ns[frrEBGP].State == "Established" {
			return fmt.Errorf("router's neighbour %s is still established", frrEBGP)
		}
		return nil
	})
	l.expectLearned(t, "203.0.113.10/32", map[string]learnedPath{frrEBGP: {NextHop: "198.51.100.11", ASPath: "64513", Stale: true}})
}

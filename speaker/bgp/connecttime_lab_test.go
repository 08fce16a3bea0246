//go:build lab

package bgp_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/speaker/bgp"
)

// connectTimeFRRConf peers FRR with two sessions of the node. FRR is
// passive towards both, as routers facing many speakers often are, so only
// the speaker's own dials can bring a session up: what the test times is
// the speaker's connect retry alone, not FRR's.
const connectTimeFRRConf = `
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.11 passive
 neighbor 198.51.100.12 remote-as 64513
 neighbor 198.51.100.12 passive
`

// TestConnectTimeAgainstFRR shows what spec.connectTime changes for a user:
// how soon a session comes up once a router that was down starts accepting.
// The speaker (which only dials out, as ironlb-speaker does by default)
// dials FRR before FRR runs, on two peers, one with connectTime 2s and one
// with 30s, and both dials are refused. Then FRR starts. GoBGP redials
// after connectTime plus up to as much again of jitter, so the 2s peer is up
// a few seconds later, long before the 30s peer could even have redialled;
// the 30s peer comes up only after its timer, and then does.
func TestConnectTimeAgainstFRR(t *testing.T) {
	const (
		short = 2 * time.Second
		long  = 30 * time.Second
		// slack covers the TCP and OPEN exchange, the agent's polling and
		// a busy machine.
		slack = 5 * time.Second
	)
	l := newNamespaces(t)
	l.link(l.router, "eth0", []string{"198.51.100.1/24", "198.51.100.2/24"}, l.node, "eth0", []string{"198.51.100.11/24", "198.51.100.12/24"})
	// The agent logs into FRR's state directory, which startFRR would
	// otherwise create.
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, l, agentOptions{RouterID: labNodeV4, ListenPort: -1})

	peersSet := time.Now()
	a.mustCall(agentRequest{Op: "peers", Peers: []bgp.Peer{
		{Name: "short", MyASN: nodeASN, PeerASN: routerASN, Address: labRouterV4, SourceAddress: labNodeV4, ConnectTime: short},
		{Name: "long", MyASN: nodeASN, PeerASN: routerASN, Address: netip.MustParseAddr("198.51.100.2"),
			SourceAddress: netip.MustParseAddr("198.51.100.12"), ConnectTime: long},
	}})
	// GoBGP's first dial comes 1-2 s after a peer is added, whatever the
	// connect time; the retries after it are what connectTime sets.
	waitRefused(t, a, "short", "long")

	l.startFRR(connectTimeFRRConf)
	reachable := time.Now()
	upAt := waitUp(t, a, peersSet.Add(2*time.Second+2*long+slack), "short", "long")
	expectEstablished(t, l, a, map[string]string{"short": "198.51.100.11", "long": "198.51.100.12"})

	shortUp, longUp := upAt["short"].Sub(reachable), upAt["long"].Sub(reachable)
	t.Logf("after FRR started accepting: connectTime %v peer established in %v, connectTime %v peer in %v (%v after it was added)",
		short, shortUp.Round(10*time.Millisecond), long, longUp.Round(10*time.Millisecond), upAt["long"].Sub(peersSet).Round(10*time.Millisecond))

	// At most one retry interval (connectTime plus its jitter) after FRR
	// accepts, the short peer dials again and gets in.
	if shortUp > 2*short+slack {
		t.Errorf("the %v peer took %v after FRR started accepting, want at most %v", short, shortUp, 2*short+slack)
	}
	if !upAt["short"].Before(upAt["long"]) {
		t.Errorf("the %v peer came up at %v, not before the %v peer (%v)", short, upAt["short"], long, upAt["long"])
	}
	// Its refused first dial came at least 1 s after the peer was added,
	// and the next waits at least connectTime: nothing can bring the long
	// peer up sooner, however early FRR accepts.
	if took := upAt["long"].Sub(peersSet); took < long {
		t.Errorf("the %v peer came up %v after it was added, before its first retry could happen", long, took)
	}
}

// waitRefused waits until each peer's session reports a refused dial: the
// speaker has dialled, and nothing listened.
func waitRefused(t *testing.T, a *agent, peers ...string) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		sessions := a.mustCall(agentRequest{Op: "sessions"}).Sessions
		for _, p := range peers {
			if s := sessions[p]; s.State == bgp.StateEstablished || !strings.Contains(s.Message, "connection refused") {
				return fmt.Errorf("peer %s: %+v, want a refused dial", p, s)
			}
		}
		return nil
	})
}

// waitUp polls the speaker's sessions until every peer is established, or
// fails the test at deadline, and returns when each was first seen
// established. Polling every 50 ms makes each time late by at most that.
func waitUp(t *testing.T, a *agent, deadline time.Time, peers ...string) map[string]time.Time {
	t.Helper()
	upAt := map[string]time.Time{}
	for len(upAt) < len(peers) {
		now := time.Now()
		if now.After(deadline) {
			t.Fatalf("by %v only %v were established: %+v", deadline.Format(time.TimeOnly), upAt, a.mustCall(agentRequest{Op: "sessions"}).Sessions)
		}
		sessions := a.mustCall(agentRequest{Op: "sessions"}).Sessions
		for _, p := range peers {
			if _, seen := upAt[p]; !seen && sessions[p].State == bgp.StateEstablished {
				upAt[p] = now
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return upAt
}

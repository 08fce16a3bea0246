//go:build lab

package lab_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/member"
	"github.com/ironlb/ironlb/test/lab"
)

// TestWinnerVersionRoll plays a rolling upgrade that brings a new layer-2
// election (docs/scale.md, "The election and its versions"): every speaker
// starts "old", knowing only version 1; node-a and node-b are restarted as
// new ones, and while node-c is live (still old) every speaker keeps
// version 1 and each address is answered by exactly the node version 1
// elects. Restarting node-c as new switches every speaker to version 2, at
// one instant they all planned, and each address is then answered by
// exactly the node version 2 elects.
//
// Each move of an address during the roll (a speaker handing off on
// SIGTERM, a restarted one taking its addresses back, the switch) happens
// at an instant announced ahead; the test checks that no node took an
// address over before its instant (checkRollInstants). How many moments a
// client finds an address unanswered or answered twice is measured by
// BenchmarkWinnerVersionRoll, not asserted here: it depends on timing.
func TestWinnerVersionRoll(t *testing.T) {
	l, ips := rollLab(t)
	w, err := l.WatchARP("eth0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	since := time.Now()
	rollSpeakers(t, l, ips)
	checkRollInstants(t, l, w, ips, since)
}

// BenchmarkWinnerVersionRoll runs the roll of TestWinnerVersionRoll twice,
// measuring what a client sees in two ways that must not run together
// (each would count the other's answers):
//
//   - arping: one arping loop per address checks its answerers (about two
//     checks a second per address) and prints how many checks found an
//     address answered by two nodes or by none;
//   - probe: every probePeriod the client asks for every address at once
//     and prints how long, in all, addresses went unanswered or answered
//     twice, at that resolution (ownershipProbe).
func BenchmarkWinnerVersionRoll(b *testing.B) {
	b.Run("arping", func(b *testing.B) {
		for range b.N {
			l, ips := rollLab(b)
			check := startOwnershipCheck(b, l, ips)
			start := time.Now()
			rollSpeakers(b, l, ips)
			time.Sleep(2 * time.Second) // and a while after the switch
			checks, none, two := check()
			b.ReportMetric(float64(checks), "checks")
			b.ReportMetric(float64(len(none)), "unanswered")
			b.ReportMetric(float64(len(two)), "answered-twice")
			b.Logf("roll of 3 speakers, %d addresses, %v: %d checks, %d found an address unanswered, %d answered by two nodes",
				len(ips), time.Since(start).Round(time.Millisecond), checks, len(none), len(two))
			for _, m := range append(none, two...) {
				b.Log(m)
			}
			l.Close()
		}
	})
	b.Run("probe", func(b *testing.B) {
		for range b.N {
			l, ips := rollLab(b)
			probe := startOwnershipProbe(b, l, ips, probePeriod)
			start := time.Now()
			rollSpeakers(b, l, ips)
			time.Sleep(2 * time.Second)
			rounds, none, two := probe.finish()
			b.ReportMetric(float64(rounds), "rounds")
			b.ReportMetric(probeMillis(none), "ms-unanswered")
			b.ReportMetric(probeMillis(two), "ms-answered-twice")
			b.Logf("roll of 3 speakers, %d addresses, %v, probed every %v (%d rounds): unanswered %d times (%.0f ms in all), answered twice %d times (%.0f ms)",
				len(ips), time.Since(start).Round(time.Millisecond), probePeriod, rounds, len(none), probeMillis(none), len(two), probeMillis(two))
			for _, e := range append(none, two...) {
				b.Log(e)
			}
			l.Close()
		}
	})
}

// probePeriod is how often the probe asks for every address: the
// resolution of its figures. 5 ms keeps the speakers' load from the
// requests (1,600 a second) well below what they answer in a burst.
const probePeriod = 5 * time.Millisecond

// probeMillis is how long the events lasted, summed over addresses, at the
// probe's resolution: a round without exactly one answer counts as a whole
// period, though the moment it caught may have been much shorter.
func probeMillis(events []probeEvent) float64 {
	n := 0
	for _, e := range events {
		n += e.rounds
	}
	return float64(n) * float64(probePeriod) / float64(time.Millisecond)
}

// rollLab starts the lab with every speaker old (the lab's processes
// inherit the environment) and eight addresses owned by version 1's
// winners.
func rollLab(tb testing.TB) (*lab.Lab, []netip.Addr) {
	tb.Setenv(member.WinnerVersionsEnv, "1")
	l := newLab(tb, lab.Options{})
	if err := l.Create(tb.Context(), l2Objects()...); err != nil {
		tb.Fatal(err)
	}
	var ips []netip.Addr
	for i := range 8 {
		ips = append(ips, createService(tb, l, lab.LoadBalancer(fmt.Sprintf("roll-%d", i), lab.FromPool("l2"))))
	}
	waitElection(tb, l, ips, announce.WinnerV1, rollNodes)
	if err := os.Unsetenv(member.WinnerVersionsEnv); err != nil {
		tb.Fatal(err)
	}
	return l, ips
}

var rollNodes = []string{"node-a", "node-b", "node-c"}

// rollSpeakers restarts node-a and node-b as new speakers (version 1 stays,
// since node-c is old), then node-c (version 2 from then on).
func rollSpeakers(tb testing.TB, l *lab.Lab, ips []netip.Addr) {
	for _, name := range []string{"node-a", "node-b"} {
		restartSpeaker(tb, l.Node(name))
		waitLiveMembers(tb, l, 3)
		waitElection(tb, l, ips, announce.WinnerV1, rollNodes)
	}
	restartSpeaker(tb, l.Node("node-c"))
	waitLiveMembers(tb, l, 3)
	waitElection(tb, l, ips, announce.WinnerV2, rollNodes)
}

// restartSpeaker stops n's speaker as a rolling update does (SIGTERM) and
// starts it again with the test's environment.
func restartSpeaker(t testing.TB, n *lab.Node) {
	t.Helper()
	t.Logf("%s: stopping %s's speaker", time.Now().Format("15:04:05.000"), n.Name)
	if err := n.KillSpeaker(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: starting %s's speaker", time.Now().Format("15:04:05.000"), n.Name)
	if err := n.StartSpeaker(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s's speaker is healthy", time.Now().Format("15:04:05.000"), n.Name)
}

// waitElection waits until every speaker reports version v in
// ironlb_speaker_winner_version and each address is answered by exactly the
// node v elects among nodes.
func waitElection(t testing.TB, l *lab.Lab, ips []netip.Addr, v announce.WinnerVersion, nodes []string) {
	t.Helper()
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		for _, n := range l.Nodes {
			samples, err := n.Metrics(ctx)
			if err != nil {
				return err
			}
			if got := lab.Sum(samples, "ironlb_speaker_winner_version", nil); got != float64(v) {
				return fmt.Errorf("%s uses election version %v, want %d", n.Name, got, v)
			}
		}
		for _, ip := range ips {
			want, _ := v.Winner(ip, nodes)
			got, err := answerers(ctx, l, ip)
			if err != nil {
				return err
			}
			if !slices.Equal(got, []string{want}) {
				return fmt.Errorf("%s answered by %v, want %s (election %v)", ip, got, want, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("every speaker on election %v; owners as it elects", v)
}

// arpingOne holds one lock per address: answerers runs one arping per
// address at a time. arping counts every ARP reply from the address that
// reaches the client while it waits, answers to other requests included, so
// two at once for the same address (the roll waiting for owners to settle,
// and the ownership check) would each count the other's answer: an
// address moving from one node to the other between the two requests would
// show as answered by both.
var arpingOne sync.Map // netip.Addr → *sync.Mutex

func answerers(ctx context.Context, l *lab.Lab, ip netip.Addr) ([]string, error) {
	mu, _ := arpingOne.LoadOrStore(ip, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	return l.Answerers(ctx, "eth0", ip)
}

// startOwnershipCheck asks for every address, each in its own loop, in the
// background until the returned function is called; that returns how many
// checks ran, and each check that found an address unanswered or answered
// by two nodes (an arping error counts as unanswered).
func startOwnershipCheck(tb testing.TB, l *lab.Lab, ips []netip.Addr) func() (checks int, none, two []string) {
	ctx, cancel := context.WithCancel(tb.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var n int
	var none, two []string
	for _, ip := range ips {
		wg.Go(func() {
			for {
				got, err := answerers(ctx, l, ip)
				if ctx.Err() != nil {
					return
				}
				at := time.Now().Format("15:04:05.000")
				mu.Lock()
				n++
				switch {
				case err != nil:
					none = append(none, fmt.Sprintf("%s at %s: arping: %v", ip, at, err))
				case len(got) == 0:
					none = append(none, fmt.Sprintf("%s at %s: answered by nobody", ip, at))
				case len(got) > 1:
					two = append(two, fmt.Sprintf("%s at %s: answered by %v", ip, at, got))
				}
				mu.Unlock()
			}
		})
	}
	return func() (int, []string, []string) {
		cancel()
		wg.Wait()
		return n, none, two
	}
}

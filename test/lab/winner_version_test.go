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
// election (docs/scale.md, "The election"): every speaker starts "old",
// knowing only version 1; node-a and node-b are restarted as new ones, and
// while node-c is live (still old) every speaker keeps version 1 and each
// address is answered by exactly the node version 1 elects. Restarting
// node-c as new switches every speaker to version 2 at once, and each
// address is then answered by exactly the node version 2 elects.
//
// What clients see during the roll (an address briefly unanswered or
// answered twice while views of the membership converge) is measured by
// BenchmarkWinnerVersionRoll, not asserted here.
func TestWinnerVersionRoll(t *testing.T) {
	l, ips := rollLab(t)
	rollSpeakers(t, l, ips)
}

// BenchmarkWinnerVersionRoll runs the roll of TestWinnerVersionRoll while
// one arping loop per address checks its answerers, and prints how many
// checks found an address answered by two nodes or by none.
func BenchmarkWinnerVersionRoll(b *testing.B) {
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
			got, err := l.Answerers(ctx, "eth0", ip)
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

// restartWindow names the node whose speaker is being restarted, if any.
type restartWindow struct {
	mu   sync.Mutex
	name string
}

func (w *restartWindow) set(name string) { w.mu.Lock(); w.name = name; w.mu.Unlock() }

func (w *restartWindow) node() string { w.mu.Lock(); defer w.mu.Unlock(); return w.name }

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
				got, err := l.Answerers(ctx, "eth0", ip)
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

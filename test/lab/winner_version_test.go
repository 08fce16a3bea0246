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
// election (docs/scale.md, "The election"): node-c runs an "old" speaker
// knowing only version 1, node-a and node-b new ones. While node-c is live
// every speaker keeps version 1; the roll restarts node-c as a new speaker,
// and from then on all use version 2. At every check during the roll each
// test address is answered by exactly one node, never by two or by none.
func TestWinnerVersionRoll(t *testing.T) {
	// Every speaker starts old (the lab's processes inherit the
	// environment); node-a and node-b are then restarted as new ones.
	t.Setenv(member.WinnerVersionsEnv, "1")
	l := newLab(t, lab.Options{})
	ctx := t.Context()
	if err := l.Create(ctx, l2Objects()...); err != nil {
		t.Fatal(err)
	}
	var ips []netip.Addr
	for i := range 8 {
		ips = append(ips, createService(t, l, lab.LoadBalancer(fmt.Sprintf("roll-%d", i), lab.FromPool("l2"))))
	}
	nodes := []string{"node-a", "node-b", "node-c"}
	waitElection(t, l, ips, announce.WinnerV1, nodes)

	if err := os.Unsetenv(member.WinnerVersionsEnv); err != nil {
		t.Fatal(err)
	}
	check := startOwnershipCheck(t, l, ips)
	start := time.Now()
	for _, name := range []string{"node-a", "node-b"} {
		restartSpeaker(t, l.Node(name))
		waitLiveMembers(t, l, 3)
		// node-c, still old, holds every speaker on version 1.
		waitElection(t, l, ips, announce.WinnerV1, nodes)
	}
	restartSpeaker(t, l.Node("node-c"))
	waitLiveMembers(t, l, 3)
	waitElection(t, l, ips, announce.WinnerV2, nodes)
	time.Sleep(2 * time.Second) // and a while after it
	checks, bad := check()
	t.Logf("%d ownership checks of %d addresses during the roll (%v)", checks, len(ips), time.Since(start).Round(time.Millisecond))
	for _, b := range bad {
		t.Error(b)
	}
}

// restartSpeaker stops n's speaker as a rolling update does (SIGTERM) and
// starts it again with the test's environment.
func restartSpeaker(t *testing.T, n *lab.Node) {
	t.Helper()
	if err := n.KillSpeaker(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := n.StartSpeaker(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// waitElection waits until every speaker reports version v in
// ironlb_speaker_winner_version and each address is answered by exactly the
// node v elects among nodes.
func waitElection(t *testing.T, l *lab.Lab, ips []netip.Addr, v announce.WinnerVersion, nodes []string) {
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

// startOwnershipCheck asks for every address, each in its own loop, in the
// background until the returned function is called; that returns how many
// checks ran and every answer that was not exactly one node.
func startOwnershipCheck(t *testing.T, l *lab.Lab, ips []netip.Addr) func() (int, []string) {
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var checks int
	var bad []string
	for _, ip := range ips {
		wg.Go(func() {
			for {
				got, err := l.Answerers(ctx, "eth0", ip)
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				checks++
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: arping: %v", ip, err))
				} else if len(got) != 1 {
					bad = append(bad, fmt.Sprintf("%s at %s: answered by %v, want exactly one node",
						ip, time.Now().Format("15:04:05.000"), got))
				}
				mu.Unlock()
			}
		})
	}
	return func() (int, []string) {
		cancel()
		wg.Wait()
		return checks, bad
	}
}

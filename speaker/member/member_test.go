package member_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/member"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// start runs a member on a free loopback port and stops it when the test ends.
func start(t testing.TB, name, key string) *member.List {
	t.Helper()
	return startOn(t, name, key, 0)
}

func startOn(t testing.TB, name, key string, port int, oldKeys ...string) *member.List {
	t.Helper()
	l, err := member.New(member.Options{Name: name, BindAddr: loopback, Port: port, Key: key, OldKeys: oldKeys,
		Insecure: key == "", Logger: logr.Discard()})
	if err != nil {
		t.Fatalf("start member %s: %v", name, err)
	}
	t.Cleanup(func() { _ = l.Shutdown() })
	return l
}

func addr(l *member.List) netip.AddrPort { return member.Addr(loopback, l.LocalPort()) }

func names(live map[string]bool) []string {
	out := make([]string, 0, len(live))
	for n := range live {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// waitFor polls until cond holds; the deadline only bounds a broken test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitLive(t testing.TB, l *member.List, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("live set %v", want), func() bool { return slices.Equal(names(l.Live()), want) })
}

func cluster(t testing.TB, key string, n ...string) []*member.List {
	t.Helper()
	var ls []*member.List
	for _, name := range n {
		ls = append(ls, start(t, name, key))
	}
	for _, l := range ls[1:] {
		if got := l.Join(context.Background(), []netip.AddrPort{addr(ls[0])}); got.Count(member.Joined) != 1 {
			t.Fatalf("join: %v, want one member joined", got)
		}
	}
	for _, l := range ls {
		waitLive(t, l, n...)
	}
	return ls
}

func TestJoinSeesEveryMember(t *testing.T) {
	ls := cluster(t, "s3cret", "node-a", "node-b", "node-c")
	select {
	case <-ls[0].Changes():
	default:
		t.Error("no change notification after members joined")
	}
}

func TestStoppedMemberIsDetected(t *testing.T) {
	ls := cluster(t, "s3cret", "node-a", "node-b", "node-c")
	drain(ls[0])
	if err := ls[2].Shutdown(); err != nil { // a crash: no goodbye
		t.Fatal(err)
	}
	waitLive(t, ls[0], "node-a", "node-b")
	waitLive(t, ls[1], "node-a", "node-b")
	select {
	case <-ls[0].Changes():
	default:
		t.Error("no change notification after a member died")
	}
}

func TestLeaveIsSeen(t *testing.T) {
	ls := cluster(t, "s3cret", "node-a", "node-b")
	if err := ls[1].Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitLive(t, ls[0], "node-a")
	if got := names(ls[1].Live()); slices.Contains(got, "node-b") {
		t.Errorf("a member that left still counts itself live: %v", got)
	}
	// Leave twice and after Shutdown is harmless.
	_ = ls[1].Shutdown()
	if err := ls[1].Leave(time.Second); err != nil {
		t.Errorf("Leave after Shutdown: %v", err)
	}
}

// A speaker restarted on its node (same address and port) after it was
// declared dead refutes the verdict and is live again.
func TestRejoinAfterRestart(t *testing.T) {
	ls := cluster(t, "s3cret", "node-a", "node-b")
	port := ls[1].LocalPort()
	_ = ls[1].Shutdown()
	waitLive(t, ls[0], "node-a")
	again := startOn(t, "node-b", "s3cret", port)
	if got := again.Join(context.Background(), []netip.AddrPort{addr(ls[0])}); got.Count(member.Joined) != 1 {
		t.Fatalf("rejoin: %v, want one member joined", got)
	}
	waitLive(t, ls[0], "node-a", "node-b")
	waitLive(t, again, "node-a", "node-b")
}

func TestKeyMismatchPreventsJoin(t *testing.T) {
	tests := []struct {
		name       string
		key1, key2 string
	}{
		{name: "different keys", key1: "one", key2: "two"},
		{name: "clear text to an encrypted member", key1: "one", key2: ""},
		{name: "encrypted to a clear-text member", key1: "", key2: "two"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := start(t, "node-a", tc.key1)
			b := start(t, "node-b", tc.key2)
			// The other speaker listens but does not share the key:
			// rejected, which the caller reports as a key problem.
			if got := b.Join(context.Background(), []netip.AddrPort{addr(a)}); got[addr(a)] != member.Rejected {
				t.Errorf("join with a mismatched key: %v, want %s rejected", got, addr(a))
			}
			// Give stray packets time to arrive; none may be accepted.
			time.Sleep(300 * time.Millisecond)
			if diff := cmp.Diff([]string{"node-a"}, names(a.Live())); diff != "" {
				t.Errorf("live set of node-a (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"node-b"}, names(b.Live())); diff != "" {
				t.Errorf("live set of node-b (-want +got):\n%s", diff)
			}
		})
	}
}

// Keys are rotated in three rolling restarts; at each step a speaker already
// restarted and one not yet restarted must keep gossiping both ways (each
// probes the other over UDP, so a one-way failure shows as a death within a
// few probe rounds).
func TestKeyRotation(t *testing.T) {
	type keys struct {
		key string
		old []string
	}
	var (
		before = keys{key: "old"}
		step1  = keys{key: "old", old: []string{"new"}} // the new key accepted first
		step2  = keys{key: "new", old: []string{"old"}} // then sent with
		after  = keys{key: "new"}                       // the old one dropped
	)
	tests := []struct {
		name             string
		restarted, older keys
		want             bool
	}{
		{name: "step 1: new key accepted, beside the old key only", restarted: step1, older: before, want: true},
		{name: "step 2: new key sent, old accepted, beside step 1", restarted: step2, older: step1, want: true},
		{name: "step 3: new key only, beside step 2", restarted: after, older: step2, want: true},
		// Skipping step 1 does not work: memberlist seals everything with
		// the primary key, which the older speaker cannot open.
		{name: "new key sent, old accepted, beside the old key only", restarted: step2, older: before, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			older := startOn(t, "node-a", tc.older.key, 0, tc.older.old...)
			restarted := startOn(t, "node-b", tc.restarted.key, 0, tc.restarted.old...)
			got := restarted.Join(context.Background(), []netip.AddrPort{addr(older)})
			if !tc.want {
				if got[addr(older)] != member.Rejected {
					t.Errorf("join: %v, want %s rejected", got, addr(older))
				}
				return
			}
			if got.Count(member.Joined) != 1 {
				t.Fatalf("join: %v, want one member joined", got)
			}
			waitLive(t, older, "node-a", "node-b")
			waitLive(t, restarted, "node-a", "node-b")
			time.Sleep(time.Second) // ten probe rounds each way
			for _, l := range []*member.List{older, restarted} {
				if diff := cmp.Diff([]string{"node-a", "node-b"}, names(l.Live())); diff != "" {
					t.Errorf("live set after a second (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestNewRefusesOldKeysWithoutKey(t *testing.T) {
	_, err := member.New(member.Options{Name: "node-a", BindAddr: loopback, Insecure: true, OldKeys: []string{"old"}, Logger: logr.Discard()})
	if err == nil || !strings.Contains(err.Error(), "OldKeys without Key") {
		t.Errorf("New with OldKeys and no Key: error %v", err)
	}
}

func TestNewRefusesWithoutKey(t *testing.T) {
	_, err := member.New(member.Options{Name: "node-a", BindAddr: loopback, Logger: logr.Discard()})
	if !errors.Is(err, member.ErrNoKey) {
		t.Errorf("New without key or Insecure: error %v, want ErrNoKey", err)
	}
}

func TestJoinUnreachableAddress(t *testing.T) {
	a := start(t, "node-a", "k")
	b := start(t, "node-b", "k")
	port := b.LocalPort()
	_ = b.Shutdown() // nothing listens there any more
	// Nothing listens there: refused, which tells "no speaker on that
	// node" from "a speaker we cannot talk to".
	closed := member.Addr(loopback, port)
	if got := a.Join(context.Background(), []netip.AddrPort{closed}); got[closed] != member.Refused {
		t.Errorf("join of a closed port: %v, want %s refused", got, closed)
	}
	if diff := cmp.Diff([]string{"node-a"}, names(a.Live())); diff != "" {
		t.Errorf("live set (-want +got):\n%s", diff)
	}
}

func drain(l *member.List) {
	for {
		select {
		case <-l.Changes():
		default:
			return
		}
	}
}

// BenchmarkDetectDeadMember prints how long the survivors of a three-member
// cluster take to drop a member that stopped without leaving (p50 and p99 of
// the slower survivor), and how long a graceful leave takes to be seen.
func BenchmarkDetectDeadMember(b *testing.B) {
	const trials = 20
	measure := func(b *testing.B, graceful bool) []time.Duration {
		var out []time.Duration
		for i := range trials {
			ls := cluster(b, "bench", fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i), fmt.Sprintf("c%d", i))
			// Let a few probe rounds pass so the victim is an established member.
			time.Sleep(300 * time.Millisecond)
			start := time.Now()
			if graceful {
				_ = ls[2].Leave(time.Second)
			}
			_ = ls[2].Shutdown()
			want := []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)}
			waitLive(b, ls[0], want...)
			waitLive(b, ls[1], want...)
			out = append(out, time.Since(start))
			_ = ls[0].Shutdown()
			_ = ls[1].Shutdown()
		}
		slices.Sort(out)
		return out
	}
	for _, mode := range []struct {
		name     string
		graceful bool
	}{{"crash", false}, {"leave", true}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				d := measure(b, mode.graceful)
				p50, p99 := d[len(d)/2], d[len(d)-1]
				b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
				b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
				b.Logf("%s: %d trials, p50 %v, p99 %v", mode.name, trials, p50, p99)
			}
		})
	}
}

// Each member sees the election versions every other advertises: the input
// of announce.AgreedWinner. One playing an older build (only version 1)
// holds the cluster on version 1; once it is gone, version 2 is agreed.
func TestWinnerVersionsExchanged(t *testing.T) {
	v1, v2 := announce.WinnerV1, announce.WinnerV2
	a := start(t, "node-a", "k")
	old, err := member.New(member.Options{Name: "node-b", BindAddr: loopback, Key: "k", Logger: logr.Discard(),
		WinnerVersions: []announce.WinnerVersion{v1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.Shutdown() })
	if res := a.Join(t.Context(), []netip.AddrPort{addr(old)}); res.Count(member.Joined) != 1 {
		t.Fatalf("join: %v", res)
	}
	want := map[string][]announce.WinnerVersion{"node-a": {v1, v2}, "node-b": {v1}}
	for _, l := range []*member.List{a, old} {
		waitFor(t, "versions of both", func() bool { return len(l.WinnerVersions()) == 2 })
		if diff := cmp.Diff(want, l.WinnerVersions()); diff != "" {
			t.Errorf("versions seen (-want +got):\n%s", diff)
		}
	}
	agreed := func(l *member.List) announce.WinnerVersion {
		return announce.AgreedWinner(slices.Collect(maps.Values(l.WinnerVersions())))
	}
	if got := agreed(a); got != v1 {
		t.Errorf("agreed with an old speaker live: %v, want v1", got)
	}
	if err := old.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitLive(t, a, "node-a")
	if got := agreed(a); got != v2 {
		t.Errorf("agreed once the old speaker left: %v, want v2", got)
	}
}

func TestWinnerVersionsFromEnvironment(t *testing.T) {
	t.Setenv(member.WinnerVersionsEnv, "1")
	l := start(t, "node-a", "k")
	if diff := cmp.Diff(map[string][]announce.WinnerVersion{"node-a": {announce.WinnerV1}}, l.WinnerVersions()); diff != "" {
		t.Errorf("advertised (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"x", "3", "0"} {
		t.Setenv(member.WinnerVersionsEnv, bad)
		if _, err := member.New(member.Options{Name: "node-b", BindAddr: loopback, Insecure: true, Logger: logr.Discard()}); err == nil {
			t.Errorf("%s=%q accepted", member.WinnerVersionsEnv, bad)
		}
	}
}

// A speaker started as a standby is alive to the others but no candidate
// for addresses until it activates; from the instant it names on, every
// member counts it.
func TestStandbyBecomesCandidateAtItsInstant(t *testing.T) {
	a := start(t, "node-a", "k")
	b, err := member.New(member.Options{Name: "node-b", BindAddr: loopback, Key: "k", Logger: logr.Discard(), Standby: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown() })
	if res := b.Join(t.Context(), []netip.AddrPort{addr(a)}); res.Count(member.Joined) != 1 {
		t.Fatalf("join: %v", res)
	}
	for _, l := range []*member.List{a, b} {
		waitFor(t, "both alive", func() bool { return len(l.Alive()) == 2 })
		if got := names(l.Live()); !slices.Equal(got, []string{"node-a"}) {
			t.Errorf("candidates with node-b a standby: %v, want node-a only", got)
		}
	}
	at := b.Activate()
	if again := b.Activate(); !again.Equal(at) {
		t.Errorf("a second Activate moved the instant from %v to %v", at, again)
	}
	drain(a)
	waitFor(t, "node-b a candidate at node-a", func() bool {
		live := a.Live()
		if live["node-b"] && time.Now().Before(at) {
			t.Fatalf("node-a counts node-b a candidate before the instant it named (%v)", at)
		}
		return live["node-b"]
	})
	select {
	case <-a.Changes():
	default:
		t.Error("no change notification at node-a for the new candidate")
	}
	waitLive(t, b, "node-a", "node-b")
}

// A speaker handing off stays a candidate until the instant it names, at
// every member, and none at all from then on, though it is still alive.
func TestHandoffAtItsInstant(t *testing.T) {
	ls := cluster(t, "k", "node-a", "node-b", "node-c")
	at := ls[2].Handoff()
	if !at.After(time.Now()) {
		t.Fatalf("hand-off instant %v is not ahead", at)
	}
	for _, l := range ls {
		drain(l)
	}
	for _, l := range ls {
		waitFor(t, "node-c handed off", func() bool {
			live := l.Live()
			if !live["node-c"] && time.Now().Before(at) {
				t.Fatalf("node-c is no candidate before the instant it named (%v)", at)
			}
			return !live["node-c"]
		})
		if !l.Alive()["node-c"] {
			t.Error("node-c no longer alive before it left")
		}
		select {
		case <-l.Changes():
		default:
			t.Error("no change notification at the hand-off instant")
		}
	}
	if err := ls[2].Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node-c gone", func() bool { return !ls[0].Alive()["node-c"] })
}

// A member that is alone has nobody to hand over to or from: it acts at
// once.
func TestAloneActsAtOnce(t *testing.T) {
	l, err := member.New(member.Options{Name: "node-a", BindAddr: loopback, Insecure: true, Logger: logr.Discard(), Standby: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Shutdown() })
	if got := l.Live(); len(got) != 0 {
		t.Errorf("a standby counts as a candidate: %v", got)
	}
	if at := l.Activate(); at.After(time.Now()) {
		t.Errorf("activating alone waits until %v", at)
	}
	waitLive(t, l, "node-a")
	if at := l.Handoff(); at.After(time.Now()) {
		t.Errorf("handing off alone waits until %v", at)
	}
	if got := l.Live(); len(got) != 0 {
		t.Errorf("candidates after handing off alone: %v", got)
	}
}

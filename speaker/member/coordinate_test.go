package member

import (
	"net/netip"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/ironlb/ironlb/speaker/announce"
)

// Three members, one of an older build knowing only version 1: all elect
// with v1. Once it has left, the lowest-named member left plans the switch
// to v2 and the other copies the plan: both hold v1 until the planned
// instant and v2 from then on, the same instant at both.
func TestCoordinatedSwitch(t *testing.T) {
	newList := func(name string, versions ...announce.WinnerVersion) *List {
		l, err := New(Options{Name: name, BindAddr: netip.MustParseAddr("127.0.0.1"), Key: "k",
			Logger: logr.Discard(), WinnerVersions: versions})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Shutdown() })
		return l
	}
	old := newList("node-a", announce.WinnerV1)
	b, c := newList("node-b"), newList("node-c")
	for _, l := range []*List{b, c} {
		if res := l.Join(t.Context(), []netip.AddrPort{Addr(netip.MustParseAddr("127.0.0.1"), old.LocalPort())}); res.Count(Joined) != 1 {
			t.Fatalf("join: %v", res)
		}
	}
	both := []*List{b, c}
	for _, l := range append(both, old) {
		waitUntil(t, "three members on v1", func() bool { return len(l.Live()) == 3 && l.Election() == announce.WinnerV1 })
	}
	if err := old.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	var at instant
	for _, l := range both {
		waitUntil(t, "the switch planned", func() bool { return l.ownPlan().at != 0 })
		p := l.ownPlan()
		if p.from != announce.WinnerV1 || p.to != announce.WinnerV2 {
			t.Fatalf("%s plans %+v, want v1 to v2", l.name, p)
		}
		if at != 0 && p.at != at {
			t.Errorf("%s switches at %d, the other at %d", l.name, p.at, at)
		}
		at = p.at
	}
	for instantOf(time.Now()) < at-1 {
		for _, l := range both {
			if v := l.Election(); v != announce.WinnerV1 && instantOf(time.Now()) < at {
				t.Fatalf("%s elects with %v before the planned instant", l.name, v)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, l := range both {
		waitUntil(t, "v2 after the instant", func() bool { return l.Election() == announce.WinnerV2 })
	}
}

func (l *List) ownPlan() plan {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	return l.own.plan
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

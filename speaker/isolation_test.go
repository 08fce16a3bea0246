//go:build envtest

package speaker_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"

	"github.com/ironlb/ironlb/speaker"
	"github.com/ironlb/ironlb/speaker/member"
)

// neverOwns fails as soon as the speaker is told to own an address, and
// passes if it owned none for the whole of d.
func neverOwns(t *testing.T, sp *testSpeaker, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if got := sp.l2.owned(); len(got) > 0 {
			t.Fatalf("a speaker that reaches no other speaker claims %v beside the real owner", got)
		}
	}
}

// A speaker whose key differs from the other speakers' (wrong or rotated key,
// a regenerated Secret) reaches none of them while their Nodes are eligible.
// It must not believe it is alone and answer ARP beside the real owner: it
// claims nothing until it meets another speaker, and then only its share.
func TestIsolatedSpeakerClaimsNothing(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1", "127.0.0.2")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-b", "127.0.0.2", nil)
	create(t, c, pool("lan", "192.0.2.0/24"), l2adv("all"))
	lbService(t, c, "web", nil, false, "192.0.2.10")

	// node-b's speaker runs, with the cluster's key.
	b, err := member.New(member.Options{Name: "node-b", BindAddr: netip.MustParseAddr("127.0.0.2"), Port: port,
		Key: "the-cluster-key", Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown() })

	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port, key: "a-regenerated-key"})
	neverOwns(t, sp, 3*time.Second)
}

// The isolated speaker says so: /readyz fails naming the cause, the
// ironlb_speaker_isolated gauge is 1, a Warning Event on its Node says what
// to check; once it meets a speaker with its own key it takes its share, and
// only that.
func TestIsolatedSpeakerReportsAndRecovers(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1", "127.0.0.2")
	nodeA := readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-b", "127.0.0.2", nil)
	create(t, c, pool("lan", "192.0.2.0/24"), l2adv("all"))
	// Two addresses, one each node wins once they see each other.
	var mine, theirs string
	for i := 10; i < 80 && (mine == "" || theirs == ""); i++ {
		ip := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i))
		if w, _ := newestWinner(ip, []string{"node-a", "node-b"}); w == "node-a" && mine == "" {
			mine = ip.String()
		} else if w == "node-b" && theirs == "" {
			theirs = ip.String()
		}
	}
	lbService(t, c, "mine", nil, false, mine)
	lbService(t, c, "theirs", nil, false, theirs)
	startB := func(key string) *member.List {
		m, err := member.New(member.Options{Name: "node-b", BindAddr: netip.MustParseAddr("127.0.0.2"), Port: port,
			Key: key, Logger: logr.Discard()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Shutdown() })
		return m
	}
	b := startB("the-cluster-key")

	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port, key: "a-regenerated-key"})
	eventually(t, "isolation reported", func() error {
		if v, ok := gaugeValue(sp.registry, "ironlb_speaker_isolated", nil); !ok || v != 1 {
			return fmt.Errorf("ironlb_speaker_isolated = %v (present %v), want 1", v, ok)
		}
		if v, _ := gaugeValue(sp.registry, "ironlb_speaker_expected_members", nil); v != 2 {
			return fmt.Errorf("ironlb_speaker_expected_members = %v, want 2", v)
		}
		return nil
	})
	err := sp.speaker.Ready(nil)
	if err == nil {
		t.Fatal("an isolated speaker reports Ready")
	}
	for _, want := range []string{"node-b", "IRONLB_MEMBERLIST_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("readiness error %q does not name %q", err, want)
		}
	}
	if got := sp.l2.owned(); len(got) > 0 {
		t.Errorf("isolated speaker owns %v", got)
	}
	eventually(t, "SpeakerIsolated event on the Node", func() error {
		var list eventsv1.EventList
		if err := c.List(context.Background(), &list); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.UID == nodeA.UID && e.Reason == speaker.EventSpeakerIsolated && e.Type == corev1.EventTypeWarning &&
				strings.Contains(e.Note, "node-b answers on port") && strings.Contains(e.Note, "IRONLB_MEMBERLIST_KEY") {
				return nil
			}
		}
		return fmt.Errorf("none among %d events", len(list.Items))
	})

	// node-b's speaker restarts with node-a's key: they meet, node-a is no
	// longer isolated and answers for what it wins.
	_ = b.Shutdown()
	startB("a-regenerated-key")
	eventually(t, "isolation over", func() error {
		if v, _ := gaugeValue(sp.registry, "ironlb_speaker_isolated", nil); v != 0 {
			return errors.New("still isolated")
		}
		return sp.speaker.Ready(nil)
	})
	waitOwned(t, sp.l2, addrs(mine))
}

// A Node whose memberlist port refuses connections runs no speaker (the
// DaemonSet does not cover it, or its speaker is not up yet): a speaker that
// starts beside it is truly alone and announces as usual.
func TestSpeakerAloneBesideNodeWithoutSpeakerAnnounces(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1", "127.0.0.2")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-b", "127.0.0.2", nil) // nothing listens on 127.0.0.2
	create(t, c, pool("lan", "192.0.2.0/24"), l2adv("all"))
	lbService(t, c, "web", nil, false, "192.0.2.10")

	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port, key: "k"})
	waitOwned(t, sp.l2, addrs("192.0.2.10"))
	eventually(t, "speaker alone Ready", func() error { return sp.speaker.Ready(nil) })

	// Once it has announced, it keeps to the partition rule: a speaker that
	// later appears on node-b with another key does not silence it.
	b, err := member.New(member.Options{Name: "node-b", BindAddr: netip.MustParseAddr("127.0.0.2"), Port: port,
		Key: "another-key", Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown() })
	time.Sleep(2 * time.Second)
	waitOwned(t, sp.l2, addrs("192.0.2.10"))
}

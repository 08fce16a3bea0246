//go:build envtest

package speaker_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/member"
)

// nodeEntries reads an L2Advertisement's status.nodes as `kubectl get -o
// yaml` shows it, by node, with the object's resourceVersion.
func nodeEntries(c client.Client, name string) (map[string]map[string]any, string, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("L2Advertisement"))
	if err := c.Get(context.Background(), types.NamespacedName{Name: name}, u); err != nil {
		return nil, "", err
	}
	list, _, err := unstructured.NestedSlice(u.Object, "status", "nodes")
	if err != nil {
		return nil, "", err
	}
	out := map[string]map[string]any{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		node, _ := m["node"].(string)
		out[node] = m
	}
	return out, u.GetResourceVersion(), nil
}

// unannouncedOf lists an entry's unannounced addresses as "ip: reason".
func unannouncedOf(entry map[string]any) []string {
	var out []string
	items, _ := entry["unannounced"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, fmt.Sprintf("%v: %v", m["ip"], m["reason"]))
	}
	return out
}

// announcedCondition reads the Announced condition and the generation.
func announcedCondition(c client.Client, name string) (*metav1.Condition, int64, error) {
	var adv v1beta1.L2Advertisement
	if err := c.Get(context.Background(), types.NamespacedName{Name: name}, &adv); err != nil {
		return nil, 0, err
	}
	return metaCondition(adv.Status.Conditions, "Announced"), adv.Generation, nil
}

// applyEntry writes node's status.nodes entry as that node's speaker would.
func applyEntry(t *testing.T, c client.Client, adv, node, ip, reason string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"nodes": []any{
		map[string]any{"node": node, "lastTransitionTime": "2026-01-01T00:00:00Z", "unannounced": []any{
			map[string]any{"ip": ip, "reason": reason},
		}},
	}}}}
	u.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("L2Advertisement"))
	u.SetName(adv)
	if err := c.Status().Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("ironlb-speaker-"+node)); err != nil {
		t.Fatal(err)
	}
}

// An address this node owns at layer 2 but cannot announce on any interface
// (the L2Advertisement names one the node does not have) shows in the
// advertisement's status: this node's entry lists it with the reason, and
// the Announced condition is False naming the address, the node and
// spec.interfaces. A live node's entry is left alone and counted; a gone
// one's is removed. Naming an interface the node has clears this node's
// entry; once the other node is gone too, the condition turns True. Nothing
// is rewritten while nothing changes.
func TestUnannouncedAddressShowsInStatus(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1", "127.0.0.3")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-c", "127.0.0.3", nil)
	adv := l2adv("named")
	adv.Spec.Interfaces = []string{"nosuch0"}
	create(t, c, pool("lan", "192.0.2.0/24"), adv)
	// node-c is live (its memberlist answers; its speaker's status work is
	// played by the test). The address is one node-a wins.
	nodeC, err := member.New(member.Options{Name: "node-c", BindAddr: netip.MustParseAddr("127.0.0.3"), Port: port, Insecure: true, Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nodeC.Shutdown() })
	var mine string
	for i := 10; mine == ""; i++ {
		ip := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i))
		if w, _ := newestWinner(ip, []string{"node-a", "node-c"}); w == "node-a" {
			mine = ip.String()
		}
	}
	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	lbService(t, c, "web", nil, false, mine)
	waitOwned(t, sp.l2, map[netip.Addr][]string{netip.MustParseAddr(mine): {"nosuch0"}})

	eventually(t, "node-a's entry lists its address with the reason", func() error {
		entries, _, err := nodeEntries(c, "named")
		if err != nil {
			return err
		}
		got := unannouncedOf(entries["node-a"])
		want := mine + ": none of the interfaces named in the L2Advertisement (nosuch0) exists, is up and answers ARP/NDP"
		if len(got) != 1 || got[0] != want {
			return fmt.Errorf("status.nodes = %v, want node-a: [%s]", entries, want)
		}
		return nil
	})
	applyEntry(t, c, "named", "node-c", "192.0.2.99", "the interfaces on its subnet (eth1) are down or cannot answer for IPv4 addresses yet")
	applyEntry(t, c, "named", "node-z", "192.0.2.98", "left by a speaker that is gone")
	eventually(t, "Announced=False names the live nodes' addresses and spec.interfaces; the gone node's entry removed", func() error {
		entries, _, err := nodeEntries(c, "named")
		if err != nil {
			return err
		}
		if _, ok := entries["node-z"]; ok {
			return fmt.Errorf("status.nodes = %v, want node-z's entry removed", entries)
		}
		if got := unannouncedOf(entries["node-c"]); len(got) != 1 || !strings.HasPrefix(got[0], "192.0.2.99: ") {
			return fmt.Errorf("node-c's entry was touched: %v", entries["node-c"])
		}
		cond, gen, err := announcedCondition(c, "named")
		if err != nil {
			return err
		}
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "NoInterface" || cond.ObservedGeneration != gen ||
			!strings.Contains(cond.Message, mine+" on node-a: none of the interfaces named in the L2Advertisement (nosuch0)") ||
			!strings.Contains(cond.Message, "192.0.2.99 on node-c") || strings.Contains(cond.Message, "node-z") ||
			!strings.Contains(cond.Message, "spec.interfaces") {
			return fmt.Errorf("Announced condition %+v (generation %d)", cond, gen)
		}
		return nil
	})

	// The user names an interface the node has: node-a's entry goes.
	if err := c.Get(context.Background(), types.NamespacedName{Name: "named"}, adv); err != nil {
		t.Fatal(err)
	}
	adv.Spec.Interfaces = []string{"eth0"}
	if err := c.Update(context.Background(), adv); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node-a's entry cleared, node-c's kept", func() error {
		entries, _, err := nodeEntries(c, "named")
		if err != nil {
			return err
		}
		if _, ok := entries["node-a"]; ok || len(entries["node-c"]) == 0 {
			return fmt.Errorf("status.nodes = %v, want node-c's entry only", entries)
		}
		cond, gen, err := announcedCondition(c, "named")
		if err != nil {
			return err
		}
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.ObservedGeneration != gen || strings.Contains(cond.Message, mine) {
			return fmt.Errorf("Announced condition %+v (generation %d), want False for node-c's address only", cond, gen)
		}
		return nil
	})

	// node-c's speaker dies: its entry is stale and goes too.
	_ = nodeC.Shutdown()
	var settled string
	eventually(t, "node-c's entry removed, Announced=True", func() error {
		entries, rv, err := nodeEntries(c, "named")
		if err != nil {
			return err
		}
		if len(entries) != 0 {
			return fmt.Errorf("status.nodes = %v, want none", entries)
		}
		cond, gen, err := announcedCondition(c, "named")
		if err != nil {
			return err
		}
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != "AllAnnounced" || cond.ObservedGeneration != gen {
			return fmt.Errorf("Announced condition %+v (generation %d)", cond, gen)
		}
		settled = rv
		return nil
	})

	// Status is written on change only: once the writes this change caused
	// have landed (the Announced condition and the entries are applied
	// separately, by different speakers), several status rounds later the
	// object is the same.
	settled = quietResourceVersion(t, c, "named", 2*time.Second)
	time.Sleep(3 * time.Second)
	if _, rv, err := nodeEntries(c, "named"); err != nil || rv != settled {
		t.Errorf("L2Advertisement rewritten while nothing changed: resourceVersion %s, then %s (err %v)", settled, rv, err)
	}
}

// quietResourceVersion waits until the L2Advertisement's resourceVersion
// has not changed for quiet, and returns it.
func quietResourceVersion(t *testing.T, c client.Client, name string, quiet time.Duration) string {
	t.Helper()
	_, rv, err := nodeEntries(c, name)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, now, err := nodeEntries(c, name)
		if err != nil {
			t.Fatal(err)
		}
		if now != rv {
			rv, since = now, time.Now()
		}
		if time.Since(since) >= quiet {
			return rv
		}
	}
	t.Fatalf("L2Advertisement %s never stopped changing (last resourceVersion %s)", name, rv)
	return ""
}

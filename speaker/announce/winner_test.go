package announce_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/announce"
)

// TestWinnerVector pins the election: every speaker must elect the same
// owner, whatever its version, so these winners were computed once and must
// never change. A change here is a protocol change: during a rolling upgrade
// old and new speakers would both answer for some addresses.
func TestWinnerVector(t *testing.T) {
	tests := []struct {
		ip    string
		nodes []string
		want  string
	}{
		{"192.0.2.10", []string{"n1", "n2", "n3"}, "n1"},
		{"192.0.2.10", []string{"n3", "n1", "n2"}, "n1"}, // order does not matter
		{"192.0.2.10", []string{"n2", "n3"}, "n3"},
		{"192.0.2.11", []string{"n1", "n2", "n3"}, "n2"},
		{"192.0.2.11", []string{"n1", "n2"}, "n2"},
		{"2001:db8::10", []string{"n1", "n2", "n3"}, "n3"},
		{"192.0.2.10", []string{"node-a", "node-b", "node-c"}, "node-a"},
		{"198.51.100.7", []string{"node-a", "node-b", "node-c"}, "node-c"},
		{"203.0.113.200", []string{"node-a", "node-b", "node-c", "node-d"}, "node-d"},
		{"2001:db8:1::1", []string{"node-a", "node-b", "node-c"}, "node-c"},
		{"2001:db8:ffff::ffff", []string{"worker-1", "worker-2"}, "worker-1"},
		{"192.0.2.10", []string{"only"}, "only"},
		{"192.0.2.10", []string{"n1", "n1"}, "n1"}, // a name given twice ties with itself
	}
	for _, tc := range tests {
		got, ok := announce.Winner(netip.MustParseAddr(tc.ip), tc.nodes)
		if !ok || got != tc.want {
			t.Errorf("Winner(%s, %q) = %q, %v; want %q", tc.ip, tc.nodes, got, ok, tc.want)
		}
	}
}

func TestWinnerOfNoNodes(t *testing.T) {
	if w, ok := announce.Winner(v4a, nil); ok {
		t.Errorf("Winner over no nodes reported %q", w)
	}
}

// Adding a node moves only the addresses the new node wins; removing one moves
// only the addresses it held. Every speaker computes the same answer whatever
// order it lists objects in.
func TestRendezvousStability(t *testing.T) {
	ips := manyIPs(1000)
	before := owners(announce.Compute(allPoolsInput([]string{"n1", "n2", "n3"}, ips)))
	if len(before) != len(ips) {
		t.Fatalf("%d of %d addresses announced", len(before), len(ips))
	}

	t.Run("node added", func(t *testing.T) {
		after := owners(announce.Compute(allPoolsInput([]string{"n1", "n2", "n3", "n4"}, ips)))
		moved := 0
		for ip, o := range after {
			if o != before[ip] {
				moved++
				if o != "n4" {
					t.Errorf("%s moved from %s to %s, not to the new node", ip, before[ip], o)
				}
			}
		}
		// About a quarter should move; zero would mean the new node is ignored.
		if moved == 0 || moved == len(ips) {
			t.Errorf("%d of %d addresses moved to the new node", moved, len(ips))
		}
	})

	t.Run("node removed", func(t *testing.T) {
		after := owners(announce.Compute(allPoolsInput([]string{"n1", "n3"}, ips)))
		for ip, o := range after {
			if before[ip] != "n2" && o != before[ip] {
				t.Errorf("%s moved from %s to %s although its owner stayed", ip, before[ip], o)
			}
		}
	})

	t.Run("input order does not matter", func(t *testing.T) {
		in := allPoolsInput([]string{"n3", "n1", "n2"}, ips)
		r := rand.New(rand.NewPCG(1, 2))
		r.Shuffle(len(in.Services), func(i, j int) { in.Services[i], in.Services[j] = in.Services[j], in.Services[i] })
		if diff := cmp.Diff(before, owners(announce.Compute(in)), cmpAddrs); diff != "" {
			t.Errorf("owners differ with shuffled input (-want +got):\n%s", diff)
		}
	})

	t.Run("balance", func(t *testing.T) {
		count := map[string]int{}
		for _, o := range before {
			count[o]++
		}
		for _, n := range []string{"n1", "n2", "n3"} {
			// Expected 333 each; 250 is far outside chance for a uniform hash.
			if count[n] < 250 {
				t.Errorf("node %s owns %d of 1000 addresses: %v", n, count[n], count)
			}
		}
	})
}

package announce_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/announce"
)

// TestWinnerV2Vector pins version 2 of the election as TestWinnerVector pins
// version 1: speakers that agreed on version 2 must elect the same owner
// whatever their build, so these winners must never change.
func TestWinnerV2Vector(t *testing.T) {
	tests := []struct {
		ip    string
		nodes []string
		want  string
	}{
		{"192.0.2.10", []string{"n1", "n2", "n3"}, "n3"},
		{"192.0.2.10", []string{"n3", "n1", "n2"}, "n3"}, // order does not matter
		{"192.0.2.10", []string{"n2", "n3"}, "n3"},
		{"192.0.2.11", []string{"n1", "n2", "n3"}, "n1"},
		{"192.0.2.11", []string{"n1", "n2"}, "n1"},
		{"2001:db8::10", []string{"n1", "n2", "n3"}, "n3"},
		{"192.0.2.10", []string{"node-a", "node-b", "node-c"}, "node-c"},
		{"198.51.100.7", []string{"node-a", "node-b", "node-c"}, "node-c"},
		{"203.0.113.200", []string{"node-a", "node-b", "node-c", "node-d"}, "node-c"},
		{"2001:db8:1::1", []string{"node-a", "node-b", "node-c"}, "node-a"},
		{"2001:db8:ffff::ffff", []string{"worker-1", "worker-2"}, "worker-1"},
		{"198.51.100.1", []string{"worker-1", "worker-2", "worker-3"}, "worker-2"},
		{"198.51.100.2", []string{"worker-1", "worker-2", "worker-3"}, "worker-2"},
		{"198.51.100.3", []string{"worker-1", "worker-2", "worker-3"}, "worker-1"},
		{"192.0.2.10", []string{"only"}, "only"},
		{"192.0.2.10", []string{"n1", "n1"}, "n1"}, // a name given twice ties with itself
	}
	for _, tc := range tests {
		got, ok := announce.WinnerV2.Winner(netip.MustParseAddr(tc.ip), tc.nodes)
		if !ok || got != tc.want {
			t.Errorf("WinnerV2.Winner(%s, %q) = %q, %v; want %q", tc.ip, tc.nodes, got, ok, tc.want)
		}
	}
	if w, ok := announce.WinnerV2.Winner(v4a, nil); ok {
		t.Errorf("WinnerV2 over no nodes reported %q", w)
	}
}

// Version 1, the zero value and a version this build does not know all elect
// with Winner: a speaker never invents an election nobody else runs.
func TestWinnerVersionDefaultsToV1(t *testing.T) {
	nodes := []string{"node-a", "node-b", "node-c"}
	for _, ip := range manyIPs(50) {
		want, _ := announce.Winner(ip, nodes)
		for _, v := range []announce.WinnerVersion{0, announce.WinnerV1, 200} {
			if got, _ := v.Winner(ip, nodes); got != want {
				t.Errorf("version %d elects %s for %s, Winner %s", v, got, ip, want)
			}
		}
	}
}

// Compute elects with the version of its input, as WinnerVersion.Winner does.
func TestComputeUsesInputWinnerVersion(t *testing.T) {
	ips := manyIPs(200)
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	differ := 0
	for _, v := range []announce.WinnerVersion{0, announce.WinnerV1, announce.WinnerV2} {
		in := allPoolsInput(nodes, ips)
		in.WinnerVersion = v
		got := owners(announce.Compute(in))
		for _, ip := range ips {
			want, _ := v.Winner(ip, nodes)
			if got[ip] != want {
				t.Errorf("version %d: Compute elects %s for %s, WinnerVersion.Winner %s", v, got[ip], ip, want)
			}
			if v1, _ := announce.Winner(ip, nodes); v == announce.WinnerV2 && v1 != want {
				differ++
			}
		}
	}
	// The versions are different functions: most owners change between them.
	if differ < len(ips)/2 {
		t.Errorf("only %d of %d owners differ between v1 and v2", differ, len(ips))
	}
}

// Version 2 keeps the properties the speakers rely on (as
// TestRendezvousStability checks for version 1), with many nodes too.
func TestWinnerV2Stability(t *testing.T) {
	for _, size := range []int{3, 50} {
		t.Run(fmt.Sprintf("%d nodes", size), func(t *testing.T) {
			nodes := make([]string, size)
			for i := range nodes {
				nodes[i] = fmt.Sprintf("worker-%d", i+1)
			}
			ips := manyIPs(1000)
			compute := func(nodes []string) map[netip.Addr]string {
				in := allPoolsInput(nodes, ips)
				in.WinnerVersion = announce.WinnerV2
				return owners(announce.Compute(in))
			}
			before := compute(nodes)
			if len(before) != len(ips) {
				t.Fatalf("%d of %d addresses announced", len(before), len(ips))
			}
			added := compute(append(nodes[:len(nodes):len(nodes)], "worker-new"))
			moved := 0
			for ip, o := range added {
				if o != before[ip] {
					moved++
					if o != "worker-new" {
						t.Errorf("node added: %s moved from %s to %s, not to the new node", ip, before[ip], o)
					}
				}
			}
			if moved == 0 || moved == len(ips) {
				t.Errorf("%d of %d addresses moved to the new node", moved, len(ips))
			}
			gone := nodes[1]
			removed := compute(append(nodes[:1:1], nodes[2:]...))
			for ip, o := range removed {
				if before[ip] != gone && o != before[ip] {
					t.Errorf("node removed: %s moved from %s to %s although its owner stayed", ip, before[ip], o)
				}
			}
			count := map[string]int{}
			for _, o := range before {
				count[o]++
			}
			// Binomial(1000, 1/size): a node below half its share, or
			// above twice it, is far outside chance for a uniform hash.
			share := len(ips) / size
			for _, n := range nodes {
				if count[n] < share/2 || count[n] > 2*share+10 {
					t.Errorf("node %s owns %d of %d addresses (expected about %d)", n, count[n], len(ips), share)
				}
			}
		})
	}
}

func TestWinnerV2InputOrder(t *testing.T) {
	ips := manyIPs(500)
	in := allPoolsInput([]string{"n1", "n2", "n3"}, ips)
	in.WinnerVersion = announce.WinnerV2
	want := owners(announce.Compute(in))
	in = allPoolsInput([]string{"n3", "n1", "n2"}, ips)
	in.WinnerVersion = announce.WinnerV2
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(in.Services), func(i, j int) { in.Services[i], in.Services[j] = in.Services[j], in.Services[i] })
	if diff := cmp.Diff(want, owners(announce.Compute(in)), cmpAddrs); diff != "" {
		t.Errorf("owners differ with shuffled input (-want +got):\n%s", diff)
	}
}

// The Local policy elects among each address's endpoint nodes: a different
// candidate list per address, which must not reuse another list's keys.
func TestWinnerV2LocalCandidates(t *testing.T) {
	ips := manyIPs(300)
	nodes := []string{"n1", "n2", "n3", "n4"}
	in := allPoolsInput(nodes, ips)
	in.WinnerVersion = announce.WinnerV2
	eps := [][]string{{"n1", "n2"}, {"n3", "n4"}, {"n2", "n3", "n4"}}
	for i := range in.Services {
		in.Services[i] = local(in.Services[i], eps[i%len(eps)]...)
	}
	got := owners(announce.Compute(in))
	for i, ip := range ips {
		want, _ := announce.WinnerV2.Winner(ip, eps[i%len(eps)])
		if got[ip] != want {
			t.Errorf("%s (endpoints on %v): Compute elects %s, want %s", ip, eps[i%len(eps)], got[ip], want)
		}
	}
}

// The agreed version is the highest every live speaker supports; one that
// advertises nothing (a build older than versioning) supports only v1.
func TestAgreedWinner(t *testing.T) {
	v1, v2 := announce.WinnerV1, announce.WinnerV2
	tests := []struct {
		name      string
		supported [][]announce.WinnerVersion
		want      announce.WinnerVersion
	}{
		{"no speakers", nil, v1},
		{"alone, new", [][]announce.WinnerVersion{{v1, v2}}, v2},
		{"all new", [][]announce.WinnerVersion{{v1, v2}, {v1, v2}, {v2, v1}}, v2},
		{"one old speaker holds everyone on v1", [][]announce.WinnerVersion{{v1, v2}, {v1}, {v1, v2}}, v1},
		{"one speaker advertising nothing counts as v1", [][]announce.WinnerVersion{{v1, v2}, nil}, v1},
		{"only unknown versions in common", [][]announce.WinnerVersion{{v1, v2, 9}, {9}}, v1},
		{"v2 only on both", [][]announce.WinnerVersion{{v2}, {v2}}, v2},
	}
	for _, tc := range tests {
		if got := announce.AgreedWinner(tc.supported); got != tc.want {
			t.Errorf("%s: AgreedWinner(%v) = %v, want %v", tc.name, tc.supported, got, tc.want)
		}
	}
}

// A version is supported by all when every speaker advertises it; an empty
// list is a build older than versioning (v1 only), and a version this build
// does not implement can never be used.
func TestSupportedByAll(t *testing.T) {
	v1, v2 := announce.WinnerV1, announce.WinnerV2
	tests := []struct {
		name      string
		supported [][]announce.WinnerVersion
		v         announce.WinnerVersion
		want      bool
	}{
		{"no speakers", nil, v2, true},
		{"every speaker new", [][]announce.WinnerVersion{{v1, v2}, {v2}}, v2, true},
		{"one old speaker", [][]announce.WinnerVersion{{v1, v2}, {v1}}, v2, false},
		{"advertising nothing supports v1", [][]announce.WinnerVersion{{v1, v2}, nil}, v1, true},
		{"advertising nothing does not support v2", [][]announce.WinnerVersion{{v1, v2}, nil}, v2, false},
		{"v2 only does not support v1", [][]announce.WinnerVersion{{v2}, {v1, v2}}, v1, false},
		{"unknown version", [][]announce.WinnerVersion{{9}, {9}}, 9, false},
		{"the zero version", [][]announce.WinnerVersion{{v1}}, 0, false},
	}
	for _, tc := range tests {
		if got := announce.SupportedByAll(tc.supported, tc.v); got != tc.want {
			t.Errorf("%s: SupportedByAll(%v, %v) = %v, want %v", tc.name, tc.supported, tc.v, got, tc.want)
		}
	}
}

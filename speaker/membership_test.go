package speaker

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/member"
)

func gossipNode(name string, ready bool, labels map[string]string, ip string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

func liveSet(names ...string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// The isolation decision over Nodes, the live set, how the others answered
// their last join, and whether this speaker ever was connected.
func TestAssessGossip(t *testing.T) {
	a := gossipNode("node-a", true, nil, "192.0.2.1")
	b := gossipNode("node-b", true, nil, "192.0.2.2")
	c := gossipNode("node-c", true, nil, "192.0.2.3")
	tests := []struct {
		name         string
		nodes        []corev1.Node
		live         map[string]bool
		reach        map[string]member.Outcome
		settled      bool
		wantExpected []string
		wantMissing  []string
		wantIsolated bool
	}{
		{
			// The defect: wrong key, the others answer but reject it.
			name: "others eligible, none live, never met: isolated", nodes: []corev1.Node{a, b, c}, live: liveSet("node-a"),
			reach:        map[string]member.Outcome{"node-b": member.Rejected, "node-c": member.Rejected},
			wantExpected: []string{"node-b", "node-c"}, wantMissing: []string{"node-b", "node-c"}, wantIsolated: true,
		},
		{
			name: "blocked port: the others do not answer", nodes: []corev1.Node{a, b}, live: liveSet("node-a"),
			reach:        map[string]member.Outcome{"node-b": member.Unreachable},
			wantExpected: []string{"node-b"}, wantMissing: []string{"node-b"}, wantIsolated: true,
		},
		{
			name: "not tried yet counts as expected", nodes: []corev1.Node{a, b}, live: liveSet("node-a"),
			wantExpected: []string{"node-b"}, wantMissing: []string{"node-b"}, wantIsolated: true,
		},
		{name: "truly alone: the only Node", nodes: []corev1.Node{a}, live: liveSet("node-a")},
		{
			name: "alone among Nodes that are not eligible", live: liveSet("node-a"),
			nodes: []corev1.Node{a, gossipNode("node-b", false, nil, "192.0.2.2"),
				gossipNode("node-c", true, map[string]string{announce.ExcludeLabel: ""}, "192.0.2.3"),
				gossipNode("node-d", true, nil, "")},
		},
		{
			// Not covered by the DaemonSet, or its speaker not up yet.
			name: "a Node whose port refuses runs no speaker", nodes: []corev1.Node{a, b}, live: liveSet("node-a"),
			reach: map[string]member.Outcome{"node-b": member.Refused},
		},
		{
			name: "one other live: not isolated, the rest missing", nodes: []corev1.Node{a, b, c}, live: liveSet("node-a", "node-b"),
			reach:        map[string]member.Outcome{"node-b": member.Refused, "node-c": member.Unreachable},
			wantExpected: []string{"node-b", "node-c"}, wantMissing: []string{"node-c"},
		},
		{
			// Failover and partitions: a speaker that was connected keeps
			// announcing among its own live speakers.
			name: "lost every other speaker after meeting them: not isolated", nodes: []corev1.Node{a, b, c}, live: liveSet("node-a"),
			reach: map[string]member.Outcome{"node-b": member.Unreachable, "node-c": member.Unreachable}, settled: true,
			wantExpected: []string{"node-b", "node-c"}, wantMissing: []string{"node-b", "node-c"},
		},
		{
			name: "a live member that is not eligible still proves gossip works", live: liveSet("node-a", "node-x"),
			nodes: []corev1.Node{a, b, gossipNode("node-x", false, nil, "192.0.2.9")},
			reach: map[string]member.Outcome{"node-b": member.Rejected}, wantExpected: []string{"node-b"}, wantMissing: []string{"node-b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := assessGossip("node-a", announce.Eligibility{}, tt.nodes, tt.live, tt.reach, tt.settled)
			if diff := cmp.Diff(tt.wantExpected, v.Expected); diff != "" {
				t.Errorf("expected (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMissing, v.Missing); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
			if v.Isolated != tt.wantIsolated {
				t.Errorf("isolated = %v, want %v", v.Isolated, tt.wantIsolated)
			}
			// live < expected exactly when an expected speaker is missing.
			if got, want := v.members("node-a", tt.live) > len(tt.live), len(v.Missing) > 0; got != want {
				t.Errorf("expected members %d, live %d: missing speakers %v", v.members("node-a", tt.live), len(tt.live), v.Missing)
			}
		})
	}
}

// The message names the speakers and what to check, by how they answered.
func TestIsolationProblem(t *testing.T) {
	v := gossipView{
		Expected: []string{"node-b", "node-c", "node-d"},
		Missing:  []string{"node-b", "node-c", "node-d"},
		Outcome:  map[string]member.Outcome{"node-b": member.Rejected, "node-c": member.Rejected, "node-d": member.Unreachable},
	}
	want := "cannot reach any of the 3 other speakers, so announcing nothing: " +
		"node-b, node-c answer on port 7946 but not with this speaker's key: every speaker needs the same IRONLB_MEMBERLIST_KEY " +
		"(while rotating, the other key in IRONLB_MEMBERLIST_OLD_KEYS); " +
		"node-d does not answer on port 7946: TCP and UDP 7946 must be open between the nodes, and every speaker needs the same IRONLB_MEMBERLIST_KEY"
	if diff := cmp.Diff(want, v.problem(7946)); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}

	many := gossipView{}
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"} {
		many.Expected = append(many.Expected, n)
		many.Missing = append(many.Missing, n)
	}
	if got := many.problem(7946); !strings.Contains(got, "n1, n2, n3, n4, n5 and 2 more do not answer") {
		t.Errorf("long list not shortened: %s", got)
	}
}

// The election in use is the highest version every live speaker supports:
// a speaker not live does not hold the others back, and a live one whose
// versions are unknown counts as an old one.
func TestAgreeWinnerOverLiveSpeakers(t *testing.T) {
	v1, v2 := announce.WinnerV1, announce.WinnerV2
	advertised := map[string][]announce.WinnerVersion{"a": {v1, v2}, "b": {v1, v2}, "old": {v1}}
	tests := []struct {
		live []string
		want announce.WinnerVersion
	}{
		{[]string{"a", "b"}, v2},
		{[]string{"a", "b", "old"}, v1},
		{[]string{"a", "unknown"}, v1},
		{nil, v1},
	}
	for _, tc := range tests {
		if got := agree(liveSet(tc.live...), advertised); got != tc.want {
			t.Errorf("live %v: agreed %v, want %v", tc.live, got, tc.want)
		}
	}
}

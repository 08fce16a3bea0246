package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Each field manager claims exactly the fields it sends: the apply
// configurations hold the object's identity and the status fields meant,
// nothing else (no spec, no empty fields of the API types).
func TestStatusApplySendsOnlyItsFields(t *testing.T) {
	adv := &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "lan", UID: "0a1b", Generation: 3}}
	gvk := v1beta1.GroupVersion.WithKind("L2Advertisement")
	ltt := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ready := metav1.Condition{Type: v1beta1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonMatched,
		Message: "0 pools matched", ObservedGeneration: 3, LastTransitionTime: ltt}
	const meta = `"kind":"L2Advertisement","apiVersion":"ironlb.io/v1beta1","metadata":{"name":"lan","uid":"0a1b"}`
	tests := []struct {
		name   string
		status any
		want   string
	}{{
		name:   "matchedPools and Ready, matchedPools kept when empty",
		status: advertisementStatusApply{MatchedPools: []string{}, Conditions: []metav1.Condition{ready}},
		want: `{` + meta + `,"status":{"matchedPools":[],"conditions":[{"type":"Ready","status":"True",` +
			`"observedGeneration":3,"lastTransitionTime":"2026-01-02T03:04:05Z","reason":"Matched","message":"0 pools matched"}]}}`,
	}, {
		name: "a node's entry",
		status: struct {
			Nodes []v1beta1.L2NodeStatus `json:"nodes"`
		}{[]v1beta1.L2NodeStatus{{Node: "n1", LastTransitionTime: ltt,
			Unannounced: []v1beta1.UnannouncedAddress{{IP: "192.0.2.10", Reason: "no eth1"}}}}},
		want: `{` + meta + `,"status":{"nodes":[{"node":"n1","unannounced":[{"ip":"192.0.2.10","reason":"no eth1"}],` +
			`"lastTransitionTime":"2026-01-02T03:04:05Z"}]}}`,
	}, {
		name: "no entry: gives it up",
		status: struct {
			Nodes []v1beta1.L2NodeStatus `json:"nodes"`
		}{[]v1beta1.L2NodeStatus{}},
		want: `{` + meta + `,"status":{"nodes":[]}}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(newStatusApply(gvk, adv, tc.status))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("apply body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeFieldOwner(t *testing.T) {
	if got := NodeFieldOwner("node-a"); got != "ironlb-speaker-node-a" {
		t.Errorf("NodeFieldOwner(node-a) = %q", got)
	}
	long := NodeFieldOwner(strings.Repeat("n", 300))
	if len(long) != 128 || !strings.HasPrefix(long, "ironlb-speaker-n") {
		t.Errorf("a long node name gives %d bytes %q, want 128", len(long), long[:20])
	}
}

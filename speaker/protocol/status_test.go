package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// Ready says the worst thing first: a refusal (nothing is announced), then
// selectors that do not parse, then unknown pools, then unknown peers.
func TestWantStatus(t *testing.T) {
	pools := []announce.Pool{
		{Name: "lan", Labels: map[string]string{"tier": "lan"}},
		{Name: "dmz"},
	}
	byName := announce.PoolSelector{Names: []string{"lan", "dmz"}}
	tests := []struct {
		name        string
		adv         Advertisement
		wantMatched []string
		want        metav1.Condition
	}{{
		name:        "matched: pools sorted, counted",
		adv:         Advertisement{Generation: 2, Pools: byName},
		wantMatched: []string{"dmz", "lan"},
		want:        metav1.Condition{Status: metav1.ConditionTrue, Reason: v1beta1.ReasonMatched, Message: "2 pools matched"},
	}, {
		name: "by label",
		adv: Advertisement{Generation: 2, Pools: announce.PoolSelector{
			Selectors: []labels.Selector{labels.SelectorFromSet(labels.Set{"tier": "lan"})}}},
		wantMatched: []string{"lan"},
		want:        metav1.Condition{Status: metav1.ConditionTrue, Reason: v1beta1.ReasonMatched, Message: "1 pools matched"},
	}, {
		name: "refused first",
		adv: Advertisement{Generation: 2, Pools: announce.PoolSelector{Names: []string{"lan", "gone"}},
			Refused:          &Refusal{Reason: v1beta1.ReasonInvalidCommunity, Message: "why"},
			InvalidSelectors: errors.New("bad selector"), UnknownPeers: []string{"tor"}},
		wantMatched: []string{"lan"},
		want:        metav1.Condition{Status: metav1.ConditionFalse, Reason: v1beta1.ReasonInvalidCommunity, Message: "why"},
	}, {
		name: "then selectors",
		adv: Advertisement{Generation: 2, Pools: announce.PoolSelector{Names: []string{"gone"}},
			InvalidSelectors: errors.New("bad selector"), UnknownPeers: []string{"tor"}},
		want: metav1.Condition{Status: metav1.ConditionFalse, Reason: v1beta1.ReasonInvalidSelector, Message: "bad selector"},
	}, {
		name:        "then unknown pools",
		adv:         Advertisement{Generation: 2, Pools: announce.PoolSelector{Names: []string{"gone", "lan", "lost"}}, UnknownPeers: []string{"tor"}},
		wantMatched: []string{"lan"},
		want: metav1.Condition{Status: metav1.ConditionFalse, Reason: v1beta1.ReasonUnknownPool,
			Message: "no IPAddressPool named gone, lost"},
	}, {
		name:        "then unknown peers",
		adv:         Advertisement{Generation: 2, Pools: byName, UnknownPeers: []string{"tor", "spine"}},
		wantMatched: []string{"dmz", "lan"},
		want:        metav1.Condition{Status: metav1.ConditionFalse, Reason: v1beta1.ReasonUnknownPeer, Message: "no BGPPeer named tor, spine"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.adv.WantStatus(pools)
			tc.want.Type, tc.want.ObservedGeneration = v1beta1.ConditionReady, 2
			if diff := cmp.Diff(tc.wantMatched, got.MatchedPools); diff != "" {
				t.Errorf("matched pools (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got.Ready); diff != "" {
				t.Errorf("Ready (-want +got):\n%s", diff)
			}
		})
	}
}

// applied records the status applies a client sends, as JSON bodies, with
// the field manager of each.
type applied struct {
	bodies, owners []string
}

// recordingClient is a client whose status applies are recorded in rec and
// go no further.
func recordingClient(t *testing.T, rec *applied) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceApply: func(_ context.Context, _ client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			if sub != "status" {
				t.Errorf("applied subresource %q, want status", sub)
			}
			body, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			o := &client.SubResourceApplyOptions{}
			o.ApplyOpts(opts)
			rec.bodies = append(rec.bodies, string(body))
			rec.owners = append(rec.owners, o.FieldManager)
			return nil
		},
	}).Build()
}

// WriteReady writes nothing when the condition says the same already, and
// otherwise sends just the Ready condition, keeping its transition time
// unless the status flips.
func TestWriteReady(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	valid := metav1.Condition{Type: v1beta1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: v1beta1.ReasonBFDProfileValid, Message: "fine", ObservedGeneration: 2}
	have := valid
	have.LastTransitionTime = then
	prof := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: "fast", UID: "0a1b", Generation: 3}}
	newGen := valid
	newGen.ObservedGeneration = 3
	invalid := metav1.Condition{Type: v1beta1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: v1beta1.ReasonInvalidBFDProfile, Message: "bad", ObservedGeneration: 3}
	tests := []struct {
		name      string
		want      metav1.Condition
		writes    bool
		keepsTime bool
	}{
		{name: "unchanged: nothing written", want: valid},
		{name: "new generation, same status: transition time kept", want: newGen, writes: true, keepsTime: true},
		{name: "flipped: transition time now", want: invalid, writes: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec applied
			if err := WriteReady(t.Context(), recordingClient(t, &rec), prof, []metav1.Condition{have}, tc.want); err != nil {
				t.Fatal(err)
			}
			if !tc.writes {
				if len(rec.bodies) != 0 {
					t.Errorf("wrote %q, want nothing", rec.bodies)
				}
				return
			}
			if len(rec.bodies) != 1 || rec.owners[0] != AdvertisementFieldOwner {
				t.Fatalf("wrote %q as %q, want one apply as %q", rec.bodies, rec.owners, AdvertisementFieldOwner)
			}
			var got struct {
				Kind     string
				Metadata map[string]any
				Status   map[string][]metav1.Condition
			}
			if err := json.Unmarshal([]byte(rec.bodies[0]), &got); err != nil {
				t.Fatal(err)
			}
			conds := got.Status["conditions"]
			if got.Kind != "BFDProfile" || got.Metadata["uid"] != "0a1b" || len(got.Status) != 1 || len(conds) != 1 {
				t.Fatalf("apply body %s, want the BFDProfile's uid and one status condition alone", rec.bodies[0])
			}
			if kept := conds[0].LastTransitionTime.Equal(&then); kept != tc.keepsTime {
				t.Errorf("transition time %v, kept %v; want kept %v", conds[0].LastTransitionTime, kept, tc.keepsTime)
			}
			conds[0].LastTransitionTime = metav1.Time{}
			if diff := cmp.Diff(tc.want, conds[0]); diff != "" {
				t.Errorf("Ready written (-want +got):\n%s", diff)
			}
		})
	}
}

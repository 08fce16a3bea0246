package protocol

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

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

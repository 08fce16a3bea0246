package protocol

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// Refusal is why the speaker announces nothing for an advertisement.
type Refusal struct {
	Reason, Message string
}

// Advertisement is what the status of an advertisement (L2Advertisement,
// BGPAdvertisement) is computed from.
type Advertisement struct {
	Generation int64
	Pools      announce.PoolSelector
	// Refused, when set, is why the speaker announces nothing for it.
	Refused *Refusal
	// InvalidSelectors are its label selectors that do not parse.
	InvalidSelectors error
	// UnknownPeers are the BGPPeers it names that do not exist.
	UnknownPeers []string
}

// AdvertisementStatus is what an advertisement's status should say.
type AdvertisementStatus struct {
	MatchedPools []string // sorted
	Ready        metav1.Condition
}

// WantStatus computes matchedPools and Ready: False when the speaker
// refuses the advertisement, a selector does not parse, or a named pool or
// peer does not exist, in that order. A refusal comes first: it means
// nothing at all is announced.
func (a Advertisement) WantStatus(pools []announce.Pool) AdvertisementStatus {
	out := AdvertisementStatus{
		MatchedPools: a.Pools.MatchedPools(pools),
		Ready: metav1.Condition{
			Type: v1beta1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonMatched,
			ObservedGeneration: a.Generation,
		},
	}
	slices.Sort(out.MatchedPools)
	out.Ready.Message = fmt.Sprintf("%d pools matched", len(out.MatchedPools))
	var unknownPools []string
	for _, n := range a.Pools.Names {
		if !slices.ContainsFunc(pools, func(p announce.Pool) bool { return p.Name == n }) {
			unknownPools = append(unknownPools, n)
		}
	}
	notReady := func(reason, message string) {
		out.Ready.Status, out.Ready.Reason, out.Ready.Message = metav1.ConditionFalse, reason, message
	}
	switch {
	case a.Refused != nil:
		notReady(a.Refused.Reason, a.Refused.Message)
	case a.InvalidSelectors != nil:
		notReady(v1beta1.ReasonInvalidSelector, a.InvalidSelectors.Error())
	case len(unknownPools) > 0:
		notReady(v1beta1.ReasonUnknownPool, "no IPAddressPool named "+strings.Join(unknownPools, ", "))
	case len(a.UnknownPeers) > 0:
		notReady(v1beta1.ReasonUnknownPeer, "no BGPPeer named "+strings.Join(a.UnknownPeers, ", "))
	}
	return out
}

// SameConditionAs reports whether have says what want says, leaving out
// when it last changed.
func SameConditionAs(have *metav1.Condition, want metav1.Condition) bool {
	return have != nil && have.Status == want.Status && have.Reason == want.Reason &&
		have.Message == want.Message && have.ObservedGeneration == want.ObservedGeneration
}

// isShownBy reports whether the status holds want already.
func (want AdvertisementStatus) isShownBy(matched []string, conds []metav1.Condition) bool {
	have := slices.Clone(matched)
	slices.Sort(have)
	return slices.Equal(have, want.MatchedPools) &&
		SameConditionAs(meta.FindStatusCondition(conds, v1beta1.ConditionReady), want.Ready)
}

// advertisementStatusApply is the part of an advertisement's status
// AdvertisementFieldOwner owns. matchedPools is sent even when empty, so
// that the owner keeps it.
type advertisementStatusApply struct {
	MatchedPools []string           `json:"matchedPools"`
	Conditions   []metav1.Condition `json:"conditions"`
}

// WriteAdvertisementStatus writes want into the status of obj, whose status
// holds matched and conds, unless it shows want already. The Ready
// condition keeps its transition time when its status did not flip.
func WriteAdvertisementStatus(ctx context.Context, c client.Client, obj client.Object, matched []string,
	conds []metav1.Condition, want AdvertisementStatus) error {
	if want.isShownBy(matched, conds) {
		return nil
	}
	status := advertisementStatusApply{
		MatchedPools: append([]string{}, want.MatchedPools...),
		Conditions:   []metav1.Condition{asSetIn(conds, want.Ready)},
	}
	return ApplyStatus(ctx, c, obj, status, AdvertisementFieldOwner)
}

// asSetIn returns want as meta.SetStatusCondition would leave it in conds:
// with the transition time of the condition there when its status did not
// flip. conds is not modified (it is the cache's own).
func asSetIn(conds []metav1.Condition, want metav1.Condition) metav1.Condition {
	set := slices.Clone(conds)
	meta.SetStatusCondition(&set, want)
	return *meta.FindStatusCondition(set, want.Type)
}

// readyStatusApply is the part of a status that is just the Ready
// condition, as AdvertisementFieldOwner owns it.
type readyStatusApply struct {
	Conditions []metav1.Condition `json:"conditions"`
}

// WriteReady writes want, a Ready condition, into the status of obj, whose
// status holds conds, unless it says want already: the status every
// speaker shares of an object that has nothing else in it (BFDProfile).
// It is written under AdvertisementFieldOwner, the manager of shared
// status, so a change of writer takes it over.
func WriteReady(ctx context.Context, c client.Client, obj client.Object, conds []metav1.Condition, want metav1.Condition) error {
	if SameConditionAs(meta.FindStatusCondition(conds, want.Type), want) {
		return nil
	}
	status := readyStatusApply{Conditions: []metav1.Condition{asSetIn(conds, want)}}
	return ApplyStatus(ctx, c, obj, status, AdvertisementFieldOwner)
}

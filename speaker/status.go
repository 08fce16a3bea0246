package speaker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// advertisementFieldOwner is the field manager of advertisement status. One
// speaker writes it at a time (the lowest live one), under one shared name,
// so a change of writer takes the fields over instead of duplicating them.
const advertisementFieldOwner = "ironlb-speaker"

// Reasons of the Ready condition of L2Advertisement and BGPAdvertisement.
const (
	ReasonMatched         = "Matched"
	ReasonUnknownPool     = "UnknownPool"
	ReasonUnknownPeer     = "UnknownPeer"
	ReasonInvalidSelector = "InvalidSelector"
	// ReasonInvalidCommunity: a community the speaker cannot announce (out
	// of range, or IronLB's reserved global administrator); the
	// advertisement announces nothing.
	ReasonInvalidCommunity = "InvalidCommunity"
	// ReasonInvalidAggregation: an aggregation length that would announce
	// addresses outside a pool entry; the advertisement announces nothing.
	ReasonInvalidAggregation = "InvalidAggregation"
)

// advStatus is what an advertisement's status should say.
type advStatus struct {
	matched []string
	ready   metav1.Condition
}

// refusal is why the speaker announces nothing for an advertisement.
type refusal struct {
	reason, message string
}

// bgpRefusals lists, by name, the BGPAdvertisements this decision left out,
// with the reason their status and the logs give.
func bgpRefusals(st *clusterState, res announce.Result) map[string]refusal {
	out := map[string]refusal{}
	for _, a := range st.bgp {
		var reason string
		var msgs []string
		if !a.parsed.usable() {
			reason = ReasonInvalidCommunity
			for _, e := range a.parsed.badCommunities {
				msgs = append(msgs, e.Error())
			}
		} else if errs := res.RefusedAggregation[a.obj.Name]; len(errs) > 0 {
			reason = ReasonInvalidAggregation
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
		} else {
			continue
		}
		out[a.obj.Name] = refusal{reason: reason,
			message: strings.Join(msgs, "; ") + "; none of this advertisement's routes are announced until it is fixed"}
	}
	return out
}

// logRefusals logs the advertisements refused or accepted again since the
// last decision (every decision would repeat them).
func (s *Speaker) logRefusals(now map[string]refusal) {
	for name, r := range now {
		if s.lastRefusals[name] != r {
			s.log.Error(errors.New(r.message), "Refusing BGPAdvertisement", "advertisement", name, "reason", r.reason)
		}
	}
	for name := range s.lastRefusals {
		if _, still := now[name]; !still {
			s.log.Info("BGPAdvertisement accepted again", "advertisement", name)
		}
	}
	s.lastRefusals = now
}

// writeAdvertisementStatus writes status.matchedPools and the Ready
// condition of every advertisement that needs it. Only the lowest live
// speaker writes, so N speakers do not race to write the same thing.
func (s *Speaker) writeAdvertisementStatus(ctx context.Context, st *clusterState, refusals map[string]refusal, live map[string]bool) error {
	if lowestLive(live) != s.cfg.NodeName {
		return nil
	}
	peerNames := map[string]bool{}
	for _, p := range st.peers {
		peerNames[p.Name] = true
	}
	var errs []error
	for _, a := range st.l2 {
		want := advertisementStatus(a.obj.Generation, a.parsed.adv.Pools, st, a.parsed.err, nil, nil, nil)
		if !sameAdvStatus(a.obj.Status.MatchedPools, a.obj.Status.Conditions, want) {
			errs = append(errs, s.applyAdvStatus(ctx, "L2Advertisement", a.obj.Name, a.obj.UID, a.obj.Status.Conditions, want))
		}
	}
	for _, a := range st.bgp {
		var why *refusal
		if r, ok := refusals[a.obj.Name]; ok {
			why = &r
		}
		want := advertisementStatus(a.obj.Generation, a.parsed.adv.Pools, st, a.parsed.err, why, a.obj.Spec.Peers, peerNames)
		if !sameAdvStatus(a.obj.Status.MatchedPools, a.obj.Status.Conditions, want) {
			errs = append(errs, s.applyAdvStatus(ctx, "BGPAdvertisement", a.obj.Name, a.obj.UID, a.obj.Status.Conditions, want))
		}
	}
	return errors.Join(errs...)
}

// advertisementStatus computes matchedPools and Ready: False when the
// speaker refuses the advertisement (why), a selector does not parse, a
// named pool or peer does not exist. A refusal comes first: it means
// nothing at all is announced.
func advertisementStatus(gen int64, sel announce.PoolSelector, st *clusterState, selErr error, why *refusal,
	peers []string, knownPeers map[string]bool) advStatus {
	out := advStatus{
		matched: sel.MatchedPools(st.input.Pools),
		ready: metav1.Condition{
			Type: "Ready", Status: metav1.ConditionTrue, Reason: ReasonMatched,
			ObservedGeneration: gen,
		},
	}
	slices.Sort(out.matched)
	out.ready.Message = fmt.Sprintf("%d pools matched", len(out.matched))
	var unknownPools, unknownPeers []string
	for _, n := range sel.Names {
		if _, found := slices.BinarySearch(st.pools, n); !found {
			unknownPools = append(unknownPools, n)
		}
	}
	for _, p := range peers {
		if !knownPeers[p] {
			unknownPeers = append(unknownPeers, p)
		}
	}
	switch {
	case why != nil:
		out.ready.Status, out.ready.Reason, out.ready.Message = metav1.ConditionFalse, why.reason, why.message
	case selErr != nil:
		out.ready.Status, out.ready.Reason = metav1.ConditionFalse, ReasonInvalidSelector
		out.ready.Message = selErr.Error()
	case len(unknownPools) > 0:
		out.ready.Status, out.ready.Reason = metav1.ConditionFalse, ReasonUnknownPool
		out.ready.Message = "no IPAddressPool named " + strings.Join(unknownPools, ", ")
	case len(unknownPeers) > 0:
		out.ready.Status, out.ready.Reason = metav1.ConditionFalse, ReasonUnknownPeer
		out.ready.Message = "no BGPPeer named " + strings.Join(unknownPeers, ", ")
	}
	return out
}

func sameAdvStatus(matched []string, conds []metav1.Condition, want advStatus) bool {
	have := slices.Clone(matched)
	slices.Sort(have)
	if !slices.Equal(have, want.matched) {
		return false
	}
	c := meta.FindStatusCondition(conds, "Ready")
	return c != nil && c.Status == want.ready.Status && c.Reason == want.ready.Reason &&
		c.Message == want.ready.Message && c.ObservedGeneration == want.ready.ObservedGeneration
}

// applyAdvStatus writes the status with server-side apply, keeping the
// condition's transition time when its status did not flip.
func (s *Speaker) applyAdvStatus(ctx context.Context, kind, name string, uid types.UID, conds []metav1.Condition, want advStatus) error {
	ltt := time.Now().UTC()
	if c := meta.FindStatusCondition(conds, "Ready"); c != nil && c.Status == want.ready.Status {
		ltt = c.LastTransitionTime.UTC()
	}
	matched := make([]any, len(want.matched))
	for i, m := range want.matched {
		matched[i] = m
	}
	cond := map[string]any{
		"type":               want.ready.Type,
		"status":             string(want.ready.Status),
		"reason":             want.ready.Reason,
		"message":            want.ready.Message,
		"observedGeneration": want.ready.ObservedGeneration,
		"lastTransitionTime": ltt.Format(time.RFC3339),
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{"matchedPools": matched, "conditions": []any{cond}},
	}}
	u.SetGroupVersionKind(v1beta1.GroupVersion.WithKind(kind))
	u.SetName(name)
	u.SetUID(uid)
	err := s.writer.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(advertisementFieldOwner), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("writing status of %s %s: %w", kind, name, err)
	}
	return nil
}

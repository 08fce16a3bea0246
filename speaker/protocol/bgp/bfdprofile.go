package bgp

import (
	"context"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// bfdProfileReady is what a BFDProfile's Ready condition says (docs/api.md,
// BFDProfile status): whether the speakers can run it, by the rule they
// apply before running a session with it (validation.BFDProfileSettings,
// see bfdSessions). A profile gets past that rule only where the webhook
// and the schema did not run, so False names what to fix.
func bfdProfileReady(prof *v1beta1.BFDProfile) metav1.Condition {
	ready := metav1.Condition{
		Type: v1beta1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonBFDProfileValid,
		Message:            "the speakers can run this profile",
		ObservedGeneration: prof.Generation,
	}
	if _, errs := validation.BFDProfileSettings(&prof.Spec); len(errs) > 0 {
		ready.Status, ready.Reason = metav1.ConditionFalse, v1beta1.ReasonInvalidBFDProfile
		ready.Message = errs.ToAggregate().Error() + "; the BGPPeers naming this profile run no BFD until it is fixed"
	}
	return ready
}

// writeBFDProfileStatus writes Ready of every BFDProfile whose status
// changed. Like the advertisements' status it is shared: only the speaker
// the decision names writes it (protocol.Decision.WritesShared).
func (p *Protocol) writeBFDProfileStatus(ctx context.Context) error {
	var errs []error
	for i := range p.bfdProfiles {
		prof := &p.bfdProfiles[i]
		errs = append(errs, protocol.WriteReady(ctx, p.writer, prof, prof.Status.Conditions, bfdProfileReady(prof)))
	}
	return errors.Join(errs...)
}

package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// ValidateBGPPeerReferences reports a spec.bfdProfile that names no
// BFDProfile among bfdProfiles (the names of those that exist). The rules
// on the peer's own spec are validation.ValidateBGPPeer's.
func ValidateBGPPeerReferences(peer *v1beta1.BGPPeer, bfdProfiles sets.Set[string]) field.ErrorList {
	name := peer.Spec.BFDProfile
	if name == "" || bfdProfiles.Has(name) {
		return nil
	}
	e := field.NotFound(field.NewPath("spec", "bfdProfile"), name)
	e.Detail = "no BFDProfile of this name exists; create it first"
	return field.ErrorList{e}
}

// bgpPeerValidator admits BGPPeers by validation.ValidateBGPPeer and
// ValidateBGPPeerReferences, reading the BFDProfiles live when the peer
// names one.
type bgpPeerValidator struct {
	reader client.Reader
}

var _ admission.Validator[*v1beta1.BGPPeer] = bgpPeerValidator{}

func (v bgpPeerValidator) ValidateCreate(ctx context.Context, peer *v1beta1.BGPPeer) (admission.Warnings, error) {
	return v.validate(ctx, peer)
}

func (v bgpPeerValidator) ValidateUpdate(ctx context.Context, old, peer *v1beta1.BGPPeer) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, peer.Spec) {
		return nil, nil
	}
	return v.validate(ctx, peer)
}

func (bgpPeerValidator) ValidateDelete(context.Context, *v1beta1.BGPPeer) (admission.Warnings, error) {
	return nil, nil
}

func (v bgpPeerValidator) validate(ctx context.Context, peer *v1beta1.BGPPeer) (admission.Warnings, error) {
	errs, warnings := validation.ValidateBGPPeer(&peer.Spec)
	if peer.Spec.BFDProfile != "" {
		profiles, err := names(ctx, v.reader, &v1beta1.BFDProfileList{})
		if err != nil {
			return nil, fmt.Errorf("listing BFDProfiles: %w", err)
		}
		errs = append(errs, ValidateBGPPeerReferences(peer, profiles)...)
	}
	return warnings, invalid("BGPPeer", peer.Name, errs)
}

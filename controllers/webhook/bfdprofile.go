package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// ValidateBFDProfileDeletion refuses to delete a BFDProfile that one of
// peers (the BGPPeers that exist) names in spec.bfdProfile, as MetalLB
// does: the peer would lose its fast failure detection silently. It names
// the peers, sorted.
func ValidateBFDProfileDeletion(profile *v1beta1.BFDProfile, peers []v1beta1.BGPPeer) error {
	var users []string
	for i := range peers {
		if peers[i].Spec.BFDProfile == profile.Name {
			users = append(users, peers[i].Name)
		}
	}
	if len(users) == 0 {
		return nil
	}
	slices.Sort(users)
	return apierrors.NewForbidden(v1beta1.GroupVersion.WithResource("bfdprofiles").GroupResource(), profile.Name,
		fmt.Errorf("in use by BGPPeer %s (spec.bfdProfile); change or remove their spec.bfdProfile first", strings.Join(users, ", ")))
}

// bfdProfileValidator admits BFDProfiles by validation.ValidateBFDProfile
// and refuses deleting one in use (ValidateBFDProfileDeletion), reading the
// BGPPeers live.
type bfdProfileValidator struct {
	reader client.Reader
}

var _ admission.Validator[*v1beta1.BFDProfile] = bfdProfileValidator{}

func (bfdProfileValidator) ValidateCreate(_ context.Context, p *v1beta1.BFDProfile) (admission.Warnings, error) {
	return nil, invalid("BFDProfile", p.Name, validation.ValidateBFDProfile(&p.Spec))
}

func (bfdProfileValidator) ValidateUpdate(_ context.Context, old, p *v1beta1.BFDProfile) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, p.Spec) {
		return nil, nil
	}
	return nil, invalid("BFDProfile", p.Name, validation.ValidateBFDProfile(&p.Spec))
}

func (v bfdProfileValidator) ValidateDelete(ctx context.Context, p *v1beta1.BFDProfile) (admission.Warnings, error) {
	var peers v1beta1.BGPPeerList
	if err := v.reader.List(ctx, &peers); err != nil {
		return nil, fmt.Errorf("listing BGPPeers: %w", err)
	}
	return nil, ValidateBFDProfileDeletion(p, peers.Items)
}

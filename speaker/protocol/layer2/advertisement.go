package layer2

import (
	"context"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// advertisement is an L2Advertisement, converted for the decision, with
// what is wrong with it.
type advertisement struct {
	obj *v1beta1.L2Advertisement
	adv announce.L2Advertisement
	// invalid: label selectors that do not parse, by the rule admission
	// applies. Each selects nothing; the rest of the advertisement applies.
	invalid error
}

func parse(a *v1beta1.L2Advertisement) advertisement {
	spec := field.NewPath("spec")
	poolSels, errs := validation.LabelSelectors(spec.Child("ipAddressPoolSelectors"), a.Spec.IPAddressPoolSelectors)
	nodeSels, nodeErrs := validation.LabelSelectors(spec.Child("nodeSelectors"), a.Spec.NodeSelectors)
	out := advertisement{
		obj: a,
		adv: announce.L2Advertisement{
			Name:          a.Name,
			Pools:         announce.PoolSelector{Names: a.Spec.IPAddressPools, Selectors: poolSels},
			NodeSelectors: nodeSels,
			Interfaces:    a.Spec.Interfaces,
		},
	}
	if errs = append(errs, nodeErrs...); len(errs) > 0 {
		out.invalid = errs.ToAggregate()
	}
	return out
}

// writeStatus writes matchedPools and Ready when they changed.
func (a advertisement) writeStatus(ctx context.Context, c client.Client, pools []announce.Pool) error {
	want := protocol.Advertisement{
		Generation:       a.obj.Generation,
		Pools:            a.adv.Pools,
		InvalidSelectors: a.invalid,
	}.WantStatus(pools)
	return protocol.WriteAdvertisementStatus(ctx, c, a.obj, a.obj.Status.MatchedPools, a.obj.Status.Conditions, want)
}

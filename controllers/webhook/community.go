package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// AliasesLost lists, as "alias \"x\" (BGPAdvertisement a, b)" phrases, the
// Community aliases that advertisements use and that resolve with the
// Community objects before a change but not after it: a deletion, or an
// update that removes or renames an alias. An advertisement that did not
// resolve before is not the change's doing and is not listed. Sorted by
// alias.
func AliasesLost(before, after []v1beta1.Community, advs []v1beta1.BGPAdvertisement) []string {
	had, has := validation.CommunityAliases(before), validation.CommunityAliases(after)
	users := map[string][]string{}
	for i := range advs {
		for _, entry := range advs[i].Spec.Communities {
			_, resolved := had[entry]
			if _, still := has[entry]; resolved && !still && validation.IsCommunityAlias(entry) {
				users[entry] = append(users[entry], advs[i].Name)
			}
		}
	}
	var out []string
	for alias, names := range users {
		slices.Sort(names)
		out = append(out, fmt.Sprintf("alias %q (BGPAdvertisement %s)", alias, strings.Join(slices.Compact(names), ", ")))
	}
	slices.Sort(out)
	return out
}

// communityValidator admits Community objects by
// validation.ValidateCommunityAliases against the others, and refuses a
// change that leaves an alias in use undefined (AliasesLost): the
// advertisements using it would announce nothing.
type communityValidator struct {
	reader client.Reader
}

var _ admission.Validator[*v1beta1.Community] = communityValidator{}

func (v communityValidator) ValidateCreate(ctx context.Context, c *v1beta1.Community) (admission.Warnings, error) {
	var all v1beta1.CommunityList
	if err := v.reader.List(ctx, &all); err != nil {
		return nil, fmt.Errorf("listing Communities: %w", err)
	}
	return nil, invalid("Community", c.Name, validation.ValidateCommunityAliases(c, all.Items))
}

func (v communityValidator) ValidateUpdate(ctx context.Context, old, c *v1beta1.Community) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, c.Spec) {
		return nil, nil
	}
	all, advs, err := v.read(ctx)
	if err != nil {
		return nil, err
	}
	errs := validation.ValidateCommunityAliases(c, all)
	if lost := AliasesLost(with(all, old), with(all, c), advs); len(lost) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "communities"),
			"removes "+strings.Join(lost, ", ")+", which would then announce nothing; remove the alias from them first"))
	}
	return nil, invalid("Community", c.Name, errs)
}

func (v communityValidator) ValidateDelete(ctx context.Context, c *v1beta1.Community) (admission.Warnings, error) {
	all, advs, err := v.read(ctx)
	if err != nil {
		return nil, err
	}
	if lost := AliasesLost(with(all, c), without(all, c.Name), advs); len(lost) > 0 {
		return nil, apierrors.NewForbidden(v1beta1.GroupVersion.WithResource("communities").GroupResource(), c.Name,
			fmt.Errorf("in use: %s would then announce nothing; remove the aliases from them first", strings.Join(lost, ", ")))
	}
	return nil, nil
}

// read lists the Community objects and the BGPAdvertisements.
func (v communityValidator) read(ctx context.Context) ([]v1beta1.Community, []v1beta1.BGPAdvertisement, error) {
	var all v1beta1.CommunityList
	if err := v.reader.List(ctx, &all); err != nil {
		return nil, nil, fmt.Errorf("listing Communities: %w", err)
	}
	var advs v1beta1.BGPAdvertisementList
	if err := v.reader.List(ctx, &advs); err != nil {
		return nil, nil, fmt.Errorf("listing BGPAdvertisements: %w", err)
	}
	return all.Items, advs.Items, nil
}

// with is all with the Community named like c replaced by c (added when
// none is), as the cluster holds them once a change is made.
func with(all []v1beta1.Community, c *v1beta1.Community) []v1beta1.Community {
	return append(without(all, c.Name), *c)
}

// without is all less the Community named name.
func without(all []v1beta1.Community, name string) []v1beta1.Community {
	out := make([]v1beta1.Community, 0, len(all)+1)
	for i := range all {
		if all[i].Name != name {
			out = append(out, all[i])
		}
	}
	return out
}

package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// ValidateL2Advertisement reports pools named in spec.ipAddressPools that are
// not among pools (the names of the IPAddressPools that exist) and label
// selectors that do not parse.
func ValidateL2Advertisement(adv *v1beta1.L2Advertisement, pools sets.Set[string]) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateNames(spec.Child("ipAddressPools"), adv.Spec.IPAddressPools, pools, "IPAddressPool")
	errs = append(errs, selectorErrors(spec.Child("ipAddressPoolSelectors"), adv.Spec.IPAddressPoolSelectors)...)
	errs = append(errs, selectorErrors(spec.Child("nodeSelectors"), adv.Spec.NodeSelectors)...)
	return errs
}

// ValidateBGPAdvertisement reports unknown pools and peers (pools are the
// IPAddressPools that exist, peers the names of the BGPPeers), communities
// the speaker could not announce (values out of range, aliases that no
// Community object defines: aliases are validation.CommunityAliases of the
// Community objects that exist), an aggregation length that would announce
// addresses outside a selected pool's entry, and label selectors that do not
// parse. Communities and aggregation are checked by the rules the speaker
// applies (api/v1beta1/validation), so what is admitted is announced.
func ValidateBGPAdvertisement(adv *v1beta1.BGPAdvertisement, pools []v1beta1.IPAddressPool, peers sets.Set[string], aliases map[string]string) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateNames(spec.Child("ipAddressPools"), adv.Spec.IPAddressPools, poolNames(pools), "IPAddressPool")
	errs = append(errs, validateNames(spec.Child("peers"), adv.Spec.Peers, peers, "BGPPeer")...)
	errs = append(errs, selectorErrors(spec.Child("ipAddressPoolSelectors"), adv.Spec.IPAddressPoolSelectors)...)
	errs = append(errs, selectorErrors(spec.Child("nodeSelectors"), adv.Spec.NodeSelectors)...)
	_, communityErrs := validation.ResolveCommunities(adv.Spec.Communities, aliases)
	errs = append(errs, communityErrs...)
	for _, e := range validation.CheckAggregation(adv.Spec.AggregationLength, adv.Spec.AggregationLengthV6,
		selectedEntries(&adv.Spec, pools)) {
		errs = append(errs, field.Invalid(spec.Child(e.Field), e.Length, e.Detail()))
	}
	return errs
}

// selectorErrors reports the label selectors that do not parse
// (validation.LabelSelectors), when only the verdict matters.
func selectorErrors(path *field.Path, sels []metav1.LabelSelector) field.ErrorList {
	_, errs := validation.LabelSelectors(path, sels)
	return errs
}

func validateNames(path *field.Path, names []string, known sets.Set[string], kind string) field.ErrorList {
	var errs field.ErrorList
	for i, n := range names {
		if !known.Has(n) {
			e := field.NotFound(path.Index(i), n)
			e.Detail = fmt.Sprintf("no %s of this name exists; create it first", kind)
			errs = append(errs, e)
		}
	}
	return errs
}

func poolNames(pools []v1beta1.IPAddressPool) sets.Set[string] {
	out := sets.New[string]()
	for i := range pools {
		out.Insert(pools[i].Name)
	}
	return out
}

// selectedEntries returns the entries that parse of the pools spec selects,
// pools sorted by name. Every selected pool counts, Ready or not: one still
// being validated is about to hand out addresses, and refusing now is
// kinder than a speaker refusing the advertisement later. A selector that
// does not parse selects nothing here (validation.LabelSelectors); it is
// reported on its own.
func selectedEntries(spec *v1beta1.BGPAdvertisementSpec, pools []v1beta1.IPAddressPool) []validation.PoolEntries {
	sels, _ := validation.LabelSelectors(field.NewPath("spec", "ipAddressPoolSelectors"), spec.IPAddressPoolSelectors)
	var out []validation.PoolEntries
	for i := range pools {
		p := &pools[i]
		if !validation.SelectsPool(spec.IPAddressPools, sels, p.Name, p.Labels) {
			continue
		}
		entries, _ := validation.PoolAddresses(p.Spec.Addresses)
		out = append(out, validation.PoolEntries{Name: p.Name, Entries: entries})
	}
	slices.SortFunc(out, func(a, b validation.PoolEntries) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// names lists the names of the objects of list.
func names(ctx context.Context, r client.Reader, list client.ObjectList) (sets.Set[string], error) {
	if err := r.List(ctx, list); err != nil {
		return nil, err
	}
	out := sets.New[string]()
	switch l := list.(type) {
	case *v1beta1.IPAddressPoolList:
		for i := range l.Items {
			out.Insert(l.Items[i].Name)
		}
	case *v1beta1.BGPPeerList:
		for i := range l.Items {
			out.Insert(l.Items[i].Name)
		}
	case *v1beta1.BFDProfileList:
		for i := range l.Items {
			out.Insert(l.Items[i].Name)
		}
	default:
		return nil, fmt.Errorf("names: unexpected list type %T", list)
	}
	return out, nil
}

type l2AdvertisementValidator struct {
	reader client.Reader
}

var _ admission.Validator[*v1beta1.L2Advertisement] = l2AdvertisementValidator{}

func (v l2AdvertisementValidator) ValidateCreate(ctx context.Context, adv *v1beta1.L2Advertisement) (admission.Warnings, error) {
	return nil, v.validate(ctx, adv)
}

func (v l2AdvertisementValidator) ValidateUpdate(ctx context.Context, old, adv *v1beta1.L2Advertisement) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, adv.Spec) {
		return nil, nil
	}
	return nil, v.validate(ctx, adv)
}

func (l2AdvertisementValidator) ValidateDelete(context.Context, *v1beta1.L2Advertisement) (admission.Warnings, error) {
	return nil, nil
}

func (v l2AdvertisementValidator) validate(ctx context.Context, adv *v1beta1.L2Advertisement) error {
	pools, err := names(ctx, v.reader, &v1beta1.IPAddressPoolList{})
	if err != nil {
		return fmt.Errorf("listing IPAddressPools: %w", err)
	}
	return invalid("L2Advertisement", adv.Name, ValidateL2Advertisement(adv, pools))
}

type bgpAdvertisementValidator struct {
	reader client.Reader
}

var _ admission.Validator[*v1beta1.BGPAdvertisement] = bgpAdvertisementValidator{}

func (v bgpAdvertisementValidator) ValidateCreate(ctx context.Context, adv *v1beta1.BGPAdvertisement) (admission.Warnings, error) {
	return nil, v.validate(ctx, adv)
}

func (v bgpAdvertisementValidator) ValidateUpdate(ctx context.Context, old, adv *v1beta1.BGPAdvertisement) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, adv.Spec) {
		return nil, nil
	}
	return nil, v.validate(ctx, adv)
}

func (bgpAdvertisementValidator) ValidateDelete(context.Context, *v1beta1.BGPAdvertisement) (admission.Warnings, error) {
	return nil, nil
}

func (v bgpAdvertisementValidator) validate(ctx context.Context, adv *v1beta1.BGPAdvertisement) error {
	// The pools themselves, not only their names: the aggregation lengths
	// must fit their entries.
	var pools v1beta1.IPAddressPoolList
	if err := v.reader.List(ctx, &pools); err != nil {
		return fmt.Errorf("listing IPAddressPools: %w", err)
	}
	peers, err := names(ctx, v.reader, &v1beta1.BGPPeerList{})
	if err != nil {
		return fmt.Errorf("listing BGPPeers: %w", err)
	}
	var communities v1beta1.CommunityList
	if err := v.reader.List(ctx, &communities); err != nil {
		return fmt.Errorf("listing Communities: %w", err)
	}
	aliases := validation.CommunityAliases(communities.Items)
	return invalid("BGPAdvertisement", adv.Name, ValidateBGPAdvertisement(adv, pools.Items, peers, aliases))
}

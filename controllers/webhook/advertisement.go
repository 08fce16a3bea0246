package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// ValidateL2Advertisement reports pools named in spec.ipAddressPools that are
// not among pools (the names of the IPAddressPools that exist) and label
// selectors that do not parse.
func ValidateL2Advertisement(adv *v1beta1.L2Advertisement, pools sets.Set[string]) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateNames(spec.Child("ipAddressPools"), adv.Spec.IPAddressPools, pools, "IPAddressPool")
	errs = append(errs, validateSelectors(spec.Child("ipAddressPoolSelectors"), adv.Spec.IPAddressPoolSelectors)...)
	errs = append(errs, validateSelectors(spec.Child("nodeSelectors"), adv.Spec.NodeSelectors)...)
	return errs
}

// ValidateBGPAdvertisement reports unknown pools and peers (pools are the
// IPAddressPools that exist, peers the names of the BGPPeers), communities
// the speaker could not announce, an aggregation length that would announce
// addresses outside a selected pool's entry, and label selectors that do not
// parse. Communities and aggregation are checked by the rules the speaker
// applies (api/v1beta1/validation), so what is admitted is announced.
func ValidateBGPAdvertisement(adv *v1beta1.BGPAdvertisement, pools []v1beta1.IPAddressPool, peers sets.Set[string]) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateNames(spec.Child("ipAddressPools"), adv.Spec.IPAddressPools, poolNames(pools), "IPAddressPool")
	errs = append(errs, validateNames(spec.Child("peers"), adv.Spec.Peers, peers, "BGPPeer")...)
	errs = append(errs, validateSelectors(spec.Child("ipAddressPoolSelectors"), adv.Spec.IPAddressPoolSelectors)...)
	errs = append(errs, validateSelectors(spec.Child("nodeSelectors"), adv.Spec.NodeSelectors)...)
	errs = append(errs, validation.ValidateCommunities(spec.Child("communities"), adv.Spec.Communities)...)
	for _, e := range validation.CheckAggregation(adv.Spec.AggregationLength, adv.Spec.AggregationLengthV6,
		selectedEntries(&adv.Spec, pools)) {
		errs = append(errs, field.Invalid(spec.Child(e.Field), e.Length, e.Detail()))
	}
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
// does not parse selects nothing here; it is reported on its own.
func selectedEntries(spec *v1beta1.BGPAdvertisementSpec, pools []v1beta1.IPAddressPool) []validation.PoolEntries {
	sels := make([]labels.Selector, 0, len(spec.IPAddressPoolSelectors))
	for i := range spec.IPAddressPoolSelectors {
		s, err := metav1.LabelSelectorAsSelector(&spec.IPAddressPoolSelectors[i])
		if err != nil {
			s = labels.Nothing()
		}
		sels = append(sels, s)
	}
	var out []validation.PoolEntries
	for i := range pools {
		p := &pools[i]
		if !validation.SelectsPool(spec.IPAddressPools, sels, p.Name, p.Labels) {
			continue
		}
		pe := validation.PoolEntries{Name: p.Name}
		for _, a := range p.Spec.Addresses {
			if r, err := iprange.Parse(a); err == nil {
				pe.Entries = append(pe.Entries, validation.Entry{Text: a, First: r.First, Last: r.Last})
			}
		}
		out = append(out, pe)
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
	return invalid("BGPAdvertisement", adv.Name, ValidateBGPAdvertisement(adv, pools.Items, peers))
}

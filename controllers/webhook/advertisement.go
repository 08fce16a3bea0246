package webhook

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
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

// ValidateBGPAdvertisement reports unknown pools and peers (pools and peers
// are the names that exist), communities out of range and label selectors
// that do not parse.
func ValidateBGPAdvertisement(adv *v1beta1.BGPAdvertisement, pools, peers sets.Set[string]) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateNames(spec.Child("ipAddressPools"), adv.Spec.IPAddressPools, pools, "IPAddressPool")
	errs = append(errs, validateNames(spec.Child("peers"), adv.Spec.Peers, peers, "BGPPeer")...)
	errs = append(errs, validateSelectors(spec.Child("ipAddressPoolSelectors"), adv.Spec.IPAddressPoolSelectors)...)
	errs = append(errs, validateSelectors(spec.Child("nodeSelectors"), adv.Spec.NodeSelectors)...)
	for i, c := range adv.Spec.Communities {
		if err := checkCommunity(c); err != nil {
			errs = append(errs, field.Invalid(spec.Child("communities").Index(i), c, err.Error()))
		}
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

// checkCommunity checks the numbers of a community the schema's pattern has
// already shaped: "a:b" with 16-bit parts (RFC 1997) or "large:a:b:c" with
// 32-bit parts (RFC 8092). The pattern cannot bound the numbers themselves.
func checkCommunity(c string) error {
	parts, bits := strings.Split(c, ":"), 16
	if parts[0] == "large" {
		parts, bits = parts[1:], 32
	}
	want := 2
	if bits == 32 {
		want = 3
	}
	if len(parts) != want {
		return fmt.Errorf(`must be "ASN:value" or "large:ASN:value1:value2"`)
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, bits); err != nil {
			return fmt.Errorf("%q is not a %d-bit number", p, bits)
		}
	}
	return nil
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
	pools, err := names(ctx, v.reader, &v1beta1.IPAddressPoolList{})
	if err != nil {
		return fmt.Errorf("listing IPAddressPools: %w", err)
	}
	peers, err := names(ctx, v.reader, &v1beta1.BGPPeerList{})
	if err != nil {
		return fmt.Errorf("listing BGPPeers: %w", err)
	}
	return invalid("BGPAdvertisement", adv.Name, ValidateBGPAdvertisement(adv, pools, peers))
}

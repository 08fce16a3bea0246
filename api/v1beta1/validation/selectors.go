package validation

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// LabelSelectors is the one parser of the label selectors in IronLB specs
// (an IPAddressPool's serviceAllocation, an advertisement's
// ipAddressPoolSelectors and nodeSelectors, a BGPPeer's nodeSelectors).
// Admission, the controller and the speaker all call it, so that a selector
// means the same to each of them.
//
// It returns one selector per entry of in, in order (nil when in is empty),
// and one field.Invalid under path per entry that does not parse. An entry
// that does not parse becomes labels.Nothing(): it selects nothing, never
// everything, so a caller that goes on despite the error fails closed.
func LabelSelectors(path *field.Path, in []metav1.LabelSelector) ([]labels.Selector, field.ErrorList) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]labels.Selector, len(in))
	var errs field.ErrorList
	for i := range in {
		s, err := metav1.LabelSelectorAsSelector(&in[i])
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), in[i].String(), err.Error()))
			s = labels.Nothing()
		}
		out[i] = s
	}
	return out, errs
}

// ServiceAllocationSelectors parses the selectors of an IPAddressPool's
// spec.serviceAllocation (sa may be nil) with [LabelSelectors]. The errors
// list namespaceSelectors first, then serviceSelectors.
func ServiceAllocationSelectors(sa *v1beta1.ServiceAllocation) (namespaces, services []labels.Selector, errs field.ErrorList) {
	if sa == nil {
		return nil, nil, nil
	}
	path := field.NewPath("spec", "serviceAllocation")
	namespaces, nsErrs := LabelSelectors(path.Child("namespaceSelectors"), sa.NamespaceSelectors)
	services, svcErrs := LabelSelectors(path.Child("serviceSelectors"), sa.ServiceSelectors)
	return namespaces, services, append(nsErrs, svcErrs...)
}

// SelectsPool is the pool selection of L2Advertisement and BGPAdvertisement:
// a pool is selected when it is named in names or its labels match one of
// selectors; with neither set, every pool is. Admission uses it to find the
// pools an advertisement's aggregation must fit, the speaker to announce.
func SelectsPool(names []string, selectors []labels.Selector, pool string, poolLabels map[string]string) bool {
	if len(names) == 0 && len(selectors) == 0 {
		return true
	}
	for _, n := range names {
		if n == pool {
			return true
		}
	}
	set := labels.Set(poolLabels)
	for _, s := range selectors {
		if s != nil && s.Matches(set) {
			return true
		}
	}
	return false
}

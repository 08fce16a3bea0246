package validation_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// A selector that does not parse is reported and selects nothing, so that
// a caller going on despite the error (the speaker, which announces what
// else it can) fails closed; the others keep their place.
func TestLabelSelectors(t *testing.T) {
	in := []metav1.LabelSelector{
		{MatchLabels: map[string]string{"tier": "lan"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near"}}},
		{},
	}
	sels, errs := validation.LabelSelectors(field.NewPath("spec", "nodeSelectors"), in)
	want := []string{`spec.nodeSelectors[1]: Invalid value: "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:zone,Operator:Near,Values:[],},},}": "Near" is not a valid label selector operator`}
	if diff := cmp.Diff(want, messages(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if len(sels) != len(in) {
		t.Fatalf("%d selectors for %d entries", len(sels), len(in))
	}
	lan := labels.Set{"tier": "lan", "zone": "a"}
	for i, wantMatch := range []bool{true, false, true} {
		if got := sels[i].Matches(lan); got != wantMatch {
			t.Errorf("selector %d (%v) matches %v: %t, want %t", i, sels[i], lan, got, wantMatch)
		}
	}
	if sels, errs := validation.LabelSelectors(field.NewPath("x"), nil); sels != nil || errs != nil {
		t.Errorf("no selectors: %v, %v", sels, errs)
	}
}

func TestServiceAllocationSelectors(t *testing.T) {
	bad := metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}
	sa := &v1beta1.ServiceAllocation{
		NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "prod"}}, bad},
		ServiceSelectors:   []metav1.LabelSelector{bad},
	}
	ns, svc, errs := validation.ServiceAllocationSelectors(sa)
	if len(ns) != 2 || ns[0].String() != "tier=prod" || len(svc) != 1 {
		t.Errorf("selectors %v, %v", ns, svc)
	}
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	want := []string{"spec.serviceAllocation.namespaceSelectors[1]", "spec.serviceAllocation.serviceSelectors[0]"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if ns, svc, errs := validation.ServiceAllocationSelectors(nil); ns != nil || svc != nil || errs != nil {
		t.Errorf("nil serviceAllocation: %v, %v, %v", ns, svc, errs)
	}
}

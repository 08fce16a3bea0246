package ipam

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Pending counts the Services whose request is refused, by reason, and
// each leaves the count when it gets an address, changes what it asks for,
// or is released.
func TestPendingCountsRefusedServices(t *testing.T) {
	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: "lan", Generation: 1},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"192.0.2.10/32"}},
	}
	m := newTestIPAM(t, pool)
	ctx := context.Background()
	named := func(name string, mutate ...func(*corev1.Service)) *corev1.Service {
		return svc(func(s *corev1.Service) {
			s.Name = name
			for _, f := range mutate {
				f(s)
			}
		})
	}
	fromMissingPool := func(s *corev1.Service) {
		s.Annotations = map[string]string{v1beta1.AnnotationAddressPool: "missing"}
	}
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "team-a", Name: name} }
	allocate := func(s *corev1.Service) {
		t.Helper()
		if _, err := m.Allocate(ctx, s); err != nil {
			t.Fatalf("allocating %s: %v", s.Name, err)
		}
	}

	steps := []struct {
		name string
		do   func()
		want map[string]int
	}{
		{"nothing pending at first", func() {}, nil},
		{"the first Service gets the address", func() { allocate(named("first")) }, nil},
		{"the second waits: pool exhausted", func() { allocate(named("second")) },
			map[string]int{v1beta1.ReasonPoolExhausted: 1}},
		{"a third names a pool that does not exist", func() { allocate(named("third", fromMissingPool)) },
			map[string]int{v1beta1.ReasonPoolExhausted: 1, v1beta1.ReasonNoMatchingPool: 1}},
		{"trying the second again counts it once", func() { allocate(named("second")) },
			map[string]int{v1beta1.ReasonPoolExhausted: 1, v1beta1.ReasonNoMatchingPool: 1}},
		{"the third now asks for the full pool: its reason changes", func() { allocate(named("third")) },
			map[string]int{v1beta1.ReasonPoolExhausted: 2}},
		{"the third is released (deleted, or no longer ours)", func() { m.Release(key("third")) },
			map[string]int{v1beta1.ReasonPoolExhausted: 1}},
		{"the first is released, the second gets its address", func() {
			m.Release(key("first"))
			allocate(named("second"))
		}, nil},
	}
	for _, s := range steps {
		s.do()
		if diff := cmp.Diff(s.want, m.Pending(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: pending (-want +got):\n%s", s.name, diff)
		}
	}
}

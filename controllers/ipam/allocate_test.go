package ipam

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
)

// A change of sharing terms wakes the waiting Services; the first terms
// seen, and the same terms again, do not.
func TestTermsChanged(t *testing.T) {
	local := "app=web"
	keyed := allocator.Request{SharingKey: "k", Ports: []allocator.Port{{Protocol: "TCP", Port: 80}}}
	with := func(f func(*allocator.Request)) allocator.Request {
		r := keyed
		f(&r)
		return r
	}
	steps := []struct {
		name string
		req  allocator.Request
		want bool
	}{
		{"first terms seen", keyed, false},
		{"same terms", keyed, false},
		{"consents to a namespace", with(func(r *allocator.Request) { r.SharingNamespaces = []string{"team-b"} }), true},
		{"consents to another namespace", with(func(r *allocator.Request) { r.SharingNamespaces = []string{"team-c"} }), true},
		{"withdraws consent", keyed, true},
		{"frees a port", with(func(r *allocator.Request) { r.Ports = nil }), true},
		{"selects pods under Local", with(func(r *allocator.Request) { r.Ports, r.LocalSelector = nil, &local }), true},
		{"drops the key", allocator.Request{}, true},
		{"keyless, ports change", allocator.Request{Ports: []allocator.Port{{Protocol: "UDP", Port: 53}}}, false},
		{"adopts a key", keyed, true},
	}
	m := New(nil, nil, v1beta1.ClassFilter{})
	key := types.NamespacedName{Namespace: "team-a", Name: "web"}
	for _, s := range steps {
		if got := m.granted(key, sharingTerms(&s.req)); got != s.want {
			t.Errorf("%s: termsChanged = %v, want %v", s.name, got, s.want)
		}
	}
}

// newTestIPAM returns a restored IPAM over a fake API holding objs.
func newTestIPAM(t *testing.T, objs ...runtime.Object) *IPAM {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(objs...).Build()
	m := New(c, c, v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: true})
	if err := m.EnsureRestored(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// Every change the IPAM makes in memory reaches the controllers through
// its two signals: the pool whose usage changed, and, when an address is
// released, the Services waiting for one; nothing else is raised.
func TestAllocateAndReleaseRaiseSignals(t *testing.T) {
	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: "lan", Generation: 1},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"192.0.2.10/32"}},
	}
	m := newTestIPAM(t, pool)
	ctx := context.Background()
	first := svc(func(s *corev1.Service) { s.Name = "first" })
	second := svc(func(s *corev1.Service) { s.Name = "second" })
	firstKey := types.NamespacedName{Namespace: "team-a", Name: "first"}
	secondKey := types.NamespacedName{Namespace: "team-a", Name: "second"}
	lan := allocator.Assignment{IPs: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, Pool: "lan"}

	// allocate reports a refusal as the error, beside the API's.
	allocate := func(s *corev1.Service) func() (allocator.Assignment, error) {
		return func() (allocator.Assignment, error) {
			a, err := m.Allocate(ctx, s)
			return a.Assignment, errors.Join(err, a.Err)
		}
	}
	type raised struct{ retry, usage []string }
	takeRaised := func() raised {
		var r raised
		for _, k := range m.retry.take() {
			r.retry = append(r.retry, k.String())
		}
		r.usage = m.usage.take()
		slices.Sort(r.retry)
		return r
	}
	steps := []struct {
		name    string
		do      func() (allocator.Assignment, error)
		want    allocator.Assignment
		wantErr error
		raised  raised
	}{
		{
			name:   "first Service gets the pool's one address",
			do:     allocate(first),
			want:   lan,
			raised: raised{usage: []string{"lan"}},
		},
		{
			name:    "second Service waits",
			do:      allocate(second),
			wantErr: allocator.ErrPoolExhausted,
		},
		{
			name: "a resync of the first changes nothing",
			do:   allocate(first),
			want: lan,
		},
		{
			name: "releasing the first wakes the second",
			do: func() (allocator.Assignment, error) {
				held, ok := m.Release(firstKey)
				if !ok {
					return held, errors.New("nothing released")
				}
				return held, nil
			},
			want:   lan,
			raised: raised{retry: []string{secondKey.String()}, usage: []string{"lan"}},
		},
		{
			name:   "the second gets the address",
			do:     allocate(second),
			want:   lan,
			raised: raised{usage: []string{"lan"}},
		},
		{
			name: "releasing the second wakes nobody",
			do: func() (allocator.Assignment, error) {
				held, _ := m.Release(secondKey)
				return held, nil
			},
			want:   lan,
			raised: raised{usage: []string{"lan"}},
		},
		{
			name: "releasing it again does nothing",
			do: func() (allocator.Assignment, error) {
				held, _ := m.Release(secondKey)
				return held, nil
			},
		},
	}
	for _, s := range steps {
		got, err := s.do()
		if (s.wantErr == nil && err != nil) || (s.wantErr != nil && !errors.Is(err, s.wantErr)) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
		if diff := cmp.Diff(s.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("%s: assignment (-want +got):\n%s", s.name, diff)
		}
		if diff := cmp.Diff(s.raised, takeRaised(), cmp.AllowUnexported(raised{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: raised (-want +got):\n%s", s.name, diff)
		}
	}
}

package service

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

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
	var r Reconciler
	key := types.NamespacedName{Namespace: "team-a", Name: "web"}
	for _, s := range steps {
		if got := r.termsChanged(key, &s.req); got != s.want {
			t.Errorf("%s: termsChanged = %v, want %v", s.name, got, s.want)
		}
	}
}

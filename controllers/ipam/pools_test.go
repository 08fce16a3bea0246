package ipam

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
)

func pool(name string, age time.Duration, addrs ...string) v1beta1.IPAddressPool {
	return v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age)),
		},
		Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		pools []v1beta1.IPAddressPool
		// want maps each pool to its reason ("" = valid).
		want map[string]string
	}{{
		name:  "disjoint pools are all valid",
		pools: []v1beta1.IPAddressPool{pool("a", 2*time.Hour, "192.0.2.0/28"), pool("b", time.Hour, "192.0.2.16/28", "2001:db8::/64")},
		want:  map[string]string{"a": "", "b": ""},
	}, {
		name:  "the younger of two overlapping pools is refused",
		pools: []v1beta1.IPAddressPool{pool("young", time.Hour, "192.0.2.8-192.0.2.20"), pool("old", 2*time.Hour, "192.0.2.0/28")},
		want:  map[string]string{"old": "", "young": v1beta1.ReasonOverlap},
	}, {
		name:  "same age: the first name wins",
		pools: []v1beta1.IPAddressPool{pool("b", time.Hour, "2001:db8::/64"), pool("a", time.Hour, "2001:db8::5")},
		want:  map[string]string{"a": "", "b": v1beta1.ReasonOverlap},
	}, {
		name:  "a broken pool does not overlap anything and breaks nothing",
		pools: []v1beta1.IPAddressPool{pool("bad", 2*time.Hour, "198.51.100.20-198.51.100.10"), pool("good", time.Hour, "198.51.100.0/24")},
		want:  map[string]string{"bad": v1beta1.ReasonInvalidAddress, "good": ""},
	}, {
		name:  "entries of one pool must not overlap each other",
		pools: []v1beta1.IPAddressPool{pool("self", time.Hour, "203.0.113.0/28", "203.0.113.4")},
		want:  map[string]string{"self": v1beta1.ReasonInvalidAddress},
	}, {
		name:  "garbage, bad prefix length and mixed families are refused",
		pools: []v1beta1.IPAddressPool{pool("g", 3*time.Hour, "not-an-ip"), pool("p", 2*time.Hour, "192.0.2.0/33"), pool("m", time.Hour, "192.0.2.1-2001:db8::1")},
		want:  map[string]string{"g": v1beta1.ReasonInvalidAddress, "p": v1beta1.ReasonInvalidAddress, "m": v1beta1.ReasonInvalidAddress},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for name, v := range Validate(tc.pools) {
				got[name] = v.Reason
				if !v.Valid() && v.Message == "" {
					t.Errorf("pool %s refused without a message", name)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateMessageNamesTheEntry(t *testing.T) {
	v := Validate([]v1beta1.IPAddressPool{pool("p", time.Hour, "192.0.2.0/28", "198.51.100.20-198.51.100.10")})["p"]
	if want := "spec.addresses[1]"; !strings.Contains(v.Message, want) {
		t.Errorf("message %q does not name %s", v.Message, want)
	}
	v = Validate([]v1beta1.IPAddressPool{pool("old", 2*time.Hour, "192.0.2.0/24"), pool("new", time.Hour, "192.0.2.128/25")})["new"]
	if !strings.Contains(v.Message, `pool "old"`) {
		t.Errorf("overlap message %q does not name the other pool", v.Message)
	}
}

func TestTranslate(t *testing.T) {
	prio := int32(5)
	no := false
	p := pool("p", time.Hour, "192.0.2.0/30")
	p.Spec.AutoAssign = &no
	p.Spec.AvoidBuggyIPs = true
	p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
		Priority:           &prio,
		Namespaces:         []string{"team-a"},
		ServiceSelectors:   []metav1.LabelSelector{{MatchLabels: map[string]string{"exposure": "public"}}},
		NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "prod"}}},
	}
	got, reason, err := Translate(&p)
	if err != nil {
		t.Fatalf("Translate: %s: %v", reason, err)
	}
	if got.AutoAssign || !got.AvoidBuggyIPs || *got.Priority != 5 || got.Closed {
		t.Errorf("flags not carried over: %+v", got)
	}
	if len(got.ServiceSelectors) != 1 || got.ServiceSelectors[0].String() != "exposure=public" {
		t.Errorf("service selectors = %v", got.ServiceSelectors)
	}
	if len(got.NamespaceSelectors) != 1 || got.NamespaceSelectors[0].String() != "tier=prod" {
		t.Errorf("namespace selectors = %v", got.NamespaceSelectors)
	}

	p.Spec.ServiceAllocation.ServiceSelectors = []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}}}
	if _, reason, err := Translate(&p); err == nil || reason != v1beta1.ReasonInvalidSelector {
		t.Errorf("bad selector: reason %q, err %v; want %s", reason, err, v1beta1.ReasonInvalidSelector)
	}
}

func TestValidateKeepsLastValidSpecOfBrokenPool(t *testing.T) {
	last, _, err := Translate(ptr(pool("edited", 2*time.Hour, "192.0.2.0/28")))
	if err != nil {
		t.Fatal(err)
	}
	lastValid := func(p *v1beta1.IPAddressPool) (allocator.Pool, bool) { return last, p.Name == "edited" }

	broken := pool("edited", 2*time.Hour, "192.0.2.0/33")
	v := ValidateKeeping([]v1beta1.IPAddressPool{broken}, nil, lastValid)["edited"]
	if v.Valid() || v.Reason != v1beta1.ReasonInvalidAddress {
		t.Fatalf("verdict %+v; want InvalidAddress", v)
	}
	if v.Kept == nil || !v.Kept.Closed || len(v.Kept.Ranges) != 1 || v.Kept.Ranges[0].String() != "192.0.2.0/28" {
		t.Fatalf("Kept = %+v; want the last valid spec, closed", v.Kept)
	}

	// The kept spec still counts for overlaps: a newcomer cannot take it.
	newcomer := pool("newcomer", time.Hour, "192.0.2.8/29")
	if v := ValidateKeeping([]v1beta1.IPAddressPool{broken, newcomer}, nil, lastValid)["newcomer"]; v.Reason != v1beta1.ReasonOverlap {
		t.Errorf("newcomer overlapping a kept spec: reason %q, want %s", v.Reason, v1beta1.ReasonOverlap)
	}
	// Without memory (a fresh start), nothing is kept.
	if v := ValidateKeeping([]v1beta1.IPAddressPool{broken}, nil, nil)["edited"]; v.Kept != nil {
		t.Errorf("Kept without memory = %+v", v.Kept)
	}
}

func ptr[T any](v T) *T { return &v }

// A pool entry touching a special block (here the IPv4-mapped addresses,
// which the allocator would confuse with IPv4) makes its pool invalid with
// the message admission gives, and leaves every other pool alone.
func TestValidateRefusesSpecialAddresses(t *testing.T) {
	got := Validate([]v1beta1.IPAddressPool{
		pool("lan", 2*time.Hour, "192.0.2.0/28"),
		pool("mapped", time.Hour, "2001:db8:5::/64", "::fffe:ffff:ffff-::1:0:0:0"),
		pool("loopback", time.Hour, "127.0.0.0/30"),
	})
	if v := got["lan"]; !v.Valid() {
		t.Errorf("lan: %s: %s; want valid", v.Reason, v.Message)
	}
	for name, want := range map[string]string{
		"mapped":   `spec.addresses[1]: Invalid value: "::fffe:ffff:ffff-::1:0:0:0": includes IPv4-mapped IPv6 addresses (::ffff:0.0.0.0/96), which stand for IPv4 addresses; list IPv4 addresses as IPv4`,
		"loopback": `spec.addresses[0]: Invalid value: "127.0.0.0/30": includes loopback addresses (127.0.0.0/8), which cannot be a Service's external IP`,
	} {
		if v := got[name]; v.Reason != v1beta1.ReasonInvalidAddress || v.Message != want {
			t.Errorf("%s: %s: %s\nwant %s: %s", name, v.Reason, v.Message, v1beta1.ReasonInvalidAddress, want)
		}
	}
}

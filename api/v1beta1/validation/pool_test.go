package validation_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

func messages(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func pool(name string, addrs ...string) v1beta1.IPAddressPool {
	return v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
}

func TestValidatePool(t *testing.T) {
	others := []v1beta1.IPAddressPool{
		pool("lan", "192.0.2.0/28", "2001:db8:1::/64"),
		pool("broken", "not-an-address"),
	}
	badSelector := pool("sel", "203.0.113.0/29")
	badSelector.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
		ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"bad key!": "x"}}},
	}
	tests := []struct {
		name   string
		pool   v1beta1.IPAddressPool
		others []v1beta1.IPAddressPool
		want   []string
	}{
		{
			name: "valid mixed families",
			pool: pool("new", "198.51.100.0/28", "198.51.100.20-198.51.100.30", "2001:db8:2::/64", "203.0.113.7"),
			want: nil,
		},
		{
			name: "reversed range",
			pool: pool("new", "203.0.113.0/29", "198.51.100.20-198.51.100.10"),
			want: []string{`spec.addresses[1]: Invalid value: "198.51.100.20-198.51.100.10": range is reversed: 198.51.100.20 comes after 198.51.100.10`},
		},
		{
			name: "range across families",
			pool: pool("new", "198.51.100.1-2001:db8::1"),
			want: []string{`spec.addresses[0]: Invalid value: "198.51.100.1-2001:db8::1": range mixes IPv4 and IPv6 addresses`},
		},
		{
			name: "not a CIDR",
			pool: pool("new", "198.51.100.0/33"),
			want: []string{`spec.addresses[0]: Invalid value: "198.51.100.0/33": not a valid CIDR`},
		},
		{
			name: "host bits set",
			pool: pool("new", "198.51.100.1/24"),
			want: []string{`spec.addresses[0]: Invalid value: "198.51.100.1/24": host bits are set; the CIDR is 198.51.100.0/24`},
		},
		{
			name: "overlaps another pool",
			pool: pool("new", "198.51.100.0/28", "192.0.2.8-192.0.2.20"),
			want: []string{`spec.addresses[1]: Invalid value: "192.0.2.8-192.0.2.20": overlaps "192.0.2.0/28" of IPAddressPool "lan": an address may belong to one pool only`},
		},
		{
			name: "overlaps another pool in IPv6",
			pool: pool("new", "2001:db8:1::8000/120"),
			want: []string{`spec.addresses[0]: Invalid value: "2001:db8:1::8000/120": overlaps "2001:db8:1::/64" of IPAddressPool "lan": an address may belong to one pool only`},
		},
		{
			name: "an update of the pool itself does not overlap with its stored self",
			pool: pool("lan", "192.0.2.0/27", "2001:db8:1::/64"),
			want: nil,
		},
		{
			name: "overlap inside the pool",
			pool: pool("new", "203.0.113.0/28", "203.0.113.15"),
			want: []string{`spec.addresses[1]: Invalid value: "203.0.113.15": overlaps spec.addresses[0] ("203.0.113.0/28") of the same pool`},
		},
		{
			name: "same numbers in another family do not overlap",
			pool: pool("new", "::c000:200/124"),
			want: nil,
		},
		{
			name: "bad label selector",
			pool: badSelector,
			want: []string{`spec.serviceAllocation.serviceSelectors[0]: Invalid value: "&LabelSelector{MatchLabels:map[string]string{bad key!: x,},MatchExpressions:[]LabelSelectorRequirement{},}": key: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		},
		{
			name: "empty",
			pool: pool("new"),
			want: []string{`spec.addresses: Required value: a pool needs at least one CIDR or range`},
		},
		{
			name: "IPv6 range across the IPv4-mapped block",
			pool: pool("new", "2001:db8:5::/64", "::fffe:ffff:ffff-::1:0:0:0"),
			want: []string{`spec.addresses[1]: Invalid value: "::fffe:ffff:ffff-::1:0:0:0": includes IPv4-mapped IPv6 addresses (::ffff:0.0.0.0/96), which stand for IPv4 addresses; list IPv4 addresses as IPv4`},
		},
		{
			name: "loopback, link-local and multicast",
			pool: pool("new", "203.0.113.0/29", "127.0.0.0/30", "169.254.10.0/24", "fe80::/64", "224.0.0.0/28", "ff02::/120"),
			want: []string{
				`spec.addresses[1]: Invalid value: "127.0.0.0/30": includes loopback addresses (127.0.0.0/8), which cannot be a Service's external IP`,
				`spec.addresses[2]: Invalid value: "169.254.10.0/24": includes link-local addresses (169.254.0.0/16), which cannot be a Service's external IP`,
				`spec.addresses[3]: Invalid value: "fe80::/64": includes link-local addresses (fe80::/10), which cannot be a Service's external IP`,
				`spec.addresses[4]: Invalid value: "224.0.0.0/28": includes multicast addresses (224.0.0.0/4), which cannot be a Service's external IP`,
				`spec.addresses[5]: Invalid value: "ff02::/120": includes multicast addresses (ff00::/8), which cannot be a Service's external IP`,
			},
		},
		{
			name: "unspecified and broadcast",
			pool: pool("new", "0.0.0.0/32", "::/128", "::1/128", "255.255.255.0-255.255.255.255"),
			want: []string{
				`spec.addresses[0]: Invalid value: "0.0.0.0/32": includes the unspecified address 0.0.0.0, which cannot be a Service's external IP`,
				`spec.addresses[1]: Invalid value: "::/128": includes the unspecified address ::, which cannot be a Service's external IP`,
				`spec.addresses[2]: Invalid value: "::1/128": includes the loopback address ::1, which cannot be a Service's external IP`,
				`spec.addresses[3]: Invalid value: "255.255.255.0-255.255.255.255": includes the broadcast address 255.255.255.255, which cannot be a Service's external IP`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validation.ValidatePool(&tt.pool, others))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidatePool (-want +got):\n%s", diff)
			}
		})
	}
}

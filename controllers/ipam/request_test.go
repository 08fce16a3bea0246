package ipam

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/controllers/allocator"
)

func svc(mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", Labels: map[string]string{"exposure": "public"}},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeLoadBalancer,
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Selector:   map[string]string{"app": "web"},
			Ports:      []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}},
		},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func TestRequestFor(t *testing.T) {
	local := "app=web"
	dual := corev1.IPFamilyPolicyRequireDualStack
	tests := []struct {
		name    string
		svc     *corev1.Service
		want    Request
		invalid bool
	}{{
		name: "plain Service",
		svc:  svc(nil),
		want: Request{Request: allocator.Request{Families: []allocator.Family{allocator.IPv4}, Policy: allocator.SingleStack}},
	}, {
		name: "annotations: pool, sharing key, two exact IPs",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{
				"ironlb.io/address-pool":    "lan",
				"ironlb.io/allow-shared-ip": "key-1",
				"ironlb.io/loadBalancerIPs": "192.0.2.5, 2001:db8::5",
			}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
			s.Spec.IPFamilyPolicy = &dual
		}),
		want: Request{Request: allocator.Request{
			Families: []allocator.Family{allocator.IPv4, allocator.IPv6}, Policy: allocator.RequireDualStack,
			Pool: "lan", SharingKey: "key-1",
			IPs: []netip.Addr{netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("2001:db8::5")},
		}},
	}, {
		name: "MetalLB aliases are read and reported",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"metallb.universe.tf/address-pool": "lan", "metallb.io/loadBalancerIPs": "192.0.2.9"}
		}),
		want: Request{
			Request: allocator.Request{Families: []allocator.Family{allocator.IPv4}, Pool: "lan", IPs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}},
			Aliases: []string{"metallb.universe.tf/address-pool -> ironlb.io/address-pool", "metallb.io/loadBalancerIPs -> ironlb.io/loadBalancerIPs"},
		},
	}, {
		name: "the IronLB annotation wins over its alias",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/address-pool": "mine", "metallb.io/address-pool": "theirs"}
		}),
		want: Request{Request: allocator.Request{Families: []allocator.Family{allocator.IPv4}, Pool: "mine"}},
	}, {
		name: "spec.loadBalancerIP",
		svc:  svc(func(s *corev1.Service) { s.Spec.LoadBalancerIP = "203.0.113.7" }),
		want: Request{Request: allocator.Request{Families: []allocator.Family{allocator.IPv4}, IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}}},
	}, {
		name: "spec.loadBalancerIP agreeing with the annotation",
		svc: svc(func(s *corev1.Service) {
			s.Spec.LoadBalancerIP = "203.0.113.7"
			s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "203.0.113.7"}
		}),
		want: Request{Request: allocator.Request{Families: []allocator.Family{allocator.IPv4}, IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}}},
	}, {
		name: "Local policy carries the pod selector",
		svc:  svc(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
		want: Request{Request: allocator.Request{Families: []allocator.Family{allocator.IPv4}, LocalSelector: &local}},
	}, {
		name: "spec.loadBalancerIP disagreeing with the annotation",
		svc: svc(func(s *corev1.Service) {
			s.Spec.LoadBalancerIP = "203.0.113.7"
			s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "203.0.113.8"}
		}),
		invalid: true,
	}, {
		name: "unparseable annotation",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "203.0.113.300"}
		}),
		invalid: true,
	}, {
		name:    "unparseable spec.loadBalancerIP",
		svc:     svc(func(s *corev1.Service) { s.Spec.LoadBalancerIP = "web.example" }),
		invalid: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RequestFor(tc.svc, map[string]string{"tier": "prod"}, nil)
			if tc.invalid {
				if !errors.Is(err, allocator.ErrInvalidRequest) {
					t.Fatalf("err = %v, want an InvalidRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Fields every row shares are checked once here.
			if got.Service != "team-a/web" || got.Namespace != "team-a" || got.NamespaceLabels["tier"] != "prod" || got.Labels["exposure"] != "public" {
				t.Errorf("identity fields wrong: %+v", got.Request)
			}
			wantPorts := []allocator.Port{{Protocol: "TCP", Port: 80}, {Protocol: "UDP", Port: 53}}
			if diff := cmp.Diff(wantPorts, got.Ports); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
			got.Service, got.Namespace, got.Labels, got.NamespaceLabels, got.Ports = "", "", nil, nil, nil
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
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
		invalid string // when set, an InvalidRequest whose message contains it
	}{{
		name: "plain Service",
		svc:  svc(nil),
		want: Request{Request: allocator.Request{Families: []iprange.Family{iprange.IPv4}, Policy: allocator.SingleStack}},
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
			Families: []iprange.Family{iprange.IPv4, iprange.IPv6}, Policy: allocator.RequireDualStack,
			Pool: "lan", SharingKey: "key-1",
			IPs: []netip.Addr{netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("2001:db8::5")},
		}},
	}, {
		name: "MetalLB aliases are read and reported",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"metallb.universe.tf/address-pool": "lan", "metallb.io/loadBalancerIPs": "192.0.2.9"}
		}),
		want: Request{
			Request: allocator.Request{Families: []iprange.Family{iprange.IPv4}, Pool: "lan", IPs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}},
			Aliases: []string{"metallb.universe.tf/address-pool -> ironlb.io/address-pool", "metallb.io/loadBalancerIPs -> ironlb.io/loadBalancerIPs"},
		},
	}, {
		name: "the IronLB annotation wins over its alias",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/address-pool": "mine", "metallb.io/address-pool": "theirs"}
		}),
		want: Request{Request: allocator.Request{Families: []iprange.Family{iprange.IPv4}, Pool: "mine"}},
	}, {
		name: "spec.loadBalancerIP",
		svc:  svc(func(s *corev1.Service) { s.Spec.LoadBalancerIP = "203.0.113.7" }),
		want: Request{Request: allocator.Request{Families: []iprange.Family{iprange.IPv4}, IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}}},
	}, {
		name: "spec.loadBalancerIP agreeing with the annotation",
		svc: svc(func(s *corev1.Service) {
			s.Spec.LoadBalancerIP = "203.0.113.7"
			s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "203.0.113.7"}
		}),
		want: Request{Request: allocator.Request{Families: []iprange.Family{iprange.IPv4}, IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}}},
	}, {
		name: "Local policy carries the pod selector",
		svc:  svc(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
		want: Request{Request: allocator.Request{Families: []iprange.Family{iprange.IPv4}, LocalSelector: &local}},
	}, {
		name: "namespaces consenting to share the key",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{
				"ironlb.io/allow-shared-ip":            "key-1",
				"ironlb.io/allow-shared-ip-namespaces": " team-b, *,, ",
			}
		}),
		want: Request{Request: allocator.Request{
			Families: []iprange.Family{iprange.IPv4}, SharingKey: "key-1", SharingNamespaces: []string{"team-b", "*"},
		}},
	}, {
		name: "namespaces with the MetalLB key alias",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{
				"metallb.io/allow-shared-ip":           "key-1",
				"ironlb.io/allow-shared-ip-namespaces": "team-b",
			}
		}),
		want: Request{
			Request: allocator.Request{Families: []iprange.Family{iprange.IPv4}, SharingKey: "key-1", SharingNamespaces: []string{"team-b"}},
			Aliases: []string{"metallb.io/allow-shared-ip -> ironlb.io/allow-shared-ip"},
		},
	}, {
		name: "namespaces without a sharing key",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/allow-shared-ip-namespaces": "team-b"}
		}),
		invalid: "annotation ironlb.io/allow-shared-ip-namespaces needs ironlb.io/allow-shared-ip",
	}, {
		name: "a namespace that cannot exist",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{
				"ironlb.io/allow-shared-ip":            "key-1",
				"ironlb.io/allow-shared-ip-namespaces": "team-b team-c",
			}
		}),
		invalid: `annotation ironlb.io/allow-shared-ip-namespaces: "team-b team-c" is not a namespace name`,
	}, {
		name: "spec.loadBalancerIP disagreeing with the annotation",
		svc: svc(func(s *corev1.Service) {
			s.Spec.LoadBalancerIP = "203.0.113.7"
			s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "203.0.113.8"}
		}),
		invalid: "disagree",
	}, {
		name: "unparseable annotation",
		svc: svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "203.0.113.300"}
		}),
		invalid: "is not an IP address",
	}, {
		name:    "unparseable spec.loadBalancerIP",
		svc:     svc(func(s *corev1.Service) { s.Spec.LoadBalancerIP = "web.example" }),
		invalid: "is not an IP address",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RequestFor(tc.svc, map[string]string{"tier": "prod"}, nil)
			if tc.invalid != "" {
				if !errors.Is(err, allocator.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.invalid) {
					t.Fatalf("err = %v, want an InvalidRequest mentioning %q", err, tc.invalid)
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

// The allocator names the consent annotation in its messages without
// importing the API package; this keeps the two spellings together, and
// shows the message a Service of another namespace gets.
func TestCrossNamespaceConflictNamesTheAnnotation(t *testing.T) {
	a := allocator.New()
	lan, err := iprange.Parse("192.0.2.0/28")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetPools([]allocator.Pool{{Name: "lan", Ranges: []iprange.Range{lan}, AutoAssign: true}}); err != nil {
		t.Fatal(err)
	}
	assign := func(s *corev1.Service) error {
		t.Helper()
		req, err := RequestFor(s, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Assign(req.Request)
		return err
	}
	if err := assign(svc(func(s *corev1.Service) {
		s.Annotations = map[string]string{v1beta1.AnnotationAllowSharedIP: "k"}
		s.Spec.LoadBalancerIP = "192.0.2.7"
	})); err != nil {
		t.Fatal(err)
	}
	err = assign(svc(func(s *corev1.Service) {
		s.Namespace, s.Name = "team-b", "intruder"
		s.Annotations = map[string]string{v1beta1.AnnotationAllowSharedIP: "k"}
		s.Spec.Ports = []corev1.ServicePort{{Port: 8443, Protocol: corev1.ProtocolTCP}}
		s.Spec.LoadBalancerIP = "192.0.2.7"
	}))
	if !errors.Is(err, allocator.ErrSharingConflict) {
		t.Fatalf("err = %v, want a SharingConflict", err)
	}
	for _, want := range []string{v1beta1.AnnotationAllowSharedIPNamespaces, "team-b/intruder must list team-a", "must list team-b"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
}

// A request refused for its IPs still carries the consent the Service
// gave, and one refused for a malformed consent carries none: the restore
// on start keeps what such a Service shows under exactly those terms.
func TestRequestForConsentOnError(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        []string
	}{{
		name: "malformed IPs, valid consent",
		annotations: map[string]string{
			v1beta1.AnnotationAllowSharedIP: "k", v1beta1.AnnotationAllowSharedIPNamespaces: "team-b",
			v1beta1.AnnotationLoadBalancerIPs: "192.0.2.300",
		},
		want: []string{"team-b"},
	}, {
		name: "malformed consent",
		annotations: map[string]string{
			v1beta1.AnnotationAllowSharedIP: "k", v1beta1.AnnotationAllowSharedIPNamespaces: "team-b, Team_C",
		},
		want: nil,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RequestFor(svc(func(s *corev1.Service) { s.Annotations = tc.annotations }), nil, nil)
			if !errors.Is(err, allocator.ErrInvalidRequest) {
				t.Fatalf("err = %v, want an InvalidRequest", err)
			}
			if diff := cmp.Diff(tc.want, got.SharingNamespaces); diff != "" {
				t.Errorf("SharingNamespaces (-want +got):\n%s", diff)
			}
		})
	}
}

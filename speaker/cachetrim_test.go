package speaker

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// The trimmed objects the cache keeps give the speaker exactly what the
// whole objects give it, and are much smaller.
func TestCacheTrimKeepsWhatTheSpeakerReads(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "7",
			Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{
				v1beta1.AnnotationAllocatedFromPool:                "prod",
				"kubectl.kubernetes.io/last-applied-configuration": string(make([]byte, 4096)),
			}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: ptr.To("ironlb.io/lb"),
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}},
			Selector:              map[string]string{"app": "web"},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}, {IP: "2001:db8::10"}}}},
	}
	node := "node-a"
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-x", Labels: map[string]string{
			discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"192.0.2.50"}, NodeName: &node, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"192.0.2.51"}, NodeName: ptr.To("node-b"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		},
		Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}},
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "n1", Labels: map[string]string{"zone": "a"},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"}},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}, {Type: corev1.NodeInternalIP, Address: "2001:db8::1"}},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse},
			},
			Images: []corev1.ContainerImage{{Names: []string{"registry.example/app:1"}, SizeBytes: 1 << 20}},
		},
	}

	tsvc := mustTrim(t, trimService, svc).(*corev1.Service)
	tes := mustTrim(t, trimEndpointSlice, es).(*discoveryv1.EndpointSlice)
	tn := mustTrim(t, trimNode, n).(*corev1.Node)

	class := v1beta1.ClassFilter{Class: "ironlb.io/lb"}
	if !class.Handles(tsvc) {
		t.Error("the trimmed Service is no longer handled")
	}
	endpoints := readyEndpointNodes([]discoveryv1.EndpointSlice{*es})["ns/web"]
	if diff := cmp.Diff(endpoints, readyEndpointNodes([]discoveryv1.EndpointSlice{*tes})["ns/web"]); diff != "" {
		t.Errorf("ready endpoint nodes (-whole +trimmed):\n%s", diff)
	}
	want, _ := serviceFrom(svc, endpoints)
	got, _ := serviceFrom(tsvc, endpoints)
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("the decision's Service (-whole +trimmed):\n%s", diff)
	}
	if diff := cmp.Diff(nodeFrom(n), nodeFrom(tn)); diff != "" {
		t.Errorf("the decision's Node (-whole +trimmed):\n%s", diff)
	}
	for name, f := range map[string]func(*corev1.Node) (any, bool){
		"InternalIP": func(n *corev1.Node) (any, bool) { return InternalIP(n) },
		"firstIPv4":  func(n *corev1.Node) (any, bool) { return firstIPv4(n) },
		"firstIPv6":  func(n *corev1.Node) (any, bool) { return firstIPv6(n) },
	} {
		w, wok := f(n)
		g, gok := f(tn)
		if w != g || wok != gok {
			t.Errorf("%s: whole %v, trimmed %v", name, w, g)
		}
	}
	if tsvc.UID != svc.UID || tsvc.ResourceVersion != svc.ResourceVersion || tn.UID != n.UID {
		t.Error("Events need the objects' UIDs and resource versions")
	}
	for name, pair := range map[string][2]any{"Service": {svc, tsvc}, "EndpointSlice": {es, tes}, "Node": {n, tn}} {
		if whole, trimmed := size(t, pair[0]), size(t, pair[1]); trimmed >= whole {
			t.Errorf("%s: trimmed to %d of %d bytes", name, trimmed, whole)
		}
	}
	if _, err := trimService("not a Service"); err != nil {
		t.Errorf("another type must pass through: %v", err)
	}
}

func mustTrim(t *testing.T, trim func(any) (any, error), o any) any {
	t.Helper()
	out, err := trim(o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func size(t *testing.T, o any) int {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

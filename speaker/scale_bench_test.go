package speaker

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/iprange"
	v1beta1 "github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// BenchmarkScaleDecision is a speaker's decision at the scale of
// docs/scale.md (1,000 nodes, 50,000 Services with one address and one
// EndpointSlice each, every node a candidate) from the cached objects on:
// the input built as the speaker reads it from the cache, then
// announce.Compute, with each election version. Listing from the informer cache (no copy) and applying
// the result (layer2, BGP, metrics, status) are not included.
func BenchmarkScaleDecision(b *testing.B) {
	const nodes, services = 1000, 50000
	var nodeObjs []corev1.Node
	live := map[string]bool{}
	for i := range nodes {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("worker-%04d", i)}}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		nodeObjs = append(nodeObjs, n)
		live[n.Name] = true
	}
	var svcs []corev1.Service
	var eps []discoveryv1.EndpointSlice
	ip := netip.MustParseAddr("2001:db8::")
	for i := range services {
		ip = ip.Next()
		name := fmt.Sprintf("svc-%05d", i)
		s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name,
			Annotations: map[string]string{v1beta1.AnnotationAllocatedFromPool: "docs"}}}
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
		svcs = append(svcs, s)
		node := nodeObjs[i%nodes].Name
		eps = append(eps, discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name + "-x",
				Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			Endpoints: []discoveryv1.Endpoint{{NodeName: &node}},
		})
	}
	pool := announce.Pool{Name: "docs", Entries: []announce.Entry{{Range: iprange.FromPrefix(netip.MustParsePrefix("2001:db8::/32"))}}}
	for _, v := range []announce.WinnerVersion{announce.WinnerV1, announce.WinnerV2} {
		b.Run(v.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				in := announce.Input{Live: live, Pools: []announce.Pool{pool}, WinnerVersion: v,
					L2Advertisements: []announce.L2Advertisement{{Name: "all"}}}
				for i := range nodeObjs {
					in.Nodes = append(in.Nodes, nodeFrom(&nodeObjs[i]))
				}
				endpoints := readyEndpointNodes(eps)
				for i := range svcs {
					if a, ok := serviceFrom(&svcs[i], endpoints["ns/"+svcs[i].Name]); ok {
						in.Services = append(in.Services, a)
					}
				}
				if res := announce.Compute(in); res.LenL2() != services {
					b.Fatalf("%d of %d addresses announced", res.LenL2(), services)
				}
			}
		})
	}
}

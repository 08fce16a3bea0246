package speaker

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// The speaker caches every Service, EndpointSlice and Node of the cluster
// but reads a few fields of each; the rest (ports, endpoint addresses, node
// images and capacity, kubectl's last-applied annotation) is most of their
// size. These transforms keep only what the speaker reads, so its memory
// follows the number of objects, not their size. The speaker never writes
// these objects back, so nothing is lost by dropping the rest.

// trimService keeps a Service's identity, type, class, traffic policy,
// addresses and IronLB's annotations.
func trimService(o any) (any, error) {
	svc, ok := o.(*corev1.Service)
	if !ok {
		return o, nil
	}
	return &corev1.Service{
		TypeMeta:   svc.TypeMeta,
		ObjectMeta: trimMeta(svc.ObjectMeta, ironlbAnnotations(svc.Annotations)),
		Spec: corev1.ServiceSpec{
			Type:                  svc.Spec.Type,
			LoadBalancerClass:     svc.Spec.LoadBalancerClass,
			ExternalTrafficPolicy: svc.Spec.ExternalTrafficPolicy,
		},
		Status: corev1.ServiceStatus{LoadBalancer: svc.Status.LoadBalancer},
	}, nil
}

// trimEndpointSlice keeps the slice's Service and, per endpoint, its node
// and readiness: which nodes run a ready endpoint is all the speaker asks.
func trimEndpointSlice(o any) (any, error) {
	es, ok := o.(*discoveryv1.EndpointSlice)
	if !ok {
		return o, nil
	}
	out := &discoveryv1.EndpointSlice{TypeMeta: es.TypeMeta, ObjectMeta: trimMeta(es.ObjectMeta, nil), AddressType: es.AddressType}
	if name, ok := es.Labels[discoveryv1.LabelServiceName]; ok {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: name}
	}
	out.Endpoints = make([]discoveryv1.Endpoint, len(es.Endpoints))
	for i, ep := range es.Endpoints {
		out.Endpoints[i] = discoveryv1.Endpoint{NodeName: ep.NodeName, Conditions: discoveryv1.EndpointConditions{Ready: ep.Conditions.Ready}}
	}
	return out, nil
}

// trimNode keeps a Node's labels (node selectors, the exclusion label), its
// addresses (gossip, router ID, next hops) and the conditions eligibility
// reads.
func trimNode(o any) (any, error) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return o, nil
	}
	out := &corev1.Node{TypeMeta: n.TypeMeta, ObjectMeta: trimMeta(n.ObjectMeta, nil)}
	out.Labels = n.Labels
	out.Status.Addresses = n.Status.Addresses
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady || c.Type == corev1.NodeNetworkUnavailable {
			out.Status.Conditions = append(out.Status.Conditions, corev1.NodeCondition{Type: c.Type, Status: c.Status})
		}
	}
	return out, nil
}

// trimMeta keeps what identifies an object (Events name it by UID and
// resource version) and the labels, with the annotations given.
func trimMeta(m metav1.ObjectMeta, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, DeletionTimestamp: m.DeletionTimestamp,
		Labels: m.Labels, Annotations: annotations,
	}
}

// ironlbAnnotations keeps the annotations under IronLB's prefix.
func ironlbAnnotations(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if strings.HasPrefix(k, v1beta1.GroupVersion.Group+"/") {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

var _ toolscache.TransformFunc = trimService

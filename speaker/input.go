package speaker

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// nodeFrom reduces a Node to what eligibility depends on.
func nodeFrom(n *corev1.Node) announce.Node {
	out := announce.Node{Name: n.Name, Labels: n.Labels}
	for _, c := range n.Status.Conditions {
		switch c.Type {
		case corev1.NodeReady:
			out.Ready = c.Status == corev1.ConditionTrue
		case corev1.NodeNetworkUnavailable:
			out.NetworkUnavailable = c.Status == corev1.ConditionTrue
		}
	}
	return out
}

// InternalIP is the node's first InternalIP: the address its speaker gossips
// on and the others join. Every speaker applies the same rule, so the address
// one binds is the address the others dial.
func InternalIP(n *corev1.Node) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			return ip.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// firstIPv4 is the node's first IPv4 InternalIP, the default BGP router ID.
func firstIPv4(n *corev1.Node) (netip.Addr, bool) { return firstInternal(n, netip.Addr.Is4) }

// firstIPv6 is the node's first IPv6 InternalIP: the IPv6 next hop.
func firstIPv6(n *corev1.Node) (netip.Addr, bool) { return firstInternal(n, netip.Addr.Is6) }

func firstInternal(n *corev1.Node, family func(netip.Addr) bool) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && family(ip.Unmap()) {
			return ip.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// serviceFrom reduces a handled Service to its addresses and policy.
// endpointNodes are the nodes with a ready endpoint of it.
func serviceFrom(svc *corev1.Service, endpointNodes []string) (announce.Service, bool) {
	out := announce.Service{
		Key:   svc.Namespace + "/" + svc.Name,
		Pool:  svc.Annotations[v1beta1.AnnotationAllocatedFromPool],
		Local: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(ing.IP); err == nil {
			out.IPs = append(out.IPs, ip.Unmap())
		}
	}
	if out.Local {
		out.EndpointNodes = endpointNodes
	}
	return out, len(out.IPs) > 0
}

// readyEndpointNodes groups, by "namespace/service", the nodes that run at
// least one ready endpoint. A nil Ready condition means ready (the
// EndpointSlice API's rule for consumers).
func readyEndpointNodes(eps []discoveryv1.EndpointSlice) map[string][]string {
	sets := map[string]map[string]bool{}
	for i := range eps {
		s := &eps[i]
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		key := s.Namespace + "/" + svc
		for _, ep := range s.Endpoints {
			if ep.NodeName == nil || *ep.NodeName == "" {
				continue
			}
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if sets[key] == nil {
				sets[key] = map[string]bool{}
			}
			sets[key][*ep.NodeName] = true
		}
	}
	out := make(map[string][]string, len(sets))
	for key, set := range sets {
		nodes := make([]string, 0, len(set))
		for n := range set {
			nodes = append(nodes, n)
		}
		slices.Sort(nodes)
		out[key] = nodes
	}
	return out
}

// poolFrom parses a pool's addresses and readiness. Entries that do not
// parse are left out: the controller marks such a pool not Ready and
// admission rejects them, so they hold no assigned address.
func poolFrom(p *v1beta1.IPAddressPool) announce.Pool {
	out := announce.Pool{Name: p.Name, Labels: p.Labels, NotReady: !poolReady(p)}
	for _, a := range p.Spec.Addresses {
		r, err := iprange.Parse(a)
		if err != nil {
			continue
		}
		out.Entries = append(out.Entries, announce.Entry{Range: r, Text: a})
	}
	return out
}

// poolReady reports whether the controller lets the pool hold addresses:
// its Ready condition is True, or it is False only because deletion waits
// for the Services still using it (they keep their addresses until moved).
// A pool that is invalid, overlaps an older one or was not validated yet
// hands out nothing and must not claim addresses (announce.Pool.NotReady).
func poolReady(p *v1beta1.IPAddressPool) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionReady)
	return c != nil && (c.Status == metav1.ConditionTrue || c.Reason == v1beta1.ReasonPoolDeleting)
}

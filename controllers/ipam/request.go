package ipam

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
)

// Request is what a Service asks of the allocator, plus the MetalLB aliases
// it used, so the caller can warn about them.
type Request struct {
	allocator.Request
	// Aliases lists "metallb.io/x -> ironlb.io/x" for every MetalLB annotation
	// read in place of ours.
	Aliases []string
}

// RequestFor reads a Service's spec and annotations into an allocator
// request. current are the IPs the Service shows in its status today. An
// error is an InvalidRequest: the Service asks for something malformed.
func RequestFor(svc *corev1.Service, nsLabels map[string]string, current []netip.Addr) (Request, error) {
	r := Request{Request: allocator.Request{
		Service:         svc.Namespace + "/" + svc.Name,
		Namespace:       svc.Namespace,
		Labels:          svc.Labels,
		NamespaceLabels: nsLabels,
		Families:        families(svc),
		Policy:          policy(svc),
		Current:         current,
		Ports:           ports(svc),
	}}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		sel := labels.SelectorFromSet(svc.Spec.Selector).String()
		r.LocalSelector = &sel
	}
	r.Pool = r.annotation(svc, v1beta1.AnnotationAddressPool)
	r.SharingKey = r.annotation(svc, v1beta1.AnnotationAllowSharedIP)
	// A request returned with an error still keeps what the Service shows
	// (see IPAM.restoreOne): with the consent it gave, but none when the
	// consent itself is malformed.
	consent, consentErr := sharingNamespaces(svc, r.SharingKey)
	r.SharingNamespaces = consent

	ips, err := requestedIPs(svc, r.annotation(svc, v1beta1.AnnotationLoadBalancerIPs))
	if err != nil {
		return r, allocatorError(v1beta1.ReasonInvalidRequest, err)
	}
	r.IPs = ips
	if consentErr != nil {
		return r, allocatorError(v1beta1.ReasonInvalidRequest, consentErr)
	}
	return r, nil
}

// sharingNamespaces reads ironlb.io/allow-shared-ip-namespaces, "ns[,ns]" or
// "*". It has no MetalLB alias: MetalLB shares a key across namespaces
// without asking. Empty entries (a trailing comma) are skipped; a name no
// namespace can have is an error rather than a consent that silently never
// matches.
func sharingNamespaces(svc *corev1.Service, key string) ([]string, error) {
	const name = v1beta1.AnnotationAllowSharedIPNamespaces
	value := strings.TrimSpace(svc.Annotations[name])
	if value == "" {
		return nil, nil
	}
	if key == "" {
		return nil, fmt.Errorf("annotation %s needs %s: it lets other namespaces share the Service's sharing key, and the Service has none",
			name, v1beta1.AnnotationAllowSharedIP)
	}
	var out []string
	for _, s := range strings.Split(value, ",") {
		ns := strings.TrimSpace(s)
		switch {
		case ns == "":
			continue
		case ns != "*" && len(validation.IsDNS1123Label(ns)) > 0:
			return nil, fmt.Errorf("annotation %s: %q is not a namespace name; list namespaces separated by commas, or *", name, ns)
		}
		out = append(out, ns)
	}
	return out, nil
}

// annotation reads an IronLB annotation, falling back to its MetalLB aliases.
func (r *Request) annotation(svc *corev1.Service, key string) string {
	if v, ok := svc.Annotations[key]; ok {
		return strings.TrimSpace(v)
	}
	for _, alias := range v1beta1.MetalLBAliases[key] {
		if v, ok := svc.Annotations[alias]; ok {
			r.Aliases = append(r.Aliases, alias+" -> "+key)
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func requestedIPs(svc *corev1.Service, annotated string) ([]netip.Addr, error) {
	var ips []netip.Addr
	if annotated != "" {
		for _, s := range strings.Split(annotated, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("annotation %s: %q is not an IP address", v1beta1.AnnotationLoadBalancerIPs, s)
			}
			ips = append(ips, ip.Unmap())
		}
	}
	spec := strings.TrimSpace(svc.Spec.LoadBalancerIP)
	if spec == "" {
		return ips, nil
	}
	ip, err := netip.ParseAddr(spec)
	if err != nil {
		return nil, fmt.Errorf("spec.loadBalancerIP: %q is not an IP address", spec)
	}
	ip = ip.Unmap()
	if len(ips) == 0 {
		return []netip.Addr{ip}, nil
	}
	for _, a := range ips {
		if a == ip {
			return ips, nil
		}
	}
	return nil, fmt.Errorf("spec.loadBalancerIP %s and annotation %s %q disagree; set only one",
		ip, v1beta1.AnnotationLoadBalancerIPs, annotated)
}

func families(svc *corev1.Service) []iprange.Family {
	var out []iprange.Family
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			out = append(out, iprange.IPv4)
		case corev1.IPv6Protocol:
			out = append(out, iprange.IPv6)
		}
	}
	if len(out) == 0 {
		// The API server always fills spec.ipFamilies; an old object might not.
		out = []iprange.Family{iprange.IPv4}
	}
	return out
}

func policy(svc *corev1.Service) allocator.FamilyPolicy {
	if svc.Spec.IPFamilyPolicy == nil {
		return allocator.SingleStack
	}
	switch *svc.Spec.IPFamilyPolicy {
	case corev1.IPFamilyPolicyPreferDualStack:
		return allocator.PreferDualStack
	case corev1.IPFamilyPolicyRequireDualStack:
		return allocator.RequireDualStack
	default:
		return allocator.SingleStack
	}
}

func ports(svc *corev1.Service) []allocator.Port {
	out := make([]allocator.Port, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		out = append(out, allocator.Port{Protocol: proto, Port: p.Port})
	}
	return out
}

// IngressIPs returns the IPs a Service's status shows, ignoring hostnames and
// anything unparseable.
func IngressIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

func allocatorError(reason string, err error) error {
	return &allocator.Error{Reason: reason, Message: err.Error()}
}

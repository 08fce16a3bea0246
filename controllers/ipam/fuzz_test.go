package ipam

import (
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
)

// FuzzRequestFor builds a Service from fuzzed annotation values and spec
// fields and checks RequestFor against an oracle written from README "What a
// Service can ask for" and the doc comments of RequestFor and
// sharingNamespaces:
//
//   - it never panics, and every error is an *allocator.Error with reason
//     InvalidRequest (errors.Is matches ErrInvalidRequest and no other
//     sentinel);
//   - it fails exactly when loadBalancerIPs holds an entry that is no IP
//     address, spec.loadBalancerIP is no IP address or is not among the
//     annotation's IPs, or allow-shared-ip-namespaces is set without a
//     sharing key or lists something that is neither a namespace name
//     (DNS-1123 label) nor "*";
//   - the IPs it accepts are those of the annotation (else of
//     spec.loadBalancerIP), in order, unmapped, each a valid address whose
//     String parses back to it; consent is the trimmed non-empty entries,
//     kept beside an IP error and dropped on a consent error;
//   - address-pool and allow-shared-ip are the trimmed values, an IronLB
//     annotation wins over metallb.io, which wins over metallb.universe.tf,
//     and Aliases names exactly the aliases read;
//   - identity, families (unknown ones dropped, IPv4 when none), policy,
//     ports (TCP when unset) and the Local selector follow the spec;
//   - the allocator, given an accepted request, never panics, fails only
//     with a known reason, and grants requested IPs exactly.
func FuzzRequestFor(f *testing.F) {
	// place: 3 bits per aliasable annotation (loadBalancerIPs, address-pool,
	// allow-shared-ip), set bits naming where it is written (1 ironlb.io, 2
	// metallb.io, 4 metallb.universe.tf); bit 9 sets the consent annotation.
	// shape: families (bits 0-2), policy (bits 3-5), Local (bit 6), ports
	// without a protocol (bit 7).
	const ours, consentBit = 1, 1 << 9
	seeds := []struct {
		lbIPs, specIP, key, consent, pool string
		place                             uint16
		shape                             uint8
	}{
		{"192.0.2.5", "", "", "", "", ours, 1},
		{"192.0.2.5, 2001:db8::5", "", "key-1", "", "lan", ours | ours<<3 | ours<<6, 3 | 3<<3},
		{"192.0.2.9", "", "", "", "lan", 2 | 4<<3, 1},
		{"", "203.0.113.7", "", "", "", 0, 1},
		{"203.0.113.7", "203.0.113.7", "", "", "", ours, 1},
		{"203.0.113.8", "203.0.113.7", "", "", "", ours, 1},
		{"203.0.113.300", "", "", "", "", ours, 1},
		{"", "web.example", "", "", "", 0, 1},
		{"", "", "key-1", " team-b, *,, ", "", ours<<6 | consentBit, 1},
		{"", "", "key-1", "team-b", "", 2<<6 | consentBit, 1},
		{"", "", "", "team-b", "", consentBit, 1},
		{"", "", "k", "team-b team-c", "", ours<<6 | consentBit, 1},
		{"", "", "k", "team-b, Team_C", "", ours<<6 | consentBit, 1},
		{"192.0.2.300", "", "k", "team-b", "", ours | ours<<6 | consentBit, 1},
		{"::ffff:192.0.2.9", "192.0.2.9", "", "", "", ours, 1},
		{"fe80::1%eth0", "", "", "", "", ours, 2},
		{"192.0.2.5,", "", "", "", "", ours, 1},
		{"192.0.2.5,192.0.2.5", "", "", "", "", ours, 1},
		{" ", " ", " ", " ", " ", 7 | 7<<3 | 7<<6 | consentBit, 4 | 2<<3 | 1<<6},
		{"", "", "", "", "", 0, 5 | 4<<3},
		{"2001:db8::5", "", "k", "*", "mine", 3 | 6<<3 | 5<<6 | consentBit, 2 | 1<<6 | 1<<7},
		{"", "", "", "", "", 0, 7 | 2<<3},
		{"", "", "", "", "", 0, 6 | 1<<3},
	}
	for _, s := range seeds {
		f.Add(s.lbIPs, s.specIP, s.key, s.consent, s.pool, s.place, s.shape)
	}
	f.Fuzz(func(t *testing.T, lbIPs, specIP, key, consent, pool string, place uint16, shape uint8) {
		svc := fzService(specIP, shape)
		var wantAliases []string
		// RequestFor reads the pool, then the key, then the IPs.
		want := map[string]string{}
		for _, a := range []struct {
			name  string
			value string
			mask  uint16
		}{
			{v1beta1.AnnotationAddressPool, pool, place >> 3 & 7},
			{v1beta1.AnnotationAllowSharedIP, key, place >> 6 & 7},
			{v1beta1.AnnotationLoadBalancerIPs, lbIPs, place & 7},
		} {
			keys := append([]string{a.name}, v1beta1.MetalLBAliases[a.name]...)
			won := false
			for i, k := range keys {
				if a.mask&(1<<i) == 0 {
					continue
				}
				if won {
					svc.Annotations[k] = "!decoy!" // shadowed: never read
					continue
				}
				won = true
				svc.Annotations[k] = a.value
				want[a.name] = strings.TrimSpace(a.value)
				if i > 0 {
					wantAliases = append(wantAliases, k+" -> "+a.name)
				}
			}
		}
		if place&consentBit != 0 {
			svc.Annotations[v1beta1.AnnotationAllowSharedIPNamespaces] = consent
		} else {
			consent = ""
		}

		req, err := RequestFor(svc, map[string]string{"tier": "prod"}, nil)

		// Typed errors only.
		if err != nil {
			var ae *allocator.Error
			if !errors.As(err, &ae) || ae.Reason != v1beta1.ReasonInvalidRequest || ae.Message == "" ||
				!errors.Is(err, allocator.ErrInvalidRequest) || allocator.ReasonOf(err) != v1beta1.ReasonInvalidRequest {
				t.Fatalf("error %T %q is not an InvalidRequest *allocator.Error", err, err)
			}
			for _, other := range []error{allocator.ErrNoMatchingPool, allocator.ErrPoolExhausted, allocator.ErrIPUnavailable, allocator.ErrSharingConflict, allocator.ErrNoNew} {
				if errors.Is(err, other) {
					t.Fatalf("error %q also matches %v", err, other)
				}
			}
		}

		// The oracle.
		wantIPs, ipsOK := fzExpectIPs(want[v1beta1.AnnotationLoadBalancerIPs], specIP)
		wantNS, nsOK := fzExpectConsent(consent, want[v1beta1.AnnotationAllowSharedIP])
		if (err == nil) != (ipsOK && nsOK) {
			t.Fatalf("RequestFor: err = %v; want an error: IPs %v, consent %v (annotations %q, loadBalancerIP %q)",
				err, !ipsOK, !nsOK, svc.Annotations, svc.Spec.LoadBalancerIP)
		}

		// Fields read whatever the outcome.
		switch {
		case req.Service != svc.Namespace+"/"+svc.Name || req.Namespace != svc.Namespace:
			t.Fatalf("identity %q, %q", req.Service, req.Namespace)
		case req.Pool != want[v1beta1.AnnotationAddressPool]:
			t.Fatalf("Pool = %q, want %q", req.Pool, want[v1beta1.AnnotationAddressPool])
		case req.SharingKey != want[v1beta1.AnnotationAllowSharedIP]:
			t.Fatalf("SharingKey = %q, want %q", req.SharingKey, want[v1beta1.AnnotationAllowSharedIP])
		case !slices.Equal(req.Aliases, wantAliases):
			t.Fatalf("Aliases = %q, want %q", req.Aliases, wantAliases)
		case !slices.Equal(req.Families, fzExpectFamilies(shape)):
			t.Fatalf("Families = %v, want %v for %v", req.Families, fzExpectFamilies(shape), svc.Spec.IPFamilies)
		case req.Policy != fzExpectPolicy(shape):
			t.Fatalf("Policy = %v, want %v", req.Policy, fzExpectPolicy(shape))
		case req.Labels["exposure"] != "public" || req.NamespaceLabels["tier"] != "prod":
			t.Fatalf("labels not carried: %v, %v", req.Labels, req.NamespaceLabels)
		}
		fzCheckPortsAndLocal(t, svc, &req.Request)
		if nsOK {
			if !slices.Equal(req.SharingNamespaces, wantNS) {
				t.Fatalf("SharingNamespaces = %q, want %q", req.SharingNamespaces, wantNS)
			}
		} else if req.SharingNamespaces != nil {
			t.Fatalf("malformed consent %q, yet SharingNamespaces = %q", consent, req.SharingNamespaces)
		}
		if err != nil {
			return
		}

		if !slices.Equal(req.IPs, wantIPs) {
			t.Fatalf("IPs = %v, want %v", req.IPs, wantIPs)
		}
		zoned := false
		for _, ip := range req.IPs {
			if !ip.IsValid() || ip.Is4In6() {
				t.Fatalf("accepted IP %v is invalid or IPv4-mapped", ip)
			}
			if back, err := netip.ParseAddr(ip.String()); err != nil || back != ip {
				t.Fatalf("accepted IP %v prints as %q, which parses to %v, %v", ip, ip.String(), back, err)
			}
			zoned = zoned || ip.Zone() != ""
		}
		if len(req.SharingNamespaces) > 0 && req.SharingKey == "" {
			t.Fatalf("consent %q without a sharing key was accepted", req.SharingNamespaces)
		}
		fzCheckAssign(t, req.Request, zoned)
	})
}

// fzService is the Service under test: team-a/web, its IP families, policy,
// traffic policy and ports set by shape.
func fzService(specIP string, shape uint8) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", Labels: map[string]string{"exposure": "public"}, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			LoadBalancerIP: specIP,
			Selector:       map[string]string{"app": "web"},
			Ports:          []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}},
		},
	}
	v4, v6 := corev1.IPv4Protocol, corev1.IPv6Protocol
	svc.Spec.IPFamilies = [][]corev1.IPFamily{nil, {v4}, {v6}, {v4, v6}, {v6, v4}, {v4, v4}, {"IPvX"}, {v6, "bogus"}}[shape&7]
	policies := []corev1.IPFamilyPolicy{"", corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, "SomeDayStack"}
	if p := policies[int(shape>>3&7)%len(policies)]; p != "" {
		svc.Spec.IPFamilyPolicy = &p
	}
	if shape&(1<<6) != 0 {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	if shape&(1<<7) != 0 {
		svc.Spec.Ports = []corev1.ServicePort{{Port: 8080}, {Port: 53, Protocol: corev1.ProtocolSCTP}}
	}
	return svc
}

func fzExpectFamilies(shape uint8) []iprange.Family {
	v4, v6 := iprange.IPv4, iprange.IPv6
	return [][]iprange.Family{{v4}, {v4}, {v6}, {v4, v6}, {v6, v4}, {v4, v4}, {v4}, {v6}}[shape&7]
}

func fzExpectPolicy(shape uint8) allocator.FamilyPolicy {
	policies := []allocator.FamilyPolicy{allocator.SingleStack, allocator.SingleStack, allocator.PreferDualStack, allocator.RequireDualStack, allocator.SingleStack}
	return policies[int(shape>>3&7)%len(policies)]
}

// fzExpectIPs is the oracle for the requested IPs: annotated is the trimmed
// value of the loadBalancerIPs annotation that RequestFor reads.
func fzExpectIPs(annotated, specIP string) ([]netip.Addr, bool) {
	var ips []netip.Addr
	if annotated != "" {
		for _, s := range strings.Split(annotated, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return nil, false
			}
			ips = append(ips, ip.Unmap())
		}
	}
	specIP = strings.TrimSpace(specIP)
	if specIP == "" {
		return ips, true
	}
	ip, err := netip.ParseAddr(specIP)
	if err != nil {
		return nil, false
	}
	switch {
	case len(ips) == 0:
		return []netip.Addr{ip.Unmap()}, true
	case slices.Contains(ips, ip.Unmap()):
		return ips, true
	}
	return nil, false
}

// fzNamespace is a namespace name: a DNS-1123 label.
var fzNamespace = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// fzExpectConsent is the oracle for allow-shared-ip-namespaces.
func fzExpectConsent(value, key string) ([]string, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, true
	}
	if key == "" {
		return nil, false
	}
	var out []string
	for _, s := range strings.Split(value, ",") {
		ns := strings.TrimSpace(s)
		switch {
		case ns == "":
			continue
		case ns != "*" && (len(ns) > 63 || !fzNamespace.MatchString(ns)):
			return nil, false
		}
		out = append(out, ns)
	}
	return out, true
}

func fzCheckPortsAndLocal(t *testing.T, svc *corev1.Service, req *allocator.Request) {
	t.Helper()
	if len(req.Ports) != len(svc.Spec.Ports) {
		t.Fatalf("Ports = %v for %v", req.Ports, svc.Spec.Ports)
	}
	for i, p := range svc.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		if req.Ports[i] != (allocator.Port{Protocol: proto, Port: p.Port}) {
			t.Fatalf("Ports[%d] = %v for %v", i, req.Ports[i], p)
		}
	}
	local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if (req.LocalSelector != nil) != local {
		t.Fatalf("LocalSelector = %v under externalTrafficPolicy %q", req.LocalSelector, svc.Spec.ExternalTrafficPolicy)
	}
	if local {
		sel, err := labels.Parse(*req.LocalSelector)
		if err != nil || !sel.Matches(labels.Set(svc.Spec.Selector)) || sel.Matches(labels.Set{"app": "other"}) {
			t.Fatalf("LocalSelector %q does not select exactly the Service's pods %v: %v", *req.LocalSelector, svc.Spec.Selector, err)
		}
	}
}

// fzCheckAssign hands an accepted request to an allocator with a dual-stack
// pool named lan (and the fuzzed pool name, if any, unknown to it).
func fzCheckAssign(t *testing.T, req allocator.Request, zoned bool) {
	t.Helper()
	var ranges []iprange.Range
	for _, s := range []string{"192.0.2.0/28", "203.0.113.7", "2001:db8::/124"} {
		r, err := iprange.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		ranges = append(ranges, r)
	}
	a := allocator.New()
	if _, err := a.SetPools([]allocator.Pool{{Name: "lan", Ranges: ranges, AutoAssign: true}}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Assign(req)
	if err != nil {
		switch allocator.ReasonOf(err) {
		case v1beta1.ReasonNoMatchingPool, v1beta1.ReasonPoolExhausted, v1beta1.ReasonIPUnavailable,
			v1beta1.ReasonInvalidRequest, v1beta1.ReasonSharingConflict:
		default:
			t.Fatalf("Assign(%+v): error %q has no known reason", req, err)
		}
		if _, held := a.Lookup(req.Service); held {
			t.Fatalf("Assign failed (%v) yet the service holds a lease", err)
		}
		return
	}
	if zoned {
		t.Fatalf("Assign granted %v to a request for a zoned address %v", got.IPs, req.IPs)
	}
	if got.Pool != "lan" || len(got.IPs) == 0 || len(got.IPs) > 2 {
		t.Fatalf("Assign(%+v) = %+v", req, got)
	}
	for _, ip := range got.IPs {
		if !slices.ContainsFunc(ranges, func(r iprange.Range) bool { return r.Contains(ip) }) {
			t.Fatalf("Assign gave %v, outside pool lan", ip)
		}
	}
	if len(req.IPs) > 0 {
		sorted := func(s []netip.Addr) []netip.Addr {
			s = slices.Clone(s)
			slices.SortFunc(s, netip.Addr.Compare)
			return s
		}
		if !slices.Equal(sorted(got.IPs), sorted(req.IPs)) {
			t.Fatalf("requested %v, granted %v", req.IPs, got.IPs)
		}
	}
}

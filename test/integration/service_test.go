//go:build envtest

package integration

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// One test per row of the "Service fields and annotations honoured" table
// of docs/api.md, plus what the controller writes. Class handling is in
// class_test.go.

// Row spec.type LoadBalancer, and everything the controller writes.
func TestLoadBalancerServiceGetsAnIP(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-basic", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	plain := lbService(ns, "plain")
	plain.Spec.Type = corev1.ServiceTypeClusterIP
	createService(t, plain)

	svc := waitAllocated(t, ns, "web")
	ips := ingressIPs(svc)
	if len(ips) != 1 || !inPrefix(t, "192.0.2.0/28", ips...) {
		t.Fatalf("ingress IPs = %v, want one address of 192.0.2.0/28", ips)
	}
	if m := svc.Status.LoadBalancer.Ingress[0].IPMode; m == nil || *m != corev1.LoadBalancerIPModeVIP {
		t.Errorf("ingress ipMode = %v, want VIP", m)
	}
	if got := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; got != "it-basic" {
		t.Errorf("annotation %s = %q, want it-basic", v1beta1.AnnotationAllocatedFromPool, got)
	}
	c := ipAllocated(svc)
	if c.Reason != v1beta1.ReasonAllocated || c.ObservedGeneration != svc.Generation {
		t.Errorf("IPAllocated condition = %+v, want reason %s at generation %d", c, v1beta1.ReasonAllocated, svc.Generation)
	}
	waitEvent(t, ns, "web", corev1.EventTypeNormal, v1beta1.EventIPAllocated, ips[0], "it-basic")

	// A Service of another type is none of our business.
	consistently(t, "ClusterIP Service left alone", func() error {
		return untouched(t, ns, "plain")
	})
}

// Row spec.type: changing away from LoadBalancer releases the IP and
// clears everything the controller wrote.
func TestTypeChangedAwayReleasesAndClears(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-type", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	ip := ingressIPs(waitAllocated(t, ns, "web"))[0]

	updateService(t, ns, "web", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeClusterIP
		s.Spec.ExternalTrafficPolicy = ""
	})
	eventually(t, "status, annotation and condition cleared", func() error {
		return untouchedState(getService(t, ns, "web"))
	})
	waitEvent(t, ns, "web", corev1.EventTypeNormal, v1beta1.EventIPReleased, ip)

	// The address is free again: another Service may ask for it.
	createService(t, lbService(ns, "next", wantIPs(ip)))
	if got := ingressIPs(waitAllocated(t, ns, "next")); !slices.Equal(got, []string{ip}) {
		t.Errorf("next Service got %v, want the released %s", got, ip)
	}
}

// Deleting a Service releases its IP for others.
func TestDeleteReleasesIP(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-delete", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	first := createService(t, lbService(ns, "first"))
	ip := ingressIPs(waitAllocated(t, ns, "first"))[0]
	createService(t, lbService(ns, "second", wantIPs(ip)))
	waitFailed(t, ns, "second", v1beta1.ReasonIPUnavailable)

	deleteAndWait(t, first)
	// The waiting Service gets the address without being touched.
	if got := ingressIPs(waitAllocated(t, ns, "second")); !slices.Equal(got, []string{ip}) {
		t.Errorf("second Service got %v, want the released %s", got, ip)
	}
	waitEvent(t, ns, "second", corev1.EventTypeNormal, v1beta1.EventIPAllocated, ip)
}

// Rows spec.loadBalancerIP and ironlb.io/loadBalancerIPs.
func TestRequestedIPs(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-requested", []string{"192.0.2.0/28", "2001:db8:1::/64"})
	tests := []struct {
		name string
		opts []svcOpt
		want []string
	}{{
		name: "spec.loadBalancerIP",
		opts: []svcOpt{specLoadBalancerIP("192.0.2.7")},
		want: []string{"192.0.2.7"},
	}, {
		name: "annotation, one IPv4",
		opts: []svcOpt{wantIPs("192.0.2.9")},
		want: []string{"192.0.2.9"},
	}, {
		name: "annotation, one IPv6",
		opts: []svcOpt{wantIPs("2001:db8:1::9"), families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)},
		want: []string{"2001:db8:1::9"},
	}, {
		name: "annotation, dual-stack",
		opts: []svcOpt{wantIPs("192.0.2.10, 2001:db8:1::10"), requireDualStack()},
		want: []string{"192.0.2.10", "2001:db8:1::10"},
	}, {
		name: "annotation agrees with spec.loadBalancerIP",
		opts: []svcOpt{wantIPs("192.0.2.11"), specLoadBalancerIP("192.0.2.11")},
		want: []string{"192.0.2.11"},
	}, {
		name: "annotation wins the dual-stack case",
		opts: []svcOpt{wantIPs("192.0.2.12,2001:db8:1::12"), specLoadBalancerIP("192.0.2.12"), requireDualStack()},
		want: []string{"192.0.2.12", "2001:db8:1::12"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			createService(t, lbService(ns, "web", tc.opts...))
			if diff := cmp.Diff(tc.want, ingressIPs(waitAllocated(t, ns, "web"))); diff != "" {
				t.Errorf("ingress IPs (-want +got):\n%s", diff)
			}
		})
	}
}

// Row ironlb.io/address-pool: draw only from the named pool, even one with
// autoAssign false.
func TestAddressPoolAnnotation(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-auto", []string{"192.0.2.0/28"})
	createPool(t, "it-manual", []string{"198.51.100.0/28"}, manualAssign())
	ns := newNamespace(t)
	createService(t, lbService(ns, "auto"))
	createService(t, lbService(ns, "manual", fromPool("it-manual")))

	tests := []struct{ svc, pool, prefix string }{
		{"auto", "it-auto", "192.0.2.0/28"},
		{"manual", "it-manual", "198.51.100.0/28"},
	}
	for _, tc := range tests {
		svc := waitAllocated(t, ns, tc.svc)
		if ips := ingressIPs(svc); !inPrefix(t, tc.prefix, ips...) {
			t.Errorf("%s got %v, want an address of %s", tc.svc, ips, tc.prefix)
		}
		if got := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; got != tc.pool {
			t.Errorf("%s: annotation %s = %q, want %q", tc.svc, v1beta1.AnnotationAllocatedFromPool, got, tc.pool)
		}
	}
}

// Row ironlb.io/allow-shared-ip, with spec.externalTrafficPolicy: Services
// with one key share an IP when their ports don't clash and, under Local,
// they select the same pods.
func TestSharingKey(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-share", []string{"192.0.2.0/28"})
	ns := newNamespace(t)

	createService(t, lbService(ns, "http", sharingKey("web"), ports(80)))
	shared := ingressIPs(waitAllocated(t, ns, "http"))[0]
	createService(t, lbService(ns, "https", sharingKey("web"), ports(443)))
	if got := ingressIPs(waitAllocated(t, ns, "https")); !slices.Equal(got, []string{shared}) {
		t.Errorf("https (same key, other port) got %v, want the shared %s", got, shared)
	}
	// Same key but a clashing port: a different address, no conflict.
	createService(t, lbService(ns, "http-again", sharingKey("web"), ports(80)))
	if got := ingressIPs(waitAllocated(t, ns, "http-again")); slices.Contains(got, shared) {
		t.Errorf("http-again (clashing port) got the shared %s", shared)
	}
	// Asking for the shared address with a clashing port is a conflict.
	createService(t, lbService(ns, "http-clash", sharingKey("web"), ports(80), wantIPs(shared)))
	waitFailed(t, ns, "http-clash", v1beta1.ReasonSharingConflict)
	waitEvent(t, ns, "http-clash", corev1.EventTypeWarning, v1beta1.EventAllocationFailed, v1beta1.ReasonSharingConflict, shared)

	// externalTrafficPolicy: Local shares only between Services selecting
	// the same pods.
	createService(t, lbService(ns, "local-a", sharingKey("local"), localPolicy(), selecting("backend"), ports(80)))
	localIP := ingressIPs(waitAllocated(t, ns, "local-a"))[0]
	createService(t, lbService(ns, "local-same", sharingKey("local"), localPolicy(), selecting("backend"), ports(443), wantIPs(localIP)))
	if got := ingressIPs(waitAllocated(t, ns, "local-same")); !slices.Equal(got, []string{localIP}) {
		t.Errorf("local-same got %v, want the shared %s", got, localIP)
	}
	createService(t, lbService(ns, "local-other", sharingKey("local"), localPolicy(), selecting("frontend"), ports(8443), wantIPs(localIP)))
	waitFailed(t, ns, "local-other", v1beta1.ReasonSharingConflict)
	waitEvent(t, ns, "local-other", corev1.EventTypeWarning, v1beta1.EventAllocationFailed, v1beta1.ReasonSharingConflict, localIP)

	// The Services already sharing are unaffected by the conflicts.
	for name, ip := range map[string]string{"http": shared, "https": shared, "local-a": localIP, "local-same": localIP} {
		if got := ingressIPs(getService(t, ns, name)); !slices.Equal(got, []string{ip}) {
			t.Errorf("%s now has %v, want %s", name, got, ip)
		}
	}
}

// Row ironlb.io/allow-shared-ip-namespaces: a sharing key belongs to its
// namespace. A Service of another namespace that knows the key and the IP
// is refused with SharingConflict and leaves the holder alone; it shares
// only once both sides list each other's namespace, and never under
// externalTrafficPolicy Local.
func TestSharingAcrossNamespaces(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-share-ns", []string{"192.0.2.0/28"})
	owner, other := newNamespace(t), newNamespace(t)
	createService(t, lbService(owner, "web", sharingKey("k"), ports(80)))
	ip := ingressIPs(waitAllocated(t, owner, "web"))[0]
	ownerBefore := takeSnapshot(t, owner, "web")

	// Knowing the key and asking for the IP is not enough.
	createService(t, lbService(other, "intruder", sharingKey("k"), ports(443), specLoadBalancerIP(ip)))
	intruder := waitFailed(t, other, "intruder", v1beta1.ReasonSharingConflict)
	if got := ingressIPs(intruder); len(got) != 0 {
		t.Errorf("the refused Service shows %v", got)
	}
	msg := ipAllocated(intruder).Message
	for _, want := range []string{ip, v1beta1.AnnotationAllowSharedIPNamespaces, other + "/intruder must list " + owner, "must list " + other} {
		if !strings.Contains(msg, want) {
			t.Errorf("condition message %q does not say %q", msg, want)
		}
	}
	waitEvent(t, other, "intruder", corev1.EventTypeWarning, v1beta1.EventAllocationFailed,
		v1beta1.ReasonSharingConflict, ip, v1beta1.AnnotationAllowSharedIPNamespaces)
	// Nor is the key alone: it finds a fresh address.
	createService(t, lbService(other, "same-key", sharingKey("k"), ports(8443)))
	if got := ingressIPs(waitAllocated(t, other, "same-key")); slices.Contains(got, ip) {
		t.Errorf("same-key, of another namespace, joined the owner's %s", ip)
	}
	consistently(t, "the owner keeps its address, alone", func() error {
		if got := ingressIPs(getService(t, other, "intruder")); len(got) != 0 {
			return errorf("the intruder shows %v", got)
		}
		return unchangedSince(t, owner, "web", ownerBefore)
	})

	// Consent from its own side is not enough; once the owner consents too,
	// the waiting Service gets the IP without being touched again.
	updateService(t, other, "intruder", sharingWith(owner))
	eventually(t, "the intruder told that the owner must consent", func() error {
		c := ipAllocated(getService(t, other, "intruder"))
		if c == nil || c.Reason != v1beta1.ReasonSharingConflict || strings.Contains(c.Message, "intruder must list") {
			return errorf("IPAllocated is %+v", c)
		}
		return nil
	})
	updateService(t, owner, "web", sharingWith(other))
	if got := ingressIPs(waitAllocated(t, other, "intruder")); !slices.Equal(got, []string{ip}) {
		t.Errorf("with consent from both sides the intruder got %v, want the shared %s", got, ip)
	}
	if got := ingressIPs(getService(t, owner, "web")); !slices.Equal(got, []string{ip}) {
		t.Errorf("the owner now shows %v, want %s", got, ip)
	}

	// Under Local, no consent lets two namespaces share: their pods are
	// never the same pods.
	createService(t, lbService(owner, "local", sharingKey("l"), localPolicy(), selecting("backend"), ports(80), sharingWith(other)))
	localIP := ingressIPs(waitAllocated(t, owner, "local"))[0]
	createService(t, lbService(other, "local", sharingKey("l"), localPolicy(), selecting("backend"), ports(443),
		sharingWith(owner), wantIPs(localIP)))
	waitFailed(t, other, "local", v1beta1.ReasonSharingConflict)
	waitEvent(t, other, "local", corev1.EventTypeWarning, v1beta1.EventAllocationFailed,
		v1beta1.ReasonSharingConflict, localIP, "Local")
}

// A controller started over Services sharing across namespaces without
// consent (as an earlier IronLB let them) keeps the address of the Service
// that had it first, keeps sharing it with a Service that has consent from
// both sides, and refuses the other.
func TestRestartEndsSharingWithoutConsent(t *testing.T) {
	stop, start := restartableController(t, defaultOptions())
	createPool(t, "it-share-restart", []string{"192.0.2.0/28"})
	owner, friend, other := newNamespace(t), newNamespace(t), newNamespace(t)
	createService(t, lbService(owner, "web", sharingKey("k"), ports(80), sharingWith(friend)))
	ip := ingressIPs(waitAllocated(t, owner, "web"))[0]
	createService(t, lbService(friend, "web", sharingKey("k"), ports(443), sharingWith(owner), wantIPs(ip)))
	if got := ingressIPs(waitAllocated(t, friend, "web")); !slices.Equal(got, []string{ip}) {
		t.Fatalf("the consenting Service got %v, want the shared %s", got, ip)
	}
	stop()
	// Restore favours the older Service; creation times have a resolution
	// of one second.
	time.Sleep(1100 * time.Millisecond)
	createService(t, lbService(other, "intruder", sharingKey("k"), ports(8443), specLoadBalancerIP(ip)))
	writeAllocated(t, other, "intruder", ip, "it-share-restart")
	before := map[string]snapshot{owner: takeSnapshot(t, owner, "web"), friend: takeSnapshot(t, friend, "web")}

	start()
	intruder := waitFailed(t, other, "intruder", v1beta1.ReasonSharingConflict)
	if got := ingressIPs(intruder); len(got) != 0 {
		t.Errorf("the intruder still shows %v", got)
	}
	waitEvent(t, other, "intruder", corev1.EventTypeNormal, v1beta1.EventIPReleased, ip)
	consistently(t, "the consenting Services keep sharing", func() error {
		for ns, s := range before {
			if err := unchangedSince(t, ns, "web", s); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rows spec.ipFamilies / spec.ipFamilyPolicy.
func TestIPFamilies(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-dual", []string{"192.0.2.0/28", "2001:db8:1::/64"})
	createPool(t, "it-v4only", []string{"198.51.100.0/28"}, manualAssign())
	v4, v6 := corev1.IPv4Protocol, corev1.IPv6Protocol
	tests := []struct {
		name     string
		opts     []svcOpt
		prefixes []string // one per expected IP, in order; none: expect failure
		reason   string
	}{{
		name:     "SingleStack IPv4",
		opts:     []svcOpt{families(corev1.IPFamilyPolicySingleStack, v4)},
		prefixes: []string{"192.0.2.0/28"},
	}, {
		name:     "SingleStack IPv6",
		opts:     []svcOpt{families(corev1.IPFamilyPolicySingleStack, v6)},
		prefixes: []string{"2001:db8:1::/64"},
	}, {
		name:     "PreferDualStack gets both from a dual-stack pool",
		opts:     []svcOpt{families(corev1.IPFamilyPolicyPreferDualStack, v4, v6)},
		prefixes: []string{"192.0.2.0/28", "2001:db8:1::/64"},
	}, {
		name:     "PreferDualStack IPv6 first",
		opts:     []svcOpt{families(corev1.IPFamilyPolicyPreferDualStack, v6, v4)},
		prefixes: []string{"2001:db8:1::/64", "192.0.2.0/28"},
	}, {
		name:     "RequireDualStack gets both",
		opts:     []svcOpt{requireDualStack()},
		prefixes: []string{"192.0.2.0/28", "2001:db8:1::/64"},
	}, {
		name:     "PreferDualStack settles for one family",
		opts:     []svcOpt{families(corev1.IPFamilyPolicyPreferDualStack, v4, v6), fromPool("it-v4only")},
		prefixes: []string{"198.51.100.0/28"},
	}, {
		name:   "RequireDualStack fails without both",
		opts:   []svcOpt{requireDualStack(), fromPool("it-v4only")},
		reason: v1beta1.ReasonNoMatchingPool,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			createService(t, lbService(ns, "web", tc.opts...))
			if tc.reason != "" {
				svc := waitFailed(t, ns, "web", tc.reason)
				if ips := ingressIPs(svc); len(ips) != 0 {
					t.Errorf("failed Service shows %v", ips)
				}
				waitEvent(t, ns, "web", corev1.EventTypeWarning, v1beta1.EventAllocationFailed, tc.reason)
				return
			}
			ips := ingressIPs(waitAllocated(t, ns, "web"))
			if len(ips) != len(tc.prefixes) {
				t.Fatalf("got %v, want one address in each of %v", ips, tc.prefixes)
			}
			for i, p := range tc.prefixes {
				if !inPrefix(t, p, ips[i]) {
					t.Errorf("address %d is %s, want one of %s (all: %v)", i, ips[i], p, ips)
				}
			}
		})
	}
}

// Row spec.allocateLoadBalancerNodePorts: false needs nothing from IronLB.
func TestNoNodePorts(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-nodeports", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web", func(s *corev1.Service) {
		s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	}))
	svc := waitAllocated(t, ns, "web")
	if !inPrefix(t, "192.0.2.0/28", ingressIPs(svc)...) {
		t.Errorf("got %v, want an address of 192.0.2.0/28", ingressIPs(svc))
	}
	if np := svc.Spec.Ports[0].NodePort; np != 0 {
		t.Errorf("node port %d allocated, want none", np)
	}
}

// Row spec.externalTrafficPolicy: both policies get addresses (which nodes
// announce them is the speaker's business).
func TestExternalTrafficPolicy(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-etp", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "cluster"))
	createService(t, lbService(ns, "local", localPolicy()))
	for _, name := range []string{"cluster", "local"} {
		if ips := ingressIPs(waitAllocated(t, ns, name)); !inPrefix(t, "192.0.2.0/28", ips...) {
			t.Errorf("%s got %v", name, ips)
		}
	}
}

// Row MetalLB annotations: accepted as aliases, with a Warning event naming
// the IronLB annotation.
func TestMetalLBAliases(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-alias-auto", []string{"192.0.2.0/28"})
	createPool(t, "it-alias-manual", []string{"198.51.100.0/28"}, manualAssign())
	tests := []struct {
		alias, value, ironlb string
		check                func(t *testing.T, svc *corev1.Service)
	}{{
		alias: "metallb.io/loadBalancerIPs", value: "192.0.2.5", ironlb: v1beta1.AnnotationLoadBalancerIPs,
		check: wantIngress("192.0.2.5"),
	}, {
		alias: "metallb.universe.tf/loadBalancerIPs", value: "192.0.2.6", ironlb: v1beta1.AnnotationLoadBalancerIPs,
		check: wantIngress("192.0.2.6"),
	}, {
		alias: "metallb.io/address-pool", value: "it-alias-manual", ironlb: v1beta1.AnnotationAddressPool,
		check: wantPool("it-alias-manual"),
	}, {
		alias: "metallb.universe.tf/address-pool", value: "it-alias-manual", ironlb: v1beta1.AnnotationAddressPool,
		check: wantPool("it-alias-manual"),
	}, {
		alias: "metallb.io/allow-shared-ip", value: "k", ironlb: v1beta1.AnnotationAllowSharedIP,
		check: sharesWithPeer,
	}, {
		alias: "metallb.universe.tf/allow-shared-ip", value: "k", ironlb: v1beta1.AnnotationAllowSharedIP,
		check: sharesWithPeer,
	}}
	for _, tc := range tests {
		t.Run(tc.alias, func(t *testing.T) {
			ns := newNamespace(t)
			createService(t, lbService(ns, "web", annotated(tc.alias, tc.value)))
			tc.check(t, waitAllocated(t, ns, "web"))
			waitEvent(t, ns, "web", corev1.EventTypeWarning, v1beta1.EventDeprecatedAlias, tc.alias, tc.ironlb)
		})
	}
}

func wantIngress(ips ...string) func(*testing.T, *corev1.Service) {
	return func(t *testing.T, svc *corev1.Service) {
		t.Helper()
		if diff := cmp.Diff(ips, ingressIPs(svc)); diff != "" {
			t.Errorf("ingress IPs (-want +got):\n%s", diff)
		}
	}
}

func wantPool(pool string) func(*testing.T, *corev1.Service) {
	return func(t *testing.T, svc *corev1.Service) {
		t.Helper()
		if got := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; got != pool {
			t.Errorf("annotation %s = %q, want %q", v1beta1.AnnotationAllocatedFromPool, got, pool)
		}
	}
}

// sharesWithPeer checks the sharing alias by asking, with the IronLB
// annotation, to share the Service's address on another port.
func sharesWithPeer(t *testing.T, svc *corev1.Service) {
	t.Helper()
	ip := ingressIPs(svc)[0]
	createService(t, lbService(svc.Namespace, "peer", sharingKey("k"), ports(443), wantIPs(ip)))
	if got := ingressIPs(waitAllocated(t, svc.Namespace, "peer")); !slices.Equal(got, []string{ip}) {
		t.Errorf("peer got %v, want the shared %s", got, ip)
	}
}

// untouched checks that the controller wrote nothing on a Service and
// sent no event about it.
func untouched(t *testing.T, ns, name string) error {
	t.Helper()
	if err := untouchedState(getService(t, ns, name)); err != nil {
		return err
	}
	if evs := serviceEvents(t, ns, name); len(evs) > 0 {
		return errorf("events were sent about %s/%s: %s: %s", ns, name, evs[0].Reason, evs[0].Note)
	}
	return nil
}

func untouchedState(svc *corev1.Service) error {
	switch {
	case len(svc.Status.LoadBalancer.Ingress) > 0:
		return errorf("status.loadBalancer.ingress = %v", ingressIPs(svc))
	case ipAllocated(svc) != nil:
		return errorf("condition %+v", *ipAllocated(svc))
	case svc.Annotations[v1beta1.AnnotationAllocatedFromPool] != "":
		return errorf("annotation %s = %s", v1beta1.AnnotationAllocatedFromPool, svc.Annotations[v1beta1.AnnotationAllocatedFromPool])
	}
	return nil
}

// snapshot is what must not change about a Service when nothing happened
// to it.
type snapshot struct {
	ResourceVersion string
	IPs             []string
	Condition       *metav1.Condition
	Events          map[string]int
}

func takeSnapshot(t *testing.T, ns, name string) snapshot {
	t.Helper()
	svc := getService(t, ns, name)
	return snapshot{
		ResourceVersion: svc.ResourceVersion,
		IPs:             ingressIPs(svc),
		Condition:       ipAllocated(svc),
		Events:          eventCounts(t, ns, name),
	}
}

// unchangedSince checks that nothing about the Service changed since s.
func unchangedSince(t *testing.T, ns, name string, s snapshot) error {
	t.Helper()
	if diff := cmp.Diff(s, takeSnapshot(t, ns, name)); diff != "" {
		return errorf("%s/%s changed (-before +now):\n%s", ns, name, diff)
	}
	return nil
}

// touchLabel changes a label, which a controller sees as an update that
// asks for nothing.
func touchLabel(obj interface {
	GetLabels() map[string]string
	SetLabels(map[string]string)
}, value string) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l["it-touched"] = value
	obj.SetLabels(l)
}

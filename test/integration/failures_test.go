//go:build envtest

package integration

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// One row per failure reason of the ironlb.io/IPAllocated condition. Each
// failing Service shows the reason and gets an AllocationFailed event, and
// the Services already holding addresses are unaffected.
func TestAllocationFailures(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-fail-main", []string{"192.0.2.0/28", "2001:db8:1::/64"})
	createPool(t, "it-fail-tiny", []string{"198.51.100.10-198.51.100.11"}, manualAssign())
	createPool(t, "it-fail-team", []string{"198.51.100.64/28"}, onlyNamespaces("team-nobody"))

	// Bystanders hold what the failing Services ask for.
	base := newNamespace(t)
	createService(t, lbService(base, "holder"))
	createService(t, lbService(base, "sharer", sharingKey("a")))
	createService(t, lbService(base, "tiny-1", fromPool("it-fail-tiny")))
	createService(t, lbService(base, "tiny-2", fromPool("it-fail-tiny")))
	held := ingressIPs(waitAllocated(t, base, "holder"))[0]
	sharedIP := ingressIPs(waitAllocated(t, base, "sharer"))[0]
	waitAllocated(t, base, "tiny-1")
	waitAllocated(t, base, "tiny-2")
	bystanders := map[string]snapshot{}
	for _, name := range []string{"holder", "sharer", "tiny-1", "tiny-2"} {
		bystanders[name] = takeSnapshot(t, base, name)
	}

	tests := []struct {
		name   string
		opts   []svcOpt
		reason string
		// mention is a part of the message that tells the user what is wrong.
		mention string
	}{{
		name:    "NoMatchingPool: named pool does not exist",
		opts:    []svcOpt{fromPool("it-fail-missing")},
		reason:  v1beta1.ReasonNoMatchingPool,
		mention: "it-fail-missing",
	}, {
		name:    "NoMatchingPool: named pool does not admit the namespace",
		opts:    []svcOpt{fromPool("it-fail-team")},
		reason:  v1beta1.ReasonNoMatchingPool,
		mention: "it-fail-team",
	}, {
		name:    "PoolExhausted",
		opts:    []svcOpt{fromPool("it-fail-tiny")},
		reason:  v1beta1.ReasonPoolExhausted,
		mention: "it-fail-tiny",
	}, {
		name:    "IPUnavailable: taken by another Service",
		opts:    []svcOpt{wantIPs(held)},
		reason:  v1beta1.ReasonIPUnavailable,
		mention: held,
	}, {
		name:    "IPUnavailable: outside every pool",
		opts:    []svcOpt{wantIPs("203.0.113.200")},
		reason:  v1beta1.ReasonIPUnavailable,
		mention: "203.0.113.200",
	}, {
		name:    "IPUnavailable: spec.loadBalancerIP taken",
		opts:    []svcOpt{specLoadBalancerIP(held)},
		reason:  v1beta1.ReasonIPUnavailable,
		mention: held,
	}, {
		name:    "InvalidRequest: unparseable annotation",
		opts:    []svcOpt{wantIPs("192.0.2.300")},
		reason:  v1beta1.ReasonInvalidRequest,
		mention: "192.0.2.300",
	}, {
		name:    "InvalidRequest: IP of the wrong family",
		opts:    []svcOpt{wantIPs("2001:db8:1::5")},
		reason:  v1beta1.ReasonInvalidRequest,
		mention: "2001:db8:1::5",
	}, {
		name:    "InvalidRequest: annotation and spec.loadBalancerIP differ",
		opts:    []svcOpt{wantIPs("192.0.2.3"), specLoadBalancerIP("192.0.2.4")},
		reason:  v1beta1.ReasonInvalidRequest,
		mention: "192.0.2.4",
	}, {
		name:    "SharingConflict: another sharing key",
		opts:    []svcOpt{wantIPs(sharedIP), sharingKey("b"), ports(443)},
		reason:  v1beta1.ReasonSharingConflict,
		mention: sharedIP,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			createService(t, lbService(ns, "web", tc.opts...))
			svc := waitFailed(t, ns, "web", tc.reason)
			if c := ipAllocated(svc); !strings.Contains(c.Message, tc.mention) {
				t.Errorf("condition message %q does not mention %q", c.Message, tc.mention)
			}
			if err := untouchedIngress(svc); err != nil {
				t.Error(err)
			}
			waitEvent(t, ns, "web", corev1.EventTypeWarning, v1beta1.EventAllocationFailed, tc.reason, tc.mention)
		})
	}

	for name, before := range bystanders {
		if err := unchangedSince(t, base, name, before); err != nil {
			t.Errorf("bystander: %v", err)
		}
	}
}

// A failed Service recovers once its request is fixed.
func TestFixedRequestRecovers(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-recover", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "web", wantIPs("not-an-ip")))
	waitFailed(t, ns, "web", v1beta1.ReasonInvalidRequest)
	updateService(t, ns, "web", func(s *corev1.Service) {
		s.Annotations[v1beta1.AnnotationLoadBalancerIPs] = "192.0.2.8"
	})
	svc := waitAllocated(t, ns, "web")
	if got := ingressIPs(svc); len(got) != 1 || got[0] != "192.0.2.8" {
		t.Errorf("got %v, want [192.0.2.8]", got)
	}
	waitEvent(t, ns, "web", corev1.EventTypeNormal, v1beta1.EventIPAllocated, "192.0.2.8")
}

// Events are sent on change only: an update that asks for nothing new, or
// every Service being looked at again after a pool change, sends none and
// writes nothing.
func TestEventsOnChangeOnly(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-quiet", []string{"192.0.2.10/32"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "ok"))
	waitAllocated(t, ns, "ok")
	createService(t, lbService(ns, "failing"))
	waitFailed(t, ns, "failing", v1beta1.ReasonPoolExhausted)
	waitEvent(t, ns, "ok", corev1.EventTypeNormal, v1beta1.EventIPAllocated)
	waitEvent(t, ns, "failing", corev1.EventTypeWarning, v1beta1.EventAllocationFailed)

	for _, name := range []string{"ok", "failing"} {
		updateService(t, ns, name, func(s *corev1.Service) { touchLabel(s, "1") })
	}
	before := map[string]snapshot{"ok": takeSnapshot(t, ns, "ok"), "failing": takeSnapshot(t, ns, "failing")}
	// A namespace label change sends its Services through the allocator
	// again (pools may select namespaces), and so does any pool change.
	updateNamespaceLabel(t, ns)
	resyncAll(t, 2)
	consistently(t, "no write and no event after updates that change nothing", func() error {
		for name, s := range before {
			if err := unchangedSince(t, ns, name, s); err != nil {
				return err
			}
		}
		return nil
	})
	if n := before["ok"].Events[v1beta1.EventIPAllocated]; n != 1 {
		t.Errorf("ok got %d IPAllocated events, want 1", n)
	}
	if n := before["failing"].Events[v1beta1.EventAllocationFailed]; n != 1 {
		t.Errorf("failing got %d AllocationFailed events, want 1", n)
	}
}

func untouchedIngress(svc *corev1.Service) error {
	if ips := ingressIPs(svc); len(ips) > 0 {
		return fmt.Errorf("failed Service shows %v", ips)
	}
	if p := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; p != "" {
		return fmt.Errorf("failed Service is annotated with pool %s", p)
	}
	return nil
}

func updateNamespaceLabel(t *testing.T, name string) {
	t.Helper()
	eventually(t, "labelling namespace "+name, func() error {
		ns := &corev1.Namespace{}
		if err := k8s.Get(ctx(), keyOf(name), ns); err != nil {
			return err
		}
		touchLabel(ns, "1")
		return k8s.Update(ctx(), ns)
	})
}

//go:build envtest

package integration

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// spec.serviceAllocation: priority orders pools, and namespaces,
// namespaceSelectors and serviceSelectors decide which Services a pool
// admits.
func TestServiceAllocation(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-alloc-last", []string{"203.0.113.0/28"})
	createPool(t, "it-alloc-prio5", []string{"192.0.2.0/28"}, priority(5))
	createPool(t, "it-alloc-prio1", []string{"198.51.100.0/28"}, priority(1))
	createPool(t, "it-alloc-public", []string{"198.51.100.16/28"}, priority(0), func(p *v1beta1.IPAddressPool) {
		p.Spec.ServiceAllocation.ServiceSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"exposure": "public"}}}
	})
	teamNS := newNamespace(t)
	createPool(t, "it-alloc-team", []string{"198.51.100.32/28"}, priority(0), func(p *v1beta1.IPAddressPool) {
		p.Spec.ServiceAllocation.Namespaces = []string{teamNS}
	})
	createPool(t, "it-alloc-prod", []string{"198.51.100.48/28"}, manualAssign(), func(p *v1beta1.IPAddressPool) {
		p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
			NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "prod"}}},
		}
	})

	ns := newNamespace(t)
	tests := []struct {
		ns, name string
		opts     []svcOpt
		pool     string
	}{
		{ns, "lowest-priority-number-first", nil, "it-alloc-prio1"},
		{ns, "service-selector", []svcOpt{labelled("exposure", "public")}, "it-alloc-public"},
		{teamNS, "namespace-list", nil, "it-alloc-team"},
	}
	for _, tc := range tests {
		createService(t, lbService(tc.ns, tc.name, tc.opts...))
	}
	for _, tc := range tests {
		wantPool(tc.pool)(t, waitAllocated(t, tc.ns, tc.name))
	}

	// A namespace gaining the label a pool selects is admitted.
	createService(t, lbService(ns, "namespace-selector", fromPool("it-alloc-prod")))
	waitFailed(t, ns, "namespace-selector", v1beta1.ReasonNoMatchingPool)
	eventually(t, "labelling namespace "+ns, func() error {
		n := &corev1.Namespace{}
		if err := k8s.Get(ctx(), keyOf(ns), n); err != nil {
			return err
		}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels["tier"] = "prod"
		return k8s.Update(ctx(), n)
	})
	wantPool("it-alloc-prod")(t, waitAllocated(t, ns, "namespace-selector"))
}

// Moving a Service to another pool releases its old address, and lets a
// pool waiting to be deleted go.
func TestMoveBetweenPoolsReleases(t *testing.T) {
	startController(t, defaultOptions())
	createPool(t, "it-move-from", []string{"192.0.2.0/28"})
	createPool(t, "it-move-to", []string{"198.51.100.0/28"}, manualAssign())
	ns := newNamespace(t)
	createService(t, lbService(ns, "web"))
	old := ingressIPs(waitAllocated(t, ns, "web"))[0]
	if err := k8s.Delete(ctx(), getPool(t, "it-move-from")); err != nil {
		t.Fatalf("deleting pool: %v", err)
	}
	waitPoolReady(t, "it-move-from", metav1.ConditionFalse, v1beta1.ReasonPoolDeleting)

	updateService(t, ns, "web", func(s *corev1.Service) {
		s.Annotations = map[string]string{v1beta1.AnnotationAddressPool: "it-move-to"}
	})
	eventually(t, "the Service moves to it-move-to", func() error {
		svc := getService(t, ns, "web")
		if ips := ingressIPs(svc); !inPrefix(t, "198.51.100.0/28", ips...) {
			return errorf("the Service shows %v", ips)
		}
		if p := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; p != "it-move-to" {
			return errorf("pool annotation %q", p)
		}
		return nil
	})
	waitEvent(t, ns, "web", corev1.EventTypeNormal, v1beta1.EventIPAllocated, "it-move-to", old)
	eventually(t, "the unused pool goes", func() error {
		err := k8s.Get(ctx(), keyOf("it-move-from"), &v1beta1.IPAddressPool{})
		if err == nil {
			return errorf("it-move-from still exists")
		}
		return client.IgnoreNotFound(err)
	})
}

func priority(p int32) poolOpt {
	return func(pool *v1beta1.IPAddressPool) {
		if pool.Spec.ServiceAllocation == nil {
			pool.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{}
		}
		pool.Spec.ServiceAllocation.Priority = ptr.To(p)
	}
}

func labelled(k, v string) svcOpt {
	return func(s *corev1.Service) {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = v
	}
}

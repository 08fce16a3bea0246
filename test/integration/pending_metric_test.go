//go:build envtest

package integration

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers"
)

// ironlb_services_pending, as a Prometheus scrape of the controller reads
// it: a Service refused an address counts under its condition's reason
// while it waits, and stops counting once it gets an address, is deleted
// or stops being a LoadBalancer.
func TestPendingServicesMetric(t *testing.T) {
	// A class of its own: Services other tests left behind cannot count.
	const lbClass = "example.com/pending-metric"
	startController(t, controllers.Options{Class: v1beta1.ClassFilter{Class: lbClass}, Workers: 4})
	createPool(t, "it-pending", []string{"203.0.113.250/32"})
	ns := newNamespace(t)
	ours := class(lbClass)

	holder := createService(t, lbService(ns, "holder", ours))
	waitAllocated(t, ns, "holder")
	waitPending(t, v1beta1.ReasonPoolExhausted, 0)

	createService(t, lbService(ns, "waiter", ours))
	waitFailed(t, ns, "waiter", v1beta1.ReasonPoolExhausted)
	waitPending(t, v1beta1.ReasonPoolExhausted, 1)

	createService(t, lbService(ns, "lost", ours, fromPool("it-pending-missing")))
	waitFailed(t, ns, "lost", v1beta1.ReasonNoMatchingPool)
	waitPending(t, v1beta1.ReasonNoMatchingPool, 1)
	waitPending(t, v1beta1.ReasonPoolExhausted, 1)

	// The address is freed: the waiter gets it and counts no more.
	deleteAndWait(t, holder)
	waitAllocated(t, ns, "waiter")
	waitPending(t, v1beta1.ReasonPoolExhausted, 0)

	// A waiting Service that stops being a LoadBalancer no longer waits.
	updateService(t, ns, "lost", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeClusterIP
		s.Spec.ExternalTrafficPolicy = ""
		s.Spec.LoadBalancerClass = nil
	})
	waitPending(t, v1beta1.ReasonNoMatchingPool, 0)

	// Nor does one that is deleted.
	late := createService(t, lbService(ns, "late", ours))
	waitFailed(t, ns, "late", v1beta1.ReasonPoolExhausted)
	waitPending(t, v1beta1.ReasonPoolExhausted, 1)
	deleteAndWait(t, late)
	waitPending(t, v1beta1.ReasonPoolExhausted, 0)
}

// waitPending waits until ironlb_services_pending{reason} is want.
func waitPending(t *testing.T, reason string, want float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("ironlb_services_pending{reason=%q} = %v", reason, want), func() error {
		got, err := pendingGauge(reason)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("it is %v", got)
		}
		return nil
	})
}

// pendingGauge reads ironlb_services_pending{reason} from the registry the
// controller's metrics endpoint serves.
func pendingGauge(reason string) (float64, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range families {
		if mf.GetName() != "ironlb_services_pending" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetGauge().GetValue(), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no series ironlb_services_pending{reason=%q}", reason)
}

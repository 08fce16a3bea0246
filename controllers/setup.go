// Package controllers wires ironlb-controller's reconcilers around one
// shared IPAM (package ipam, the address book): services (which IP each
// LoadBalancer Service gets) and pools (usage, validity, deletion
// protection).
//
// The reconcilers never call each other. Each reads, lets the IPAM decide,
// and writes; each is woken by watches on the API, plus one source the IPAM
// owns for what it changes in memory:
//
//	service controller   Services (LoadBalancer, or bearing what we wrote)
//	                     Namespaces, label changes -> their Services
//	                     IPAddressPools, spec changes -> every LoadBalancer Service
//	                     IPAM.Retries -> Services waiting for an address, on a release
//	pool controller      IPAddressPools, spec changes -> every pool
//	                     IPAM.UsageChanges -> pools whose usage changed, batched
//
// A pool change reaches the allocator through whichever reconciler sees it
// first (both call IPAM.SyncPools), so the Services a pool change wakes
// are allocated against the new pools.
package controllers

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/ipam"
	"github.com/ironlb/ironlb/controllers/pool"
	"github.com/ironlb/ironlb/controllers/service"
)

// The leader-election Lease lives in the components' namespace.
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=ironlb-system,resources=leases,verbs=get;list;watch;create;update;patch
// Leader election records its transitions as core Events on the Lease.
// +kubebuilder:rbac:groups="",namespace=ironlb-system,resources=events,verbs=create;patch

// Options configure the reconcilers.
type Options struct {
	// Class selects the Services handled.
	Class v1beta1.ClassFilter
	// Workers is how many Services are reconciled at once. The allocator
	// is thread-safe, so this only bounds API-server concurrency.
	Workers int
	// Metrics is the registry the reconcilers' metrics are registered on:
	// the manager's, which its metrics endpoint serves. Nil means
	// controller-runtime's metrics.Registry, the manager's default.
	Metrics prometheus.Registerer
}

// Setup registers the Service and pool reconcilers around one shared IPAM.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.Registry
	}
	m := ipam.New(mgr.GetClient(), mgr.GetAPIReader(), opts.Class)
	recorder := mgr.GetEventRecorder("ironlb-controller")

	svc := &service.Reconciler{Client: mgr.GetClient(), IPAM: m, Recorder: recorder}
	if err := svc.SetupWithManager(mgr, opts.Metrics, opts.Workers); err != nil {
		return fmt.Errorf("setting up the service controller: %w", err)
	}
	pools := &pool.Reconciler{Client: mgr.GetClient(), IPAM: m, Recorder: recorder}
	if err := pools.SetupWithManager(mgr, opts.Metrics); err != nil {
		return fmt.Errorf("setting up the pool controller: %w", err)
	}
	return nil
}

// Package controllers wires ironlb-controller's reconcilers: services (which
// IP each LoadBalancer Service gets) and pools (usage, validity, deletion
// protection), sharing one address book.
package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

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
}

// Setup registers the Service and pool reconcilers around one shared IPAM.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	m := ipam.New(mgr.GetClient(), mgr.GetAPIReader(), opts.Class)
	recorder := mgr.GetEventRecorder("ironlb-controller")
	// Buffered so a reconciler rarely waits for the other controller's
	// source goroutine; both are drained for the manager's lifetime.
	poolsChanged := make(chan event.TypedGenericEvent[string], 16)
	poolsTouched := make(chan event.TypedGenericEvent[string], 1024)

	svc := &service.Reconciler{Client: mgr.GetClient(), IPAM: m, Recorder: recorder, PoolsTouched: poolsTouched}
	if err := svc.SetupWithManager(mgr, poolsChanged, opts.Workers); err != nil {
		return fmt.Errorf("setting up the service controller: %w", err)
	}
	pools := &pool.Reconciler{Client: mgr.GetClient(), IPAM: m, Recorder: recorder, PoolsChanged: poolsChanged}
	if err := pools.SetupWithManager(mgr, poolsTouched); err != nil {
		return fmt.Errorf("setting up the pool controller: %w", err)
	}
	return nil
}

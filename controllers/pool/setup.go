package pool

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// statusDelay bounds how often a pool's usage counts are written while
// Services come and go.
const statusDelay = 500 * time.Millisecond

// SetupWithManager registers the reconciler and its metrics on reg (nil:
// no registry).
//
// Who wakes this controller:
//   - an IPAddressPool created, deleted, or whose spec changed (its
//     generation): every pool, since a pool's validity depends on every
//     other pool (overlaps); pools are few. Our own status writes change no
//     generation and are filtered out;
//   - the IPAM (ipam.IPAM.UsageChanges): a pool whose usage changed because
//     a Service got, moved or lost addresses, statusDelay later, so that a
//     burst costs one status write per pool and statusDelay rather than one
//     per Service.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, reg prometheus.Registerer) error {
	m, err := newMetrics(reg)
	if err != nil {
		return err
	}
	r.metrics = m
	return ctrl.NewControllerManagedBy(mgr).
		Named("ipaddresspool").
		Watches(&v1beta1.IPAddressPool{}, handler.EnqueueRequestsFromMapFunc(r.allPools),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(r.IPAM.UsageChanges(statusDelay)).
		Complete(r)
}

func (r *Reconciler) allPools(ctx context.Context, _ client.Object) []reconcile.Request {
	var pools v1beta1.IPAddressPoolList
	if err := r.Client.List(ctx, &pools); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing IPAddressPools")
		return nil
	}
	out := make([]reconcile.Request, 0, len(pools.Items))
	for i := range pools.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: pools.Items[i].Name}})
	}
	return out
}

package pool

import (
	"context"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// statusDelay bounds how often a pool's usage counts are written while
// Services come and go.
const statusDelay = 500 * time.Millisecond

// SetupWithManager registers the reconciler. touched carries the names of
// pools whose usage changed because a Service got or lost an address.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, touched <-chan event.TypedGenericEvent[string]) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("ipaddresspool").
		// A pool's validity depends on every other pool (overlaps), so any
		// pool event sends them all through reconcile; pools are few.
		// Our own status writes change no generation and are filtered out.
		Watches(&v1beta1.IPAddressPool{}, handler.EnqueueRequestsFromMapFunc(r.allPools),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.TypedChannel(touched, handler.TypedFuncs[string, reconcile.Request]{
			// Usage changes come in bursts: refresh a pool's counts at most
			// once per statusDelay instead of once per Service.
			GenericFunc: func(_ context.Context, e event.TypedGenericEvent[string], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: e.Object}}, statusDelay)
			},
		})).
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

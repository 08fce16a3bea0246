package service

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// A pool change sends every LoadBalancer Service through the IPAM again.
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools,verbs=get;list;watch

// SetupWithManager registers the reconciler and its metrics on reg (nil:
// no registry). workers bounds how many Services are reconciled at once.
//
// Who wakes this controller:
//   - a Service of type LoadBalancer, or still bearing what IronLB wrote,
//     created, changed or deleted: that Service; not, though, the change
//     our own status write made (see ownWrites);
//   - a Namespace whose labels changed: its LoadBalancer Services (pools
//     may select namespaces by label);
//   - an IPAddressPool created, deleted, or whose spec changed (its
//     generation): every LoadBalancer Service, since a pool change may
//     evict, move or admit any of them;
//   - the IPAM (ipam.IPAM.Retries): Services waiting for an address, when
//     one was released or a holder's sharing terms changed.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, reg prometheus.Registerer, workers int) error {
	m, err := newMetrics(reg)
	if err != nil {
		return err
	}
	r.metrics = m
	m.countPending(r.IPAM)
	return ctrl.NewControllerManagedBy(mgr).
		Named("service").
		For(&corev1.Service{}, builder.WithPredicates(concernsUs(), r.notOwnWrite())).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.servicesInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// Our pool controller's status writes change no generation and are
		// filtered out.
		Watches(&v1beta1.IPAddressPool{}, handler.EnqueueRequestsFromMapFunc(r.allLoadBalancers),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(r.IPAM.Retries()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// allLoadBalancers maps a pool change to every LoadBalancer Service.
func (r *Reconciler) allLoadBalancers(ctx context.Context, _ client.Object) []reconcile.Request {
	out, err := r.loadBalancers(ctx)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing Services after a pool change")
	}
	return out
}

// servicesInNamespace maps a namespace label change to its LoadBalancer
// Services.
func (r *Reconciler) servicesInNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	out, err := r.loadBalancers(ctx, client.InNamespace(ns.GetName()))
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing Services after a namespace label change", "namespace", ns.GetName())
	}
	return out
}

func (r *Reconciler) loadBalancers(ctx context.Context, opts ...client.ListOption) ([]reconcile.Request, error) {
	var svcs corev1.ServiceList
	// Read only: the cache need not copy every Service.
	if err := r.Client.List(ctx, &svcs, append(opts, client.UnsafeDisableDeepCopy)...); err != nil {
		return nil, err
	}
	var out []reconcile.Request
	for i := range svcs.Items {
		if svc := &svcs.Items[i]; svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(svc)})
		}
	}
	return out, nil
}

// concernsUs passes LoadBalancer Services and Services still bearing what
// IronLB wrote (their type changed away), and skips the rest of the cluster.
func concernsUs() predicate.Predicate {
	relevant := func(o client.Object) bool {
		svc, ok := o.(*corev1.Service)
		if !ok {
			return false
		}
		_, annotated := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]
		return svc.Spec.Type == corev1.ServiceTypeLoadBalancer || annotated || len(svc.Status.LoadBalancer.Ingress) > 0
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return relevant(e.Object) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return relevant(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return relevant(e.ObjectOld) || relevant(e.ObjectNew) },
		GenericFunc: func(e event.GenericEvent) bool { return relevant(e.Object) },
	}
}

// notOwnWrite skips the update that one of our own status writes caused
// (see ownWrites): the reconcile that wrote it already did all there is.
func (r *Reconciler) notOwnWrite() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool { return !r.own.isOwn(e.ObjectOld, e.ObjectNew) }}
}

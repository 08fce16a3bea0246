package service

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// SetupWithManager registers the reconciler. poolsChanged fires whenever
// the set of usable pools changed, which sends every LoadBalancer Service
// back through the allocator.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, poolsChanged <-chan event.TypedGenericEvent[string], workers int) error {
	r.retry = make(chan types.NamespacedName, 1024)
	retries := make(chan event.TypedGenericEvent[types.NamespacedName])
	go forwardRetries(r.retry, retries)

	return ctrl.NewControllerManagedBy(mgr).
		Named("service").
		For(&corev1.Service{}, builder.WithPredicates(concernsUs())).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.servicesInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(source.TypedChannel(poolsChanged, handler.TypedFuncs[string, reconcile.Request]{
			GenericFunc: func(ctx context.Context, _ event.TypedGenericEvent[string], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueueAll(ctx, q)
			},
		})).
		WatchesRawSource(source.TypedChannel(retries, handler.TypedFuncs[types.NamespacedName, reconcile.Request]{
			GenericFunc: func(_ context.Context, e event.TypedGenericEvent[types.NamespacedName], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				q.Add(reconcile.Request{NamespacedName: e.Object})
			},
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// forwardRetries turns the reconciler's non-blocking retry requests into
// events for the controller's channel source.
func forwardRetries(in <-chan types.NamespacedName, out chan<- event.TypedGenericEvent[types.NamespacedName]) {
	for key := range in {
		out <- event.TypedGenericEvent[types.NamespacedName]{Object: key}
	}
}

func (r *Reconciler) enqueueAll(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing Services after a pool change")
		return
	}
	for i := range svcs.Items {
		if svc := &svcs.Items[i]; svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(svc)})
		}
	}
}

func (r *Reconciler) servicesInNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs, client.InNamespace(ns.GetName())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing Services after a namespace label change", "namespace", ns.GetName())
		return nil
	}
	var out []reconcile.Request
	for i := range svcs.Items {
		if svc := &svcs.Items[i]; svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(svc)})
		}
	}
	return out
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

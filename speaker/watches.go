package speaker

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// everything is the one work item: what changed is noted in Speaker.changes.
var everything = reconcile.Request{NamespacedName: types.NamespacedName{Name: "all"}}

// CacheOptions are the informer cache settings the speaker needs: managed
// fields stripped (they are a large share of a Service's size), Services,
// EndpointSlices and Nodes trimmed to what the speaker reads (cachetrim.go),
// and Secrets cached only from secretNamespace when it is set.
func CacheOptions(secretNamespace string) cache.Options {
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Service{}:            {Transform: trimService},
			&discoveryv1.EndpointSlice{}: {Transform: trimEndpointSlice},
			&corev1.Node{}:               {Transform: trimNode},
		},
	}
	if secretNamespace != "" {
		opts.ByObject[&corev1.Secret{}] = cache.ByObject{Namespaces: map[string]cache.Config{secretNamespace: {}}}
	}
	return opts
}

// SetupWithManager registers the speaker's controller, with the watches
// every protocol asks for, and its background loops (joining other speakers,
// and each protocol's own).
func (s *Speaker) SetupWithManager(mgr ctrl.Manager) error {
	s.reader = mgr.GetCache()
	s.recorder = mgr.GetEventRecorder("ironlb-speaker")
	s.log = mgr.GetLogger().WithName(ctrlName).WithValues("node", s.cfg.NodeName)

	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &discoveryv1.EndpointSlice{},
		sliceServiceIndex, sliceServiceName); err != nil {
		return fmt.Errorf("indexing EndpointSlices: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(ctrlName).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(s.serviceOf),
			builder.WithPredicates(s.serviceChanged())).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(s.sliceOfLocalService),
			builder.WithPredicates(readyNodesChanged())).
		Watches(&corev1.Node{}, s.clusterWide(nil), builder.WithPredicates(nodeChanged())).
		Watches(&v1beta1.IPAddressPool{}, s.clusterWide(nil), builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, poolReadinessChanged())))
	for i, p := range s.protocols {
		watches, err := p.Setup(mgr, s.env(i))
		if err != nil {
			return fmt.Errorf("setting up %s: %w", p.Name(), err)
		}
		for _, w := range watches {
			b = b.Watches(w.Object, s.clusterWide(w.Matters), builder.WithPredicates(w.Predicates...))
		}
	}
	err := b.WatchesRawSource(source.TypedChannel(s.trigger, handler.TypedFuncs[string, reconcile.Request]{
		GenericFunc: func(_ context.Context, _ event.TypedGenericEvent[string], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(everything)
		},
	})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(s)
	if err != nil {
		return err
	}
	return mgr.Add(manager.RunnableFunc(s.runMembership))
}

// env is what the protocol at index i is lent.
func (s *Speaker) env(i int) protocol.Env {
	return protocol.Env{
		Node:         s.cfg.NodeName,
		Log:          s.log,
		Live:         s.members.Live,
		WritesShared: s.writesShared,
		Applied:      s.applied.Load,
		Decided:      s.decided[i],
	}
}

// clusterWide notes a change of a cluster-wide object (a Node, a pool, or
// what a protocol watches) that matters, and enqueues the work item.
func (s *Speaker) clusterWide(matters func(context.Context, client.Object) bool) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		if matters != nil && !matters(ctx, o) {
			return nil
		}
		s.changes.clusterWide()
		return []reconcile.Request{everything}
	})
}

// serviceOf notes a Service to read again and enqueues the work item.
func (s *Speaker) serviceOf(_ context.Context, o client.Object) []reconcile.Request {
	s.changes.service(types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
	return []reconcile.Request{everything}
}

// serviceChanged passes changes that can alter an announcement: a handled
// Service appearing, going, or changing type, class, policy, addresses or
// recorded pool. Status condition updates by the controller are skipped.
func (s *Speaker) serviceChanged() predicate.Predicate {
	handled := func(o client.Object) bool {
		svc, ok := o.(*corev1.Service)
		return ok && s.cfg.Class.Handles(svc)
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return handled(e.Object) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return handled(e.Object) },
		GenericFunc: func(e event.GenericEvent) bool { return handled(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if !handled(e.ObjectOld) && !handled(e.ObjectNew) {
				return false
			}
			o, n := e.ObjectOld.(*corev1.Service), e.ObjectNew.(*corev1.Service)
			return o.Spec.Type != n.Spec.Type ||
				!equality.Semantic.DeepEqual(o.Spec.LoadBalancerClass, n.Spec.LoadBalancerClass) ||
				o.Spec.ExternalTrafficPolicy != n.Spec.ExternalTrafficPolicy ||
				!equality.Semantic.DeepEqual(o.Status.LoadBalancer.Ingress, n.Status.LoadBalancer.Ingress) ||
				o.Annotations[v1beta1.AnnotationAllocatedFromPool] != n.Annotations[v1beta1.AnnotationAllocatedFromPool]
		},
	}
}

// sliceOfLocalService notes the Service of an EndpointSlice to read again
// only when it is handled and uses the Local policy: only then do endpoints
// matter.
func (s *Speaker) sliceOfLocalService(ctx context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[discoveryv1.LabelServiceName]
	if name == "" {
		return nil
	}
	var svc corev1.Service
	if err := s.reader.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: name}, &svc); err != nil {
		// Not in the cache (yet): its creation event recomputes anyway.
		return nil
	}
	if !s.cfg.Class.Handles(&svc) || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		return nil
	}
	return s.serviceOf(ctx, &svc)
}

// readyNodesChanged skips EndpointSlice updates that leave the set of nodes
// with a ready endpoint unchanged (most of them: pod IP churn, hints).
func readyNodesChanged() predicate.Predicate {
	nodes := func(o client.Object) []string {
		es, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil
		}
		for _, n := range readyEndpointNodes([]discoveryv1.EndpointSlice{*es}) {
			return n
		}
		return nil
	}
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return !slices.Equal(nodes(e.ObjectOld), nodes(e.ObjectNew)) ||
			e.ObjectOld.GetLabels()[discoveryv1.LabelServiceName] != e.ObjectNew.GetLabels()[discoveryv1.LabelServiceName]
	}}
}

// nodeChanged passes Node updates that change eligibility, peer selection or
// the address speakers join: labels, the Ready and NetworkUnavailable
// conditions, addresses. Heartbeat-only status updates are skipped.
func nodeChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*corev1.Node)
		n, ok2 := e.ObjectNew.(*corev1.Node)
		if !ok1 || !ok2 {
			return true
		}
		return !equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
			nodeFrom(o).Ready != nodeFrom(n).Ready ||
			nodeFrom(o).NetworkUnavailable != nodeFrom(n).NetworkUnavailable ||
			!equality.Semantic.DeepEqual(o.Status.Addresses, n.Status.Addresses)
	}}
}

// poolReadinessChanged passes pool status updates that flip whether the pool
// may hold addresses (poolReady); count updates are skipped.
func poolReadinessChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*v1beta1.IPAddressPool)
		n, ok2 := e.ObjectNew.(*v1beta1.IPAddressPool)
		return !ok1 || !ok2 || poolReady(o) != poolReady(n)
	}}
}

// Package service reconciles LoadBalancer Services: it asks the allocator
// for their addresses and writes status.loadBalancer.ingress, the
// ironlb.io/IPAllocated condition, the pool annotation and events.
package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
	"github.com/ironlb/ironlb/controllers/ipam"
)

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=services/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler assigns addresses to the LoadBalancer Services of one class.
type Reconciler struct {
	Client   client.Client
	IPAM     *ipam.IPAM
	Recorder events.EventRecorder

	// PoolsTouched receives the name of every pool whose usage changed, so
	// the pool reconciler refreshes its status.
	PoolsTouched chan<- event.TypedGenericEvent[string]

	// waiting holds Services that could not get an address; any release
	// gives them another try.
	waiting sync.Map // types.NamespacedName -> struct{}
	retry   chan types.NamespacedName
	// terms holds the sharing terms (see sharingTerms) each Service last
	// got its addresses under. A change gives the waiting Services another
	// try too: a holder that now consents to their namespace, frees a
	// port or adopts their key may let them share its address.
	terms sync.Map // types.NamespacedName -> string
}

// Reconcile brings one Service's addresses and status in line with its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.IPAM.EnsureRestored(ctx); err != nil {
		return ctrl.Result{}, err
	}
	svc := &corev1.Service{}
	if err := r.Client.Get(ctx, req.NamespacedName, svc); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(ctx, req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	switch {
	case r.IPAM.Class().Handles(svc):
		return ctrl.Result{}, r.reconcileNormal(ctx, svc)
	case svc.Spec.Type != corev1.ServiceTypeLoadBalancer:
		return ctrl.Result{}, r.reconcileNotLoadBalancer(ctx, svc)
	default:
		// Another class: never touched, but drop anything we held for it
		// in memory (it may have changed class while we were down).
		r.forget(ctx, req.NamespacedName)
		return ctrl.Result{}, nil
	}
}

func (r *Reconciler) reconcileNormal(ctx context.Context, svc *corev1.Service) error {
	key := client.ObjectKeyFromObject(svc)
	before, _ := r.IPAM.Lookup(key.String())

	// Wait-list the Service before asking: an address released while
	// Assign fails would otherwise wake nobody, and the Service would wait
	// for the next release. A spurious retry costs one no-op reconcile.
	r.waiting.Store(key, struct{}{})
	req, err := r.IPAM.RequestFor(ctx, svc, ipam.IngressIPs(svc))
	var got allocator.Assignment
	if err == nil {
		got, err = r.IPAM.Assign(req.Request)
	}
	if err != nil && allocator.ReasonOf(err) == "" {
		return err // the API server, not the Service, is at fault: retry
	}
	wake := false
	if err != nil {
		// A failed request keeps whatever still-valid lease it held.
		got, _ = r.IPAM.Lookup(key.String())
	} else {
		r.waiting.Delete(key)
		wake = r.termsChanged(key, &req.Request)
	}
	if before.Pool != got.Pool || !slices.Equal(before.IPs, got.IPs) {
		r.touchPools(ctx, before.Pool, got.Pool)
		wake = wake || len(before.IPs) > 0
	}
	if wake {
		r.retryWaiting()
	}
	return r.writeOutcome(ctx, svc, outcome{assignment: got, err: err, aliases: req.Aliases})
}

// reconcileNotLoadBalancer releases the addresses of a Service whose type
// changed away from LoadBalancer and clears what we wrote on it.
func (r *Reconciler) reconcileNotLoadBalancer(ctx context.Context, svc *corev1.Service) error {
	key := client.ObjectKeyFromObject(svc)
	held, holding := r.IPAM.Lookup(key.String())
	_, annotated := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]
	ours := holding || annotated || meta.FindStatusCondition(svc.Status.Conditions, v1beta1.ConditionIPAllocated) != nil
	if !ours {
		return nil
	}
	shown := ipam.IngressIPs(svc) // read before clear empties them
	r.forget(ctx, key)
	if err := r.clear(ctx, svc); err != nil {
		return err
	}
	if released := append(shown, held.IPs...); len(released) > 0 {
		r.Recorder.Eventf(svc, nil, corev1.EventTypeNormal, v1beta1.EventIPReleased, "Release",
			"Released %s: the Service is no longer of type LoadBalancer", joinIPs(released))
	}
	return nil
}

// forget releases whatever a Service held, for a Service that is gone or
// not ours.
func (r *Reconciler) forget(ctx context.Context, key types.NamespacedName) {
	r.waiting.Delete(key)
	r.terms.Delete(key)
	held, ok := r.IPAM.Lookup(key.String())
	if !ok {
		return
	}
	r.IPAM.Release(key.String())
	allocations.WithLabelValues(held.Pool, "released").Inc()
	log.FromContext(ctx).Info("Released addresses", "ips", held.IPs, "pool", held.Pool)
	r.touchPools(ctx, held.Pool)
	r.retryWaiting()
}

// clear removes the status, condition and annotation IronLB wrote.
func (r *Reconciler) clear(ctx context.Context, svc *corev1.Service) error {
	orig := svc.DeepCopy()
	svc.Status.LoadBalancer.Ingress = nil
	meta.RemoveStatusCondition(&svc.Status.Conditions, v1beta1.ConditionIPAllocated)
	if err := r.Client.Status().Patch(ctx, svc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("clearing load-balancer status: %w", err)
	}
	if _, ok := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; ok {
		patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1beta1.AnnotationAllocatedFromPool))
		if err := r.Client.Patch(ctx, svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("removing annotation %s: %w", v1beta1.AnnotationAllocatedFromPool, err)
		}
	}
	return nil
}

func (r *Reconciler) touchPools(ctx context.Context, pools ...string) {
	for _, p := range pools {
		if p == "" {
			continue
		}
		select {
		case r.PoolsTouched <- event.TypedGenericEvent[string]{Object: p}:
		case <-ctx.Done():
			return
		}
	}
}

// termsChanged records the sharing terms a Service now holds its addresses
// under and reports whether they differ from those last recorded. Terms
// not known yet (the first reconcile since the start) are no change: the
// restore on start has read every Service's current terms, and waking the
// waiting Services for each Service then would be a storm of retries.
func (r *Reconciler) termsChanged(key types.NamespacedName, req *allocator.Request) bool {
	now := sharingTerms(req)
	prev, known := r.terms.Swap(key, now)
	return known && prev.(string) != now
}

// sharingTerms sums up what decides whether other Services may share a
// Service's addresses: its key, the namespaces it consents to, its ports
// and, under externalTrafficPolicy Local, its pods. Without a key nobody
// may, whatever the rest.
func sharingTerms(req *allocator.Request) string {
	if req.SharingKey == "" {
		return ""
	}
	local := ""
	if req.LocalSelector != nil {
		local = *req.LocalSelector
	}
	return fmt.Sprintf("%q %q %v %t %q", req.SharingKey, req.SharingNamespaces, req.Ports, req.LocalSelector != nil, local)
}

// retryWaiting gives every Service that could not get an address another
// try, now that one was released or a Service's sharing terms changed.
func (r *Reconciler) retryWaiting() {
	r.waiting.Range(func(k, _ any) bool {
		select {
		case r.retry <- k.(types.NamespacedName):
		default:
			// The queue is full of retries already; the next release or
			// resync will bring this one back.
		}
		return true
	})
}

func joinIPs(ips []netip.Addr) string {
	seen := make([]string, 0, len(ips))
	for _, ip := range ips {
		if s := ip.String(); !slices.Contains(seen, s) {
			seen = append(seen, s)
		}
	}
	return strings.Join(seen, ", ")
}

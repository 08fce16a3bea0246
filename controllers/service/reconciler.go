// Package service reconciles LoadBalancer Services: it asks the IPAM for
// their addresses and writes status.loadBalancer.ingress, the
// ironlb.io/IPAllocated condition, the pool annotation and events.
//
// The controller watches Services (those of type LoadBalancer, and those
// still bearing what IronLB wrote), Namespaces (a label change may admit
// their Services to other pools) and IPAddressPools (a pool created,
// deleted or edited may move, evict or admit any Service), and hears from
// the IPAM, through ipam.IPAM.Retries, of Services waiting for an address
// that a release may now satisfy. See setup.go.
package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/ipam"
)

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=services/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler assigns addresses to the LoadBalancer Services of one class:
// it reads the Service, lets the IPAM decide its addresses, and writes the
// outcome.
type Reconciler struct {
	Client   client.Client
	IPAM     *ipam.IPAM
	Recorder events.EventRecorder

	metrics *metrics // set by SetupWithManager
	// own recognises the watch events of our own status writes.
	own ownWrites
}

// Reconcile brings one Service's addresses and status in line with its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.IPAM.EnsureRestored(ctx); err != nil {
		return ctrl.Result{}, err
	}
	// The cache's own object, not a copy: a reconcile only reads it, and a
	// Service that needs no write (most reconciles at rest) costs no copy.
	// Whatever writes builds its own object (see writeOutcome, clear).
	svc := &corev1.Service{}
	if err := r.Client.Get(ctx, req.NamespacedName, svc, client.UnsafeDisableDeepCopy); err != nil {
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
	a, err := r.IPAM.Allocate(ctx, svc)
	if err != nil {
		return err // the API server, not the Service, is at fault: retry
	}
	return r.writeOutcome(ctx, svc, outcome{assignment: a.Assignment, err: a.Err, aliases: a.Aliases})
}

// reconcileNotLoadBalancer releases the addresses of a Service whose type
// changed away from LoadBalancer and clears what we wrote on it.
func (r *Reconciler) reconcileNotLoadBalancer(ctx context.Context, svc *corev1.Service) error {
	key := client.ObjectKeyFromObject(svc)
	held, holding := r.IPAM.Lookup(key)
	_, annotated := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]
	ours := holding || annotated || meta.FindStatusCondition(svc.Status.Conditions, v1beta1.ConditionIPAllocated) != nil
	if !ours {
		// Nothing held or shown; a refusal whose status write failed may
		// still count it pending.
		r.IPAM.Release(key)
		return nil
	}
	shown := ipam.IngressIPs(svc)
	r.forget(ctx, key)
	cleared, err := r.clear(ctx, svc)
	if err != nil {
		return err
	}
	if released := append(shown, held.IPs...); len(released) > 0 {
		r.Recorder.Eventf(cleared, nil, corev1.EventTypeNormal, v1beta1.EventIPReleased, "Release",
			"Released %s: the Service is no longer of type LoadBalancer", joinIPs(released))
	}
	return nil
}

// forget releases whatever a Service held, for a Service that is gone or
// not ours.
func (r *Reconciler) forget(ctx context.Context, key types.NamespacedName) {
	r.own.forget(key)
	held, ok := r.IPAM.Release(key)
	if !ok {
		return
	}
	r.metrics.allocations.WithLabelValues(held.Pool, "released").Inc()
	log.FromContext(ctx).Info("Released addresses", "ips", held.IPs, "pool", held.Pool)
}

// clear removes the status, condition and annotation IronLB wrote, and
// returns the Service as written. cached is the cache's object: it is
// copied, not changed.
func (r *Reconciler) clear(ctx context.Context, cached *corev1.Service) (*corev1.Service, error) {
	orig, svc := cached, cached.DeepCopy()
	svc.Status.LoadBalancer.Ingress = nil
	meta.RemoveStatusCondition(&svc.Status.Conditions, v1beta1.ConditionIPAllocated)
	if err := r.Client.Status().Patch(ctx, svc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, fmt.Errorf("clearing load-balancer status: %w", err)
	}
	if _, ok := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; ok {
		patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1beta1.AnnotationAllocatedFromPool))
		if err := r.Client.Patch(ctx, svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return nil, fmt.Errorf("removing annotation %s: %w", v1beta1.AnnotationAllocatedFromPool, err)
		}
	}
	return svc, nil
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

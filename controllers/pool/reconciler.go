// Package pool reconciles IPAddressPools: it hands valid pools to the
// allocator (through the IPAM), reports usage and validity in status, and
// holds a pool that is being deleted until no Service uses its addresses.
//
// The controller watches IPAddressPools (any pool event sends every pool
// through, since validity depends on overlaps with the others) and hears
// from the IPAM, through ipam.IPAM.UsageChanges, of pools whose usage
// changed as Services got or lost addresses. See setup.go.
package pool

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/ipam"
)

// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools/finalizers,verbs=update

// Reconciler keeps one IPAddressPool's finalizer and status.
type Reconciler struct {
	Client   client.Client
	IPAM     *ipam.IPAM
	Recorder events.EventRecorder

	metrics *metrics // set by SetupWithManager
}

// Reconcile re-reads every pool (validity depends on the others), then
// brings this pool's finalizer and status up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.IPAM.EnsureRestored(ctx); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.IPAM.SyncPools(ctx); err != nil {
		return ctrl.Result{}, err
	}

	pool := &v1beta1.IPAddressPool{}
	if err := r.Client.Get(ctx, req.NamespacedName, pool); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forget(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !pool.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, pool)
	}
	// Add the finalizer before anything else, so a pool never hands out an
	// address while it could vanish without waiting for its users.
	if controllerutil.AddFinalizer(pool, v1beta1.PoolProtectionFinalizer) {
		if err := r.Client.Update(ctx, pool); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer %s: %w", v1beta1.PoolProtectionFinalizer, err)
		}
	}
	return ctrl.Result{}, r.writeStatus(ctx, pool, nil)
}

// reconcileDelete lets the pool go once no Service holds one of its
// addresses. Until then the Services keep their addresses, the pool hands out
// nothing new, and its Ready condition says who holds it back.
func (r *Reconciler) reconcileDelete(ctx context.Context, pool *v1beta1.IPAddressPool) error {
	if users := r.IPAM.Users(pool.Name); users > 0 {
		blocked := &metav1.Condition{
			Type:   v1beta1.ConditionReady,
			Status: metav1.ConditionFalse,
			Reason: v1beta1.ReasonPoolDeleting,
			Message: fmt.Sprintf("Deletion waits for %d Service(s) still using addresses of this pool; "+
				"delete them or move them to another pool", users),
		}
		return r.writeStatus(ctx, pool, blocked)
	}
	if controllerutil.RemoveFinalizer(pool, v1beta1.PoolProtectionFinalizer) {
		if err := r.Client.Update(ctx, pool); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing finalizer %s: %w", v1beta1.PoolProtectionFinalizer, err)
		}
	}
	return nil
}

// writeStatus writes counts, the last valid spec and the Ready condition
// (override, when set, replaces the one derived from the pool's validity).
func (r *Reconciler) writeStatus(ctx context.Context, pool *v1beta1.IPAddressPool, override *metav1.Condition) error {
	orig := pool.DeepCopy()
	verdict, judged := r.IPAM.Verdict(pool.Name)
	ready := readyCondition(verdict, judged)
	if override != nil {
		ready = *override
	}
	ready.ObservedGeneration = pool.Generation
	meta.SetStatusCondition(&pool.Status.Conditions, ready)
	pool.Status.ObservedGeneration = pool.Generation
	recordValidSpec(pool, verdict, judged)
	r.setCounts(pool)

	if equality.Semantic.DeepEqual(orig.Status, pool.Status) {
		return nil
	}
	// A full update, not a merge patch: zero counts must be written too,
	// and a conflict (resourceVersion) is retried with fresh data.
	if err := r.Client.Status().Update(ctx, pool); err != nil {
		return fmt.Errorf("writing pool status: %w", err)
	}
	r.eventOnFlip(pool, meta.FindStatusCondition(orig.Status.Conditions, v1beta1.ConditionReady), ready)
	return nil
}

// recordValidSpec copies a spec just accepted into status.lastValidSpec: the
// memory of what an invalid pool keeps must outlive this process (see
// ipam.IPAM.EnsureRestored). Only a verdict on this very spec counts.
func recordValidSpec(pool *v1beta1.IPAddressPool, v ipam.PoolVerdict, judged bool) {
	if judged && v.Valid() && v.UID == pool.UID && v.Generation == pool.Generation {
		pool.Status.LastValidSpec = pool.Spec.DeepCopy()
	}
}

// readyCondition derives the Ready condition from the pool's verdict, v
// (ok: there is one yet).
func readyCondition(v ipam.PoolVerdict, ok bool) metav1.Condition {
	c := metav1.Condition{Type: v1beta1.ConditionReady}
	switch {
	case !ok:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, "Pending", "The pool has not been validated yet"
	case !v.Valid() && v.Kept != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v.Reason, v.Message+
			"; Services keep the addresses they have from the last valid spec, and the pool hands out no new ones until fixed"
	case !v.Valid():
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v.Reason, v.Message+"; the pool hands out no addresses until fixed"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, v1beta1.ReasonPoolValid, "The pool hands out addresses"
	}
	return c
}

func (r *Reconciler) setCounts(pool *v1beta1.IPAddressPool) {
	st, ok := r.IPAM.Stats(pool.Name)
	if !ok {
		pool.Status.AssignedIPv4, pool.Status.AvailableIPv4, pool.Status.AssignedIPv6 = 0, 0, 0
		pool.Status.AvailableIPv6 = "0"
		r.metrics.forget(pool.Name)
		return
	}
	pool.Status.AssignedIPv4 = st.AssignedIPv4
	pool.Status.AvailableIPv4 = st.AvailableIPv4
	pool.Status.AssignedIPv6 = st.AssignedIPv6
	pool.Status.AvailableIPv6 = st.AvailableIPv6.String()
	r.metrics.record(pool.Name, st)
}

// eventOnFlip tells people when the pool becomes usable or unusable.
func (r *Reconciler) eventOnFlip(pool *v1beta1.IPAddressPool, old *metav1.Condition, now metav1.Condition) {
	if old != nil && old.Status == now.Status && old.Reason == now.Reason {
		return
	}
	if now.Status == metav1.ConditionFalse {
		r.Recorder.Eventf(pool, nil, corev1.EventTypeWarning, now.Reason, "Validate", "%s", now.Message)
	} else if old != nil && old.Status == metav1.ConditionFalse && now.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(pool, nil, corev1.EventTypeNormal, now.Reason, "Validate", "%s", now.Message)
	}
}

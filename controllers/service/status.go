package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
	"github.com/ironlb/ironlb/controllers/ipam"
)

// outcome is the result of one allocation attempt for a Service.
type outcome struct {
	// assignment is what the Service holds now (possibly its old lease
	// after a failed request, possibly nothing).
	assignment allocator.Assignment
	// err is the allocation failure, an *allocator.Error, or nil.
	err error
	// aliases lists MetalLB annotations read in place of ours.
	aliases []string
}

func (o outcome) condition(generation int64) metav1.Condition {
	c := metav1.Condition{
		Type:               v1beta1.ConditionIPAllocated,
		ObservedGeneration: generation,
	}
	if o.err != nil {
		c.Status = metav1.ConditionFalse
		c.Reason = allocator.ReasonOf(o.err)
		c.Message = o.err.Error()
		return c
	}
	c.Status = metav1.ConditionTrue
	c.Reason = v1beta1.ReasonAllocated
	c.Message = fmt.Sprintf("Assigned %s from pool %s", joinIPs(o.assignment.IPs), o.assignment.Pool)
	return c
}

// writeOutcome writes the status, condition and pool annotation that o
// implies, then tells people what changed. Nothing is written, and no event
// is sent, when nothing changed: a resync is silent. svc is the cache's
// object: it is read, never changed.
func (r *Reconciler) writeOutcome(ctx context.Context, svc *corev1.Service, o outcome) error {
	oldIPs := ipam.IngressIPs(svc)
	oldCond := meta.FindStatusCondition(svc.Status.Conditions, v1beta1.ConditionIPAllocated)

	cond := o.condition(svc.Generation)
	regarding := svc // the events name the version last written
	if p, changed := patchFor(svc, o.assignment, cond); changed {
		written, err := r.writeStatus(ctx, svc, p, o.assignment.Pool)
		if err != nil {
			return err
		}
		regarding = written
	}
	r.announce(regarding, o, oldIPs, oldCond, cond)
	return nil
}

// statusPatch is the JSON merge patch of one status write, built from what
// changes rather than by diffing two copies of the Service: the diff (two
// JSON encodings of the Service and a JSON merge) cost as much CPU as the
// rest of the reconcile. As with any merge patch, a list that changes (the
// addresses, the conditions) goes in whole.
type statusPatch struct {
	Metadata struct {
		// ResourceVersion is the version read: the write fails, rather than
		// overwrite, should anyone have written the Service since (an
		// optimistic lock).
		ResourceVersion string `json:"resourceVersion"`
		// Annotations holds the pool annotation when it changes; a nil
		// value removes it.
		Annotations map[string]*string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Status struct {
		LoadBalancer *loadBalancerPatch `json:"loadBalancer,omitempty"`
		Conditions   []metav1.Condition `json:"conditions,omitempty"`
	} `json:"status"`
}

type loadBalancerPatch struct {
	// Ingress nil removes every address.
	Ingress []corev1.LoadBalancerIngress `json:"ingress"`
}

// patchFor returns the patch that brings svc's addresses, condition and
// pool annotation in line with a and cond, and whether there is anything to
// write.
func patchFor(svc *corev1.Service, a allocator.Assignment, cond metav1.Condition) (statusPatch, bool) {
	var p statusPatch
	if lb := ingress(a.IPs); !equality.Semantic.DeepEqual(svc.Status.LoadBalancer.Ingress, lb) {
		p.Status.LoadBalancer = &loadBalancerPatch{Ingress: lb}
	}
	conditions := slices.Clone(svc.Status.Conditions)
	if meta.SetStatusCondition(&conditions, cond) {
		p.Status.Conditions = conditions
	}
	if current, has := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; has != (a.Pool != "") || current != a.Pool {
		p.setPool(a.Pool)
	}
	return p, p.Status.LoadBalancer != nil || p.Status.Conditions != nil || p.Metadata.Annotations != nil
}

// setPool sets ironlb.io/ip-allocated-from-pool to pool, or removes it for "".
func (p *statusPatch) setPool(pool string) {
	var value *string
	if pool != "" {
		value = &pool
	}
	p.Metadata.Annotations = map[string]*string{v1beta1.AnnotationAllocatedFromPool: value}
}

// writeStatus writes p, on top of the version of svc read, in one request
// for status and annotation: the Service status subresource keeps metadata
// changes (it resets only the spec), which halves the API calls per Service.
// pool is the pool the Service now holds addresses of ("": none). It returns
// the Service as written.
func (r *Reconciler) writeStatus(ctx context.Context, svc *corev1.Service, p statusPatch, pool string) (*corev1.Service, error) {
	p.Metadata.ResourceVersion = svc.ResourceVersion
	data, err := json.Marshal(&p)
	if err != nil {
		return nil, fmt.Errorf("writing load-balancer status: %w", err)
	}
	key := client.ObjectKeyFromObject(svc)
	written := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name}}
	r.own.begin(key, svc.ResourceVersion)
	if err := r.Client.Status().Patch(ctx, written, client.RawPatch(types.MergePatchType, data)); err != nil {
		r.own.forget(key)
		return nil, fmt.Errorf("writing load-balancer status: %w", err)
	}
	r.own.done(key, written.ResourceVersion)
	// Should an API server ever drop metadata on status writes, fall
	// back to a patch of the object itself.
	return written, r.annotatePool(ctx, written, pool)
}

func ingress(ips []netip.Addr) []corev1.LoadBalancerIngress {
	if len(ips) == 0 {
		return nil
	}
	vip := corev1.LoadBalancerIPModeVIP
	out := make([]corev1.LoadBalancerIngress, 0, len(ips))
	for _, ip := range ips {
		out = append(out, corev1.LoadBalancerIngress{IP: ip.String(), IPMode: &vip})
	}
	return out
}

// annotatePool sets ironlb.io/ip-allocated-from-pool, or removes it when the
// Service holds nothing.
func (r *Reconciler) annotatePool(ctx context.Context, svc *corev1.Service, pool string) error {
	current, has := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]
	if (pool == "" && !has) || (pool != "" && has && current == pool) {
		return nil
	}
	value := "null"
	if pool != "" {
		value = fmt.Sprintf("%q", pool)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, v1beta1.AnnotationAllocatedFromPool, value)
	if err := r.Client.Patch(ctx, svc, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("writing annotation %s: %w", v1beta1.AnnotationAllocatedFromPool, err)
	}
	return nil
}

// announce sends the events and counts the metrics of a change, and only
// of a change.
func (r *Reconciler) announce(svc *corev1.Service, o outcome, oldIPs []netip.Addr, oldCond *metav1.Condition, cond metav1.Condition) {
	newIPs := o.assignment.IPs
	ipsChanged := !slices.Equal(oldIPs, newIPs)
	condChanged := oldCond == nil || oldCond.Status != cond.Status || oldCond.Reason != cond.Reason || oldCond.Message != cond.Message

	switch {
	case ipsChanged && len(newIPs) > 0:
		r.metrics.allocations.WithLabelValues(o.assignment.Pool, "assigned").Inc()
		r.Recorder.Eventf(svc, nil, corev1.EventTypeNormal, v1beta1.EventIPAllocated, "Allocate",
			"%s%s", cond.Message, r.whyMoved(oldIPs, newIPs))
	case ipsChanged:
		r.Recorder.Eventf(svc, nil, corev1.EventTypeNormal, v1beta1.EventIPReleased, "Release",
			"Released %s%s", joinIPs(oldIPs), r.whyMoved(oldIPs, newIPs))
	}
	if o.err != nil && condChanged {
		r.metrics.failures.WithLabelValues(cond.Reason).Inc()
		r.Recorder.Eventf(svc, nil, corev1.EventTypeWarning, v1beta1.EventAllocationFailed, "Allocate",
			"%s: %s", cond.Reason, cond.Message)
	}
	if len(o.aliases) > 0 && (ipsChanged || condChanged) {
		r.Recorder.Eventf(svc, nil, corev1.EventTypeWarning, v1beta1.EventDeprecatedAlias, "Allocate",
			"MetalLB annotation accepted as an alias; please use the IronLB name: %s", strings.Join(o.aliases, ", "))
	}
}

// whyMoved explains, for an event, why addresses a Service had are gone.
func (r *Reconciler) whyMoved(oldIPs, newIPs []netip.Addr) string {
	var reasons []string
	for _, ip := range oldIPs {
		if slices.Contains(newIPs, ip) {
			continue
		}
		if _, inPool := r.IPAM.PoolOf(ip); !inPool {
			reasons = append(reasons, fmt.Sprintf("%s is no longer in any usable pool", ip))
		} else {
			reasons = append(reasons, fmt.Sprintf("%s no longer matches the Service's request", ip))
		}
	}
	if len(reasons) == 0 {
		return ""
	}
	if len(newIPs) > 0 {
		return " (moved: " + strings.Join(reasons, "; ") + ")"
	}
	return ": " + strings.Join(reasons, "; ")
}

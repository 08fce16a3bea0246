package service

import (
	"encoding/json"
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
)

// TestPatchForWritesWhatADiffWould: the patch built from what changes leaves
// a Service exactly as the merge patch diffed from a changed copy of it
// would, and is written in the same cases.
func TestPatchForWritesWhatADiffWould(t *testing.T) {
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	assigned := allocator.Assignment{Pool: "lan", IPs: []netip.Addr{ip("192.0.2.1"), ip("2001:db8::1")}}
	vip := corev1.LoadBalancerIPModeVIP
	shown := func(ips ...string) corev1.ServiceStatus {
		var st corev1.ServiceStatus
		for _, s := range ips {
			st.LoadBalancer.Ingress = append(st.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: s, IPMode: &vip})
		}
		return st
	}
	withCond := func(st corev1.ServiceStatus, c metav1.Condition) corev1.ServiceStatus {
		c.LastTransitionTime = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		st.Conditions = append(st.Conditions, c)
		return st
	}
	allocated := metav1.Condition{Type: v1beta1.ConditionIPAllocated, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonAllocated,
		Message: "Assigned 192.0.2.1, 2001:db8::1 from pool lan", ObservedGeneration: 1}
	foreign := metav1.Condition{Type: "example.com/Other", Status: metav1.ConditionTrue, Reason: "Other", Message: "not ours"}
	exhausted := &allocator.Error{Reason: v1beta1.ReasonPoolExhausted, Message: "No address left in pool lan"}

	tests := []struct {
		name        string
		status      corev1.ServiceStatus
		annotations map[string]string
		o           outcome
	}{
		{name: "new Service", o: outcome{assignment: assigned}},
		{name: "nothing changed", status: withCond(shown("192.0.2.1", "2001:db8::1"), allocated),
			annotations: map[string]string{v1beta1.AnnotationAllocatedFromPool: "lan"}, o: outcome{assignment: assigned}},
		{name: "only the annotation is missing", status: withCond(shown("192.0.2.1", "2001:db8::1"), allocated),
			o: outcome{assignment: assigned}},
		{name: "moved, next to another writer's condition", status: withCond(withCond(shown("192.0.2.9"), foreign), allocated),
			annotations: map[string]string{v1beta1.AnnotationAllocatedFromPool: "old", "keep": "me"}, o: outcome{assignment: assigned}},
		{name: "failed, next to another writer's condition", status: withCond(withCond(shown("192.0.2.1"), foreign), allocated),
			annotations: map[string]string{v1beta1.AnnotationAllocatedFromPool: "lan"}, o: outcome{err: exhausted}},
		{name: "failed, keeping nothing", status: withCond(shown("192.0.2.1"), allocated),
			annotations: map[string]string{v1beta1.AnnotationAllocatedFromPool: "lan"}, o: outcome{err: exhausted}},
		{name: "failed, keeping its lease", status: withCond(shown("192.0.2.1", "2001:db8::1"), allocated),
			annotations: map[string]string{v1beta1.AnnotationAllocatedFromPool: "lan"}, o: outcome{assignment: assigned, err: exhausted}},
		{name: "an address someone else wrote", status: shown("198.51.100.7"), o: outcome{assignment: assigned}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Generation: 1, Annotations: tc.annotations},
				Status:     tc.status,
			}
			cond := tc.o.condition(svc.Generation)
			// A fixed transition time: both sides would otherwise read the clock.
			cond.LastTransitionTime = metav1.NewTime(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))

			diffed, wantWrite := diffedPatch(t, svc, tc.o.assignment, cond)
			p, write := patchFor(svc, tc.o.assignment, cond)
			if write != wantWrite {
				t.Fatalf("patchFor writes: %t, a diff would: %t", write, wantWrite)
			}
			if !write {
				return
			}
			p.Metadata.ResourceVersion = "7" // as writeStatus sets it
			built, err := json.Marshal(&p)
			if err != nil {
				t.Fatal(err)
			}
			// An empty map or list is stored as none.
			if diff := cmp.Diff(patched(t, svc, diffed), patched(t, svc, built), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Service after the patch (-diffed +built):\n%s\ndiffed: %s\nbuilt:  %s", diff, diffed, built)
			}
		})
	}
}

// diffedPatch is how the Service controller wrote before: change a copy,
// diff it against the original with an optimistic lock.
func diffedPatch(t *testing.T, svc *corev1.Service, a allocator.Assignment, cond metav1.Condition) ([]byte, bool) {
	t.Helper()
	orig := svc.DeepCopy()
	orig.ResourceVersion = "7"
	mod := orig.DeepCopy()
	mod.Status.LoadBalancer.Ingress = ingress(a.IPs)
	meta.SetStatusCondition(&mod.Status.Conditions, cond)
	if pool := a.Pool; pool == "" {
		delete(mod.Annotations, v1beta1.AnnotationAllocatedFromPool)
	} else {
		if mod.Annotations == nil {
			mod.Annotations = map[string]string{}
		}
		mod.Annotations[v1beta1.AnnotationAllocatedFromPool] = a.Pool
	}
	if equality.Semantic.DeepEqual(orig.Status, mod.Status) && maps.Equal(orig.Annotations, mod.Annotations) {
		return nil, false
	}
	data, err := client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}).Data(mod)
	if err != nil {
		t.Fatal(err)
	}
	return data, true
}

// patched applies a JSON merge patch to svc and decodes the result, as the
// API server does.
func patched(t *testing.T, svc *corev1.Service, patch []byte) *corev1.Service {
	t.Helper()
	var doc, p any
	data, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		t.Fatal(err)
	}
	if data, err = json.Marshal(mergePatch(doc, p)); err != nil {
		t.Fatal(err)
	}
	out := &corev1.Service{}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// mergePatch is RFC 7386: objects merge key by key, null removes a key,
// anything else (lists included) replaces the target.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, _ := target.(map[string]any)
	out := maps.Clone(t)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}

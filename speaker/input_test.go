package speaker

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// poolObj is an IPAddressPool as the controller leaves it: Ready with
// reason, or without a Ready condition when reason is "".
func poolObj(name string, ready metav1.ConditionStatus, reason string, addrs ...string) v1beta1.IPAddressPool {
	p := v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
	if reason != "" {
		p.Status.Conditions = []metav1.Condition{{Type: v1beta1.ConditionReady, Status: ready, Reason: reason}}
	}
	return p
}

// lbObj is a Service holding ip, with the pool the controller recorded
// ("" for none).
func lbObj(name, ip, recorded string) corev1.Service {
	s := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{
			Ingress: []corev1.LoadBalancerIngress{{IP: ip}},
		}},
	}
	if recorded != "" {
		s.Annotations = map[string]string{v1beta1.AnnotationAllocatedFromPool: recorded}
	}
	return s
}

// announcedFrom runs the decision over the objects as the speaker reads them,
// with one live node and one L2Advertisement naming advPools, and returns the
// addresses announced.
func announcedFrom(pools []v1beta1.IPAddressPool, svcs []corev1.Service, advPools ...string) []netip.Addr {
	in := announce.Input{
		Nodes: []announce.Node{{Name: "n1", Ready: true}},
		Live:  map[string]bool{"n1": true},
	}
	for i := range pools {
		in.Pools = append(in.Pools, poolFrom(&pools[i]))
	}
	for i := range svcs {
		if s, ok := serviceFrom(&svcs[i], nil); ok {
			in.Services = append(in.Services, s)
		}
	}
	in.L2Advertisements = []announce.L2Advertisement{{Name: "l2", Pools: announce.PoolSelector{Names: advPools}}}
	var out []netip.Addr
	for ip := range announce.Compute(in).L2Owned("n1") {
		out = append(out, ip)
	}
	return out
}

// An IP belongs to the pool the controller recorded on its Service when that
// pool contains it, else to a Ready pool containing it: a pool that is not
// Ready (overlapping, unparseable) never takes a valid pool's IP away from
// the advertisement that announces it. Pools that keep their Services'
// addresses while invalid or being deleted keep them announced.
func TestInvalidPoolNeverWithdrawsAValidOne(t *testing.T) {
	const ip = "192.0.2.10"
	valid := poolObj("lan", metav1.ConditionTrue, v1beta1.ReasonPoolValid, "192.0.2.0/24")
	// Sorts before "lan": the first pool a name-ordered lookup finds.
	overlapping := poolObj("edge", metav1.ConditionFalse, v1beta1.ReasonOverlap, "192.0.2.0/28")
	tests := []struct {
		name     string
		pools    []v1beta1.IPAddressPool
		svc      corev1.Service
		advPools []string
		want     []string
	}{{
		name:     "overlapping invalid pool, IP recorded from the valid one",
		pools:    []v1beta1.IPAddressPool{overlapping, valid},
		svc:      lbObj("web", ip, "lan"),
		advPools: []string{"lan"},
		want:     []string{ip},
	}, {
		name:     "overlapping invalid pool, no recorded pool",
		pools:    []v1beta1.IPAddressPool{overlapping, valid},
		svc:      lbObj("web", ip, ""),
		advPools: []string{"lan"},
		want:     []string{ip},
	}, {
		name:     "the invalid pool's own advertisement does not announce the valid pool's IP",
		pools:    []v1beta1.IPAddressPool{overlapping, valid},
		svc:      lbObj("web", ip, "lan"),
		advPools: []string{"edge"},
	}, {
		name:     "a pool still pending validation takes nothing from a Ready one",
		pools:    []v1beta1.IPAddressPool{poolObj("edge", metav1.ConditionUnknown, "Pending", "192.0.2.0/28"), valid},
		svc:      lbObj("web", ip, ""),
		advPools: []string{"lan"},
		want:     []string{ip},
	}, {
		name: "recorded pool invalid after an edit: its Services keep their addresses, still announced",
		pools: []v1beta1.IPAddressPool{
			poolObj("lan", metav1.ConditionFalse, v1beta1.ReasonInvalidAddress, "192.0.2.0/24", "not-an-address"),
		},
		svc:      lbObj("web", ip, "lan"),
		advPools: []string{"lan"},
		want:     []string{ip},
	}, {
		name: "pool being deleted: its Services keep their addresses, still announced",
		pools: []v1beta1.IPAddressPool{
			poolObj("lan", metav1.ConditionFalse, v1beta1.ReasonPoolDeleting, "192.0.2.0/24"),
		},
		svc:      lbObj("web", ip, ""),
		advPools: []string{"lan"},
		want:     []string{ip},
	}, {
		name:     "recorded pool no longer contains the IP: the Ready pool that does",
		pools:    []v1beta1.IPAddressPool{poolObj("old", metav1.ConditionTrue, v1beta1.ReasonPoolValid, "198.51.100.0/24"), valid},
		svc:      lbObj("web", ip, "old"),
		advPools: []string{"lan"},
		want:     []string{ip},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := announcedFrom(tc.pools, []corev1.Service{tc.svc}, tc.advPools...)
			var want []netip.Addr
			for _, s := range tc.want {
				want = append(want, netip.MustParseAddr(s))
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("announced (-want +got):\n%s", diff)
			}
		})
	}
}

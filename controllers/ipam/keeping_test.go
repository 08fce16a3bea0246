package ipam

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/api/v1beta1"
)

func TestValidateKeepingPrefersEstablishedPools(t *testing.T) {
	tests := []struct {
		name        string
		pools       []v1beta1.IPAddressPool
		established []string
		want        map[string]string // pool -> reason ("" = valid)
	}{{
		name:        "same second: the pool in use wins over a newcomer named first",
		pools:       []v1beta1.IPAddressPool{pool("z-in-use", time.Hour, "192.0.2.0/28"), pool("a-new", time.Hour, "192.0.2.0/29")},
		established: []string{"z-in-use"},
		want:        map[string]string{"z-in-use": "", "a-new": v1beta1.ReasonOverlap},
	}, {
		name:        "an older pool edited into an overlap loses to the pool in use",
		pools:       []v1beta1.IPAddressPool{pool("old-edited", 2*time.Hour, "192.0.2.0/28"), pool("young", time.Hour, "192.0.2.8/29")},
		established: []string{"young"},
		want:        map[string]string{"old-edited": v1beta1.ReasonOverlap, "young": ""},
	}, {
		name:        "among established pools the older wins",
		pools:       []v1beta1.IPAddressPool{pool("b", time.Hour, "192.0.2.0/28"), pool("a", 2*time.Hour, "192.0.2.0/29")},
		established: []string{"a", "b"},
		want:        map[string]string{"a": "", "b": v1beta1.ReasonOverlap},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			est := func(p *v1beta1.IPAddressPool) bool {
				for _, n := range tc.established {
					if n == p.Name {
						return true
					}
				}
				return false
			}
			got := map[string]string{}
			for name, v := range ValidateKeeping(tc.pools, est, nil) {
				got[name] = v.Reason
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

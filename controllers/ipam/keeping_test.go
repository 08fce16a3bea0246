package ipam

import (
	"net/netip"
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

// What an invalid pool keeps outlives the process that accepted its last
// valid spec: this process's memory first, else the spec recorded in
// status.lastValidSpec, else (nothing recorded, as after an upgrade) just
// the addresses its Services show, so that a start never releases an
// address because its pool is present but invalid.
func TestLastValidOutlivesTheProcess(t *testing.T) {
	broken := pool("edited", time.Hour, "192.0.2.0/33")
	broken.UID = "uid-1"
	recorded := broken.DeepCopy()
	recorded.Status.LastValidSpec = &v1beta1.IPAddressPoolSpec{Addresses: []string{"192.0.2.0/28"}}
	remembered, _, err := Translate(ptr(pool("edited", time.Hour, "192.0.2.0/27")))
	if err != nil {
		t.Fatal(err)
	}
	shown := []netip.Addr{netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.3"),
		netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("127.0.0.1")}

	tests := []struct {
		name   string
		pool   *v1beta1.IPAddressPool
		memory map[string]PoolVerdict
		shown  []netip.Addr
		want   []string // the kept ranges; nil = nothing kept
	}{{
		name: "a fresh process reads the recorded spec",
		pool: recorded, want: []string{"192.0.2.0/28"},
	}, {
		name:   "this process's memory comes first",
		pool:   recorded,
		memory: map[string]PoolVerdict{"edited": {UID: "uid-1", Pool: remembered}},
		want:   []string{"192.0.2.0/27"},
	}, {
		name:   "memory of another object of the same name does not count",
		pool:   recorded,
		memory: map[string]PoolVerdict{"edited": {UID: "uid-0", Pool: remembered}},
		want:   []string{"192.0.2.0/28"},
	}, {
		name: "nothing recorded: the addresses Services show, each once, special ones left out",
		pool: &broken, shown: shown, want: []string{"192.0.2.3", "198.51.100.7"},
	}, {
		name: "nothing recorded and nothing shown",
		pool: &broken,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(nil, nil, v1beta1.ClassFilter{})
			m.verdicts = tc.memory
			kept, ok := m.lastValid(tc.pool, tc.shown)
			var got []string
			for _, r := range kept.Ranges {
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || ok != (tc.want != nil) {
				t.Errorf("kept %v (ok %t); (-want +got):\n%s", got, ok, diff)
			}
		})
	}
}

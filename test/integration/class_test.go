//go:build envtest

package integration

import (
	"testing"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers"
)

// Class handling both ways (docs/api.md, "Load-balancer class"): Services of our
// class are handled, class-less ones only with --default-class, and a
// Service of any other class is never touched: no status, no event, not
// counted in pool usage.
func TestLoadBalancerClass(t *testing.T) {
	tests := []struct {
		name    string
		class   string // --load-balancer-class
		dflt    bool   // --default-class
		handled []svcOpt
		ignored []svcOpt
	}{{
		name:    "defaults",
		class:   v1beta1.DefaultLoadBalancerClass,
		dflt:    true,
		handled: []svcOpt{class(v1beta1.DefaultLoadBalancerClass), classless},
		ignored: []svcOpt{class("example.com/other-lb")},
	}, {
		name:    "default-class false",
		class:   v1beta1.DefaultLoadBalancerClass,
		dflt:    false,
		handled: []svcOpt{class(v1beta1.DefaultLoadBalancerClass)},
		ignored: []svcOpt{classless, class("example.com/other-lb")},
	}, {
		name:    "custom class",
		class:   "example.com/custom",
		dflt:    false,
		handled: []svcOpt{class("example.com/custom")},
		ignored: []svcOpt{class(v1beta1.DefaultLoadBalancerClass), classless},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			startController(t, controllers.Options{
				Class:   v1beta1.ClassFilter{Class: tc.class, Default: tc.dflt},
				Workers: 4,
			})
			pool := "it-class"
			createPool(t, pool, []string{"192.0.2.0/28"})
			ns := newNamespace(t)
			var ignored []string
			for i, opt := range tc.ignored {
				name := "ignored-" + string(rune('a'+i))
				createService(t, lbService(ns, name, opt))
				ignored = append(ignored, name)
			}
			for i, opt := range tc.handled {
				name := "handled-" + string(rune('a'+i))
				createService(t, lbService(ns, name, opt))
				waitAllocated(t, ns, name)
			}
			resyncAll(t, len(tc.handled)+len(tc.ignored))
			consistently(t, "Services of another class untouched", func() error {
				for _, name := range ignored {
					if err := untouched(t, ns, name); err != nil {
						return err
					}
				}
				return nil
			})
			// Only our Services count in the pool's usage.
			eventually(t, "pool usage counts our Services only", func() error {
				p := getPool(t, pool)
				if p.Status.AssignedIPv4 != int64(len(tc.handled)) {
					return errorf("assignedIPv4 = %d, want %d", p.Status.AssignedIPv4, len(tc.handled))
				}
				return nil
			})
		})
	}
}

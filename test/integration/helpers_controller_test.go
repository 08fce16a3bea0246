//go:build envtest

package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers"
)

// defaultOptions are ironlb-controller's defaults: class ironlb.io/ironlb,
// class-less Services handled too.
func defaultOptions() controllers.Options {
	return controllers.Options{
		Class:   v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: true},
		Workers: 16,
	}
}

// startController runs ironlb-controller's reconcilers in-process against
// the test API server until the returned stop is called or the test ends.
// Start it before creating the test's pools and Services, so that their
// cleanups (which need the controller to remove the pool finalizer) run
// before it stops.
func startController(t *testing.T, opts controllers.Options) (stop func()) {
	t.Helper()
	stop = launchController(t, opts)
	t.Cleanup(stop)
	return stop
}

// restartableController starts the controller like startController and
// returns functions to stop it and to start a new one (a restart, or a
// take-over by another replica: nothing is carried over but what is stored
// in the API server). Whichever runs last is stopped at cleanup, after the
// cleanups registered later.
func restartableController(t *testing.T, opts controllers.Options) (stop, start func()) {
	t.Helper()
	current := launchController(t, opts)
	t.Cleanup(func() { current() })
	stop = func() { current() }
	start = func() {
		t.Helper()
		current()
		current = launchController(t, opts)
	}
	return stop, start
}

// launchController starts the controller like startController, but leaves
// stopping it to the caller.
func launchController(t *testing.T, opts controllers.Options) (stop func()) {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS, cfg.Burst = 200, 400 // cmd/controller's defaults
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		// Several managers run one after another in this process; their
		// controllers share names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if err := controllers.Setup(mgr, opts); err != nil {
		t.Fatalf("setting up controllers: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("controller stopped with an error: %v", err)
			}
		})
	}
	return stop
}

// reconcileTotal is how many Services the controllers started in this
// process have reconciled, from controller-runtime's own metric.
func reconcileTotal(t *testing.T, controller string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	var sum float64
	for _, mf := range families {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

var resyncs int

// resyncAll makes the controller look at every LoadBalancer Service again,
// the way any change to the set of pools does, by adding a small pool that
// nobody uses; it waits until at least n Services were reconciled since.
func resyncAll(t *testing.T, n int) {
	t.Helper()
	resyncs++
	before := reconcileTotal(t, "service")
	createPool(t, fmt.Sprintf("it-resync-%d", resyncs), []string{fmt.Sprintf("2001:db8:ffff:%x::/120", resyncs)}, manualAssign())
	eventually(t, "every Service reconciled again", func() error {
		if got := reconcileTotal(t, "service") - before; got < float64(n) {
			return fmt.Errorf("%v reconciles so far", got)
		}
		return nil
	})
}

//go:build envtest

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers"
)

// A replica taking over leadership restores the addresses Services hold
// from the API server itself, not from its cache: its cache may not have
// seen yet the last status the previous leader wrote just before the
// hand-over, and would let it hand that address to someone else.
//
// The replica here is a standby whose Service cache was filled before it
// led (as with a warmed-up cache); its Service watch is then held back, the
// way a lagging watch looks from the client, while the previous leader's
// last write lands: "holder", just turned into a LoadBalancer Service, gets
// the pool's only address. Then the Lease is handed over.
func TestHandOverRestoresFromAPIServer(t *testing.T) {
	ns := newNamespace(t)
	const lease = "it-handover"
	holdLease(t, ns, lease, "previous-leader")
	gate := &watchGate{}
	replica := launchStandby(t, defaultOptions(), ns, lease, gate)

	createPool(t, "it-handover", []string{"192.0.2.5/32"})
	holder := lbService(ns, "holder", fromPool("it-handover"))
	holder.Spec.Type = corev1.ServiceTypeClusterIP
	createService(t, holder)
	createService(t, lbService(ns, "newcomer", fromPool("it-handover")))
	eventually(t, "the standby's cache holds both Services", func() error {
		for _, name := range []string{"holder", "newcomer"} {
			if err := replica.GetCache().Get(ctx(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.Service{}); err != nil {
				return err
			}
		}
		return nil
	})

	// Released first at cleanup: the replica must see the Services go to
	// let the pool go, and a held watch would block its shutdown.
	t.Cleanup(gate.release)
	gate.hold()
	updateService(t, ns, "holder", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer })
	writeAllocated(t, ns, "holder", "192.0.2.5", "it-handover")
	releaseLease(t, ns, lease)

	eventually(t, "the new leader decides on newcomer", func() error {
		if ipAllocated(getService(t, ns, "newcomer")) == nil {
			return errors.New("no IPAllocated condition yet")
		}
		return nil
	})
	newcomer := getService(t, ns, "newcomer")
	if ips := ingressIPs(newcomer); slices.Contains(ips, "192.0.2.5") {
		t.Fatalf("newcomer shows %v: the new leader handed out 192.0.2.5, which holder showed before the hand-over", ips)
	}
	if c := ipAllocated(newcomer); c.Status != metav1.ConditionFalse || c.Reason != v1beta1.ReasonPoolExhausted {
		t.Errorf("newcomer IPAllocated is %s/%s: %s; want False/%s", c.Status, c.Reason, c.Message, v1beta1.ReasonPoolExhausted)
	}

	// Once the watch catches up (a Service created after the held events
	// comes after them in the stream), the address is still holder's.
	gate.release()
	createService(t, lbService(ns, "late", fromPool("it-handover")))
	waitFailed(t, ns, "late", v1beta1.ReasonPoolExhausted)
	consistently(t, "holder keeps the address, newcomer gets none", func() error {
		if ips := ingressIPs(getService(t, ns, "holder")); !slices.Equal(ips, []string{"192.0.2.5"}) {
			return fmt.Errorf("holder shows %v", ips)
		}
		if ips := ingressIPs(getService(t, ns, "newcomer")); len(ips) > 0 {
			return fmt.Errorf("newcomer shows %v", ips)
		}
		return nil
	})
}

// writeAllocated writes what a leader writes on a Service that got ip from
// pool: the annotation, then the status with its IPAllocated condition.
func writeAllocated(t *testing.T, ns, name, ip, pool string) {
	t.Helper()
	updateService(t, ns, name, func(s *corev1.Service) {
		annotated(v1beta1.AnnotationAllocatedFromPool, pool)(s)
	})
	eventually(t, "writing the status of "+ns+"/"+name, func() error {
		svc := getService(t, ns, name)
		vip := corev1.LoadBalancerIPModeVIP
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip, IPMode: &vip}}
		meta.SetStatusCondition(&svc.Status.Conditions, metav1.Condition{
			Type: v1beta1.ConditionIPAllocated, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonAllocated,
			Message: fmt.Sprintf("Assigned %s from pool %s", ip, pool), ObservedGeneration: svc.Generation,
		})
		return k8s.Status().Update(ctx(), svc)
	})
}

// --- leader election ---

// holdLease creates the leader-election Lease as held, for a long time, by
// identity, which plays the previous leader.
func holdLease(t *testing.T, ns, name, identity string) {
	t.Helper()
	now := metav1.NewMicroTime(time.Now())
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(identity),
			LeaseDurationSeconds: ptr.To[int32](3600),
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
	if err := k8s.Create(ctx(), l); err != nil {
		t.Fatalf("creating lease: %v", err)
	}
}

// releaseLease gives the Lease up the way a leader stepping down does: no
// holder.
func releaseLease(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "releasing lease "+name, func() error {
		l := &coordinationv1.Lease{}
		if err := k8s.Get(ctx(), client.ObjectKey{Namespace: ns, Name: name}, l); err != nil {
			return err
		}
		l.Spec.HolderIdentity = ptr.To("")
		l.Spec.LeaseDurationSeconds = ptr.To[int32](1)
		return k8s.Update(ctx(), l)
	})
}

// launchStandby starts a controller replica that waits for the Lease ns/lease
// before it reconciles anything. Its cache runs at once, and its Service
// informer is started before it leads; gate can hold back that informer's
// watch. It is stopped at cleanup.
func launchStandby(t *testing.T, opts controllers.Options, ns, lease string, gate *watchGate) ctrl.Manager {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.Wrap(gate.wrap)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                true,
		LeaderElectionID:              lease,
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 ptr.To(15 * time.Second),
		RenewDeadline:                 ptr.To(10 * time.Second),
		RetryPeriod:                   ptr.To(200 * time.Millisecond),
		Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if err := controllers.Setup(mgr, opts); err != nil {
		t.Fatalf("setting up controllers: %v", err)
	}
	// The controllers' own informers start only once they lead; this one
	// starts with the cache, as a warmed-up standby's would.
	if _, err := mgr.GetCache().GetInformer(ctx(), &corev1.Service{}); err != nil {
		t.Fatalf("starting the Service informer: %v", err)
	}
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller stopped with an error: %v", err)
		}
	})
	return mgr
}

// --- a lagging watch ---

// watchGate holds back what the API server streams to one client's Service
// watches: while held, events still arrive, but only reach the informer
// once released. Every other request passes untouched.
type watchGate struct {
	mu   sync.Mutex
	held chan struct{} // closed on release; nil while open
}

func (g *watchGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
}

func (g *watchGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

func (g *watchGate) wait() {
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if held != nil {
		<-held
	}
}

func (g *watchGate) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil || req.URL.Path != "/api/v1/services" || req.URL.Query().Get("watch") != "true" {
			return resp, err
		}
		resp.Body = &gatedBody{ReadCloser: resp.Body, gate: g}
		return resp, nil
	})
}

// gatedBody hands on what it read only while its gate is open.
type gatedBody struct {
	io.ReadCloser
	gate *watchGate
}

func (b *gatedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.gate.wait()
	return n, err
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

package integration

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers"
)

// Generous limits: the API server and the controller share two cores with
// whatever else runs. Nothing asserts on how long anything took.
const (
	waitTimeout = 90 * time.Second
	pollEvery   = 100 * time.Millisecond
	// quietPeriod is how long a test watches for something that must not
	// happen (a write, an event) after giving the controller every reason
	// to do it.
	quietPeriod = 3 * time.Second
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

// newNamespace creates a namespace of the test's own. Namespaces are left
// behind: envtest runs no namespace controller to finish deleting them.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ironlb-it-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// --- pools ---

type poolOpt func(*v1beta1.IPAddressPool)

func manualAssign() poolOpt {
	return func(p *v1beta1.IPAddressPool) { p.Spec.AutoAssign = ptr.To(false) }
}

func avoidBuggyIPs() poolOpt {
	return func(p *v1beta1.IPAddressPool) { p.Spec.AvoidBuggyIPs = true }
}

func onlyNamespaces(ns ...string) poolOpt {
	return func(p *v1beta1.IPAddressPool) {
		p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{Namespaces: ns}
	}
}

// createPool creates a pool and, at cleanup, deletes it and waits until the
// controller has let it go.
func createPool(t *testing.T, name string, addresses []string, opts ...poolOpt) *v1beta1.IPAddressPool {
	t.Helper()
	p := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addresses},
	}
	for _, o := range opts {
		o(p)
	}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatalf("creating pool %s: %v", name, err)
	}
	t.Cleanup(func() { deleteAndWait(t, &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}}) })
	return p
}

func getPool(t *testing.T, name string) *v1beta1.IPAddressPool {
	t.Helper()
	p := &v1beta1.IPAddressPool{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
		t.Fatalf("reading pool %s: %v", name, err)
	}
	return p
}

// updatePool applies change to the stored pool, retrying on conflicts
// with the controller's own writes.
func updatePool(t *testing.T, name string, change func(*v1beta1.IPAddressPool)) {
	t.Helper()
	eventually(t, "updating pool "+name, func() error {
		p := getPool(t, name)
		change(p)
		return k8s.Update(context.Background(), p)
	})
}

// waitPoolReady waits for the pool's Ready condition to have status and
// reason, and returns the pool.
func waitPoolReady(t *testing.T, name string, status metav1.ConditionStatus, reason string) *v1beta1.IPAddressPool {
	t.Helper()
	var p *v1beta1.IPAddressPool
	eventually(t, fmt.Sprintf("pool %s Ready=%s/%s", name, status, reason), func() error {
		p = getPool(t, name)
		c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionReady)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("Ready condition is %+v", c)
		}
		return nil
	})
	return p
}

// --- services ---

type svcOpt func(*corev1.Service)

// lbService is a LoadBalancer Service with one TCP port 80, selecting pods
// labelled app=name.
func lbService(ns, name string, opts ...svcOpt) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{
				Name: "p80", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080),
			}},
		},
	}
	for _, o := range opts {
		o(svc)
	}
	return svc
}

func annotated(key, value string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[key] = value
	}
}

func fromPool(name string) svcOpt { return annotated(v1beta1.AnnotationAddressPool, name) }

func wantIPs(ips string) svcOpt { return annotated(v1beta1.AnnotationLoadBalancerIPs, ips) }

func sharingKey(key string) svcOpt { return annotated(v1beta1.AnnotationAllowSharedIP, key) }

// sharingWith consents to share the Service's key with these namespaces.
func sharingWith(namespaces ...string) svcOpt {
	return annotated(v1beta1.AnnotationAllowSharedIPNamespaces, strings.Join(namespaces, ","))
}

func specLoadBalancerIP(ip string) svcOpt {
	return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip }
}

func class(c string) svcOpt {
	return func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To(c) }
}

func ports(ps ...int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = nil
		for _, p := range ps {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{
				Name: fmt.Sprintf("p%d", p), Protocol: corev1.ProtocolTCP, Port: p, TargetPort: intstr.FromInt32(p),
			})
		}
	}
}

func selecting(app string) svcOpt {
	return func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": app} }
}

func localPolicy() svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
}

func families(policy corev1.IPFamilyPolicy, fams ...corev1.IPFamily) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.IPFamilyPolicy = ptr.To(policy)
		s.Spec.IPFamilies = fams
	}
}

func requireDualStack() svcOpt {
	return families(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
}

// createService creates svc and deletes it at cleanup.
func createService(t *testing.T, svc *corev1.Service) *corev1.Service {
	t.Helper()
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatalf("creating service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	key := client.ObjectKeyFromObject(svc)
	t.Cleanup(func() {
		deleteAndWait(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})
	})
	return svc
}

func getService(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatalf("reading service %s/%s: %v", ns, name, err)
	}
	return svc
}

// updateService applies change to the stored Service, retrying on
// conflicts with the controller's own writes.
func updateService(t *testing.T, ns, name string, change func(*corev1.Service)) {
	t.Helper()
	eventually(t, "updating service "+ns+"/"+name, func() error {
		svc := getService(t, ns, name)
		change(svc)
		return k8s.Update(context.Background(), svc)
	})
}

func ingressIPs(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	return out
}

func ipAllocated(svc *corev1.Service) *metav1.Condition {
	return meta.FindStatusCondition(svc.Status.Conditions, v1beta1.ConditionIPAllocated)
}

// waitAllocated waits until the Service shows its addresses and an
// IPAllocated=True condition, and its IPAllocated event is recorded
// (events are written asynchronously), and returns it.
func waitAllocated(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	var svc *corev1.Service
	eventually(t, fmt.Sprintf("service %s/%s gets an IP", ns, name), func() error {
		svc = getService(t, ns, name)
		c := ipAllocated(svc)
		switch {
		case c == nil:
			return errors.New("no IPAllocated condition yet")
		case c.Status != metav1.ConditionTrue:
			return fmt.Errorf("IPAllocated is %s/%s: %s", c.Status, c.Reason, c.Message)
		case len(svc.Status.LoadBalancer.Ingress) == 0:
			return errors.New("IPAllocated is True but status.loadBalancer.ingress is empty")
		case svc.Annotations[v1beta1.AnnotationAllocatedFromPool] == "":
			return errors.New("no pool annotation yet")
		case eventCounts(t, ns, name)[v1beta1.EventIPAllocated] == 0:
			return errors.New("no IPAllocated event yet")
		}
		return nil
	})
	return svc
}

// waitFailed waits until the Service's IPAllocated condition is False with
// reason and an AllocationFailed event is recorded, and returns it.
func waitFailed(t *testing.T, ns, name, reason string) *corev1.Service {
	t.Helper()
	var svc *corev1.Service
	eventually(t, fmt.Sprintf("service %s/%s fails with %s", ns, name, reason), func() error {
		svc = getService(t, ns, name)
		c := ipAllocated(svc)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason {
			return fmt.Errorf("IPAllocated is %+v", c)
		}
		if eventCounts(t, ns, name)[v1beta1.EventAllocationFailed] == 0 {
			return errors.New("no AllocationFailed event yet")
		}
		return nil
	})
	return svc
}

// --- events ---

// serviceEvents lists the events.k8s.io/v1 Events regarding a Service.
func serviceEvents(t *testing.T, ns, name string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing events in %s: %v", ns, err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "Service" && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// occurrences counts how often an event was emitted: an Event object stands
// for a whole series of identical ones.
func occurrences(e eventsv1.Event) int {
	if e.Series != nil {
		return int(e.Series.Count)
	}
	return 1
}

// eventCounts tallies a Service's events by reason.
func eventCounts(t *testing.T, ns, name string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range serviceEvents(t, ns, name) {
		out[e.Reason] += occurrences(e)
	}
	return out
}

// waitEvent waits for an event regarding the Service with this type and
// reason whose note contains every one of contains, and returns it.
func waitEvent(t *testing.T, ns, name, eventType, reason string, contains ...string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, fmt.Sprintf("%s event %s on %s/%s mentioning %q", eventType, reason, ns, name, contains), func() error {
		var seen []string
		for _, e := range serviceEvents(t, ns, name) {
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Note)
			if e.Type != eventType || e.Reason != reason {
				continue
			}
			if allIn(e.Note, contains) {
				found = e
				return nil
			}
		}
		return fmt.Errorf("events so far: %q", seen)
	})
	return found
}

func allIn(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// --- waiting ---

// eventually polls f until it returns nil, failing the test with f's last
// error when waitTimeout passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	eventuallyWithin(t, waitTimeout, what, f)
}

func eventuallyWithin(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s: %v", what, err)
		}
		time.Sleep(pollEvery)
	}
}

// consistently checks f for quietPeriod and fails the test as soon as it
// returns an error: f describes something that must not change.
func consistently(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(quietPeriod)
	for time.Now().Before(deadline) {
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(pollEvery)
	}
}

// deleteAndWait deletes obj and waits until it is gone; it is meant for
// cleanups, so it reports rather than stops.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s: %v", obj.GetName(), err)
		return
	}
	key := client.ObjectKeyFromObject(obj)
	deadline := time.Now().Add(waitTimeout)
	for {
		err := k8s.Get(ctx, key, obj)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still exists after deletion (finalizers %v, err %v)", key, obj.GetFinalizers(), err)
			return
		}
		time.Sleep(pollEvery)
	}
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// createMany creates n LoadBalancer Services named prefix-0000... from 16
// goroutines, the way a burst of users would, and deletes them all at
// cleanup.
func createMany(t *testing.T, ns, prefix string, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	t.Cleanup(func() {
		err := parallel(n, 16, func(i int) error {
			err := k8s.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names[i]}})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
		if err != nil {
			t.Errorf("deleting services: %v", err)
		}
	})
	if err := parallel(n, 16, func(i int) error {
		return k8s.Create(context.Background(), lbService(ns, names[i]))
	}); err != nil {
		t.Fatalf("creating services: %v", err)
	}
	return names
}

// listServices returns the namespace's Services by name.
func listServices(t *testing.T, ns string) map[string]*corev1.Service {
	t.Helper()
	var list corev1.ServiceList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing services: %v", err)
	}
	out := make(map[string]*corev1.Service, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// inPrefix reports whether every IP lies in prefix.
func inPrefix(t *testing.T, prefix string, ips ...string) bool {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || !p.Contains(ip) {
			return false
		}
	}
	return len(ips) > 0
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

// classless leaves spec.loadBalancerClass unset.
func classless(*corev1.Service) {}

func ctx() context.Context { return context.Background() }

func keyOf(name string) client.ObjectKey { return client.ObjectKey{Name: name} }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

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

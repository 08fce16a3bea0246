//go:build envtest

package integration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// bulkTimeout bounds waits on hundreds of Services.
const bulkTimeout = 4 * time.Minute

// A restart changes no IP: the new controller re-reads all 500 assigned
// addresses before it hands out anything new, and says nothing about
// Services whose addresses did not change.
func TestRestartChangesNoIP(t *testing.T) {
	const n = 500
	stop, start := restartableController(t, defaultOptions())
	createPool(t, "it-restart", []string{"198.51.100.0/24", "203.0.113.0/24"})
	ns := newNamespace(t)
	createMany(t, ns, "svc", n)
	before := waitSettled(t, ns, n)
	if len(before.assigned) != n {
		t.Fatalf("%d of %d Services got an IP before the restart; failures: %v", len(before.assigned), n, before.failed)
	}
	if err := distinct(before.assigned); err != nil {
		t.Fatal(err)
	}

	// Events are written asynchronously: count them once all are in.
	eventuallyWithin(t, bulkTimeout, "an IPAllocated event for every Service", func() error {
		if got := len(servicesWithEvent(t, ns, v1beta1.EventIPAllocated, "")); got != n {
			return fmt.Errorf("%d Services have one", got)
		}
		return nil
	})
	stop()
	eventsBefore := namespaceEvents(t, ns, "after-restart")
	reconciled := reconcileTotal(t, "service")
	start()

	// A Service created right away must not get any of the 500 addresses:
	// they are all restored before anything new is handed out.
	createService(t, lbService(ns, "after-restart"))
	fresh := ingressIPs(waitAllocated(t, ns, "after-restart"))
	for name, ips := range before.assigned {
		if slices.Equal(ips, fresh) {
			t.Fatalf("the new Service got %v, the address of %s", fresh, name)
		}
	}
	// Wait until the new controller has looked at every Service.
	eventuallyWithin(t, bulkTimeout, "the new controller reconciles every Service", func() error {
		if got := reconcileTotal(t, "service") - reconciled; got < n+1 {
			return fmt.Errorf("%v reconciles since the restart", got)
		}
		return nil
	})
	consistently(t, "no IP changed and no event was sent", func() error {
		after := settledState(t, ns)
		delete(after.assigned, "after-restart")
		if diff := cmp.Diff(before.assigned, after.assigned); diff != "" {
			return fmt.Errorf("IPs changed across the restart (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(eventsBefore, namespaceEvents(t, ns, "after-restart")); diff != "" {
			return fmt.Errorf("events sent by the restart (-before +after):\n%s", diff)
		}
		return nil
	})
	eventually(t, "pool status counts every address", func() error {
		if got := getPool(t, "it-restart").Status.AssignedIPv4; got != n+1 {
			return fmt.Errorf("assignedIPv4 = %d, want %d", got, n+1)
		}
		return nil
	})
}

// 300 Services created at once into a pool of 256 addresses: exactly 256
// distinct IPs, 44 PoolExhausted; deleting 10 lets exactly 10 waiting ones
// get the freed addresses.
func TestConcurrentBurstIntoSmallPool(t *testing.T) {
	const (
		n        = 300
		poolSize = 256 // 198.51.100.0/24 without avoidBuggyIPs
		deleted  = 10
	)
	startController(t, defaultOptions())
	createPool(t, "it-burst", []string{"198.51.100.0/24"})
	ns := newNamespace(t)
	createMany(t, ns, "burst", n)

	first := waitSettled(t, ns, n)
	checkBurst(t, first, poolSize, n-poolSize)
	eventually(t, "pool status shows the pool full", func() error {
		st := getPool(t, "it-burst").Status
		if st.AssignedIPv4 != poolSize || st.AvailableIPv4 != 0 {
			return fmt.Errorf("assignedIPv4 %d, availableIPv4 %d", st.AssignedIPv4, st.AvailableIPv4)
		}
		return nil
	})
	eventually(t, "an AllocationFailed event for each waiting Service", func() error {
		got := servicesWithEvent(t, ns, v1beta1.EventAllocationFailed, v1beta1.ReasonPoolExhausted)
		if diff := cmp.Diff(slices.Sorted(maps.Keys(first.failed)), got); diff != "" {
			return fmt.Errorf("Services with a PoolExhausted event (-want +got):\n%s", diff)
		}
		return nil
	})

	// Free 10 addresses.
	victims := slices.Sorted(maps.Keys(first.assigned))[:deleted]
	freed := map[string]bool{}
	for _, name := range victims {
		freed[first.assigned[name][0]] = true
		deleteAndWait(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	}
	var second burst
	eventuallyWithin(t, bulkTimeout, "10 waiting Services get the freed addresses", func() error {
		second = settledState(t, ns)
		if len(second.assigned) != poolSize {
			return fmt.Errorf("%d Services hold addresses", len(second.assigned))
		}
		return nil
	})
	checkBurst(t, second, poolSize, n-poolSize-deleted)
	for name, ips := range first.assigned {
		if !slices.Contains(victims, name) && !slices.Equal(second.assigned[name], ips) {
			t.Errorf("%s moved from %v to %v", name, ips, second.assigned[name])
		}
	}
	var newcomers []string
	for name, ips := range second.assigned {
		if _, had := first.assigned[name]; !had {
			newcomers = append(newcomers, name)
			if !freed[ips[0]] {
				t.Errorf("%s got %s, which was not freed", name, ips[0])
			}
		}
	}
	if len(newcomers) != deleted {
		t.Errorf("%d waiting Services got addresses, want %d: %v", len(newcomers), deleted, newcomers)
	}
	consistently(t, "no more Services get addresses", func() error {
		if got := settledState(t, ns); len(got.assigned) != poolSize {
			return fmt.Errorf("%d Services hold addresses", len(got.assigned))
		}
		return nil
	})
}

// Releases and new Services at once leave no address idle while a Service
// waits: every release wakes the waiting Services, including those whose
// allocation was failing at that very moment.
func TestChurnLeavesNoAddressIdle(t *testing.T) {
	const (
		poolSize = 32 // 198.51.100.0/27
		n        = 48
		churn    = 16
	)
	startController(t, defaultOptions())
	createPool(t, "it-churn", []string{"198.51.100.0/27"})
	ns := newNamespace(t)
	createMany(t, ns, "old", n)
	first := waitSettled(t, ns, n)
	checkBurstIn(t, first, "198.51.100.0/27", poolSize, n-poolSize)

	// Delete half of the holders while as many new Services arrive.
	victims := slices.Sorted(maps.Keys(first.assigned))[:churn]
	var newNames []string
	for i := range churn {
		newNames = append(newNames, fmt.Sprintf("new-%04d", i))
	}
	t.Cleanup(func() {
		for _, name := range newNames {
			deleteAndWait(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		}
	})
	if err := parallel(2*churn, 8, func(i int) error {
		if i%2 == 0 {
			return k8s.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: victims[i/2]}})
		}
		return k8s.Create(context.Background(), lbService(ns, newNames[i/2]))
	}); err != nil {
		t.Fatalf("churning: %v", err)
	}
	var second burst
	eventuallyWithin(t, bulkTimeout, "every freed address taken by a waiting Service", func() error {
		second = settledState(t, ns)
		if len(second.assigned) != poolSize || len(second.failed) != n-poolSize {
			return fmt.Errorf("%d hold addresses, %d failed, %d pending", len(second.assigned), len(second.failed), len(second.pending))
		}
		return nil
	})
	checkBurstIn(t, second, "198.51.100.0/27", poolSize, n-poolSize)
}

// burst is the state of a namespace of Services.
type burst struct {
	assigned map[string][]string // name -> IPs, for IPAllocated=True
	failed   map[string]string   // name -> reason, for IPAllocated=False
	pending  []string            // no condition yet
}

func settledState(t *testing.T, ns string) burst {
	t.Helper()
	b := burst{assigned: map[string][]string{}, failed: map[string]string{}}
	for name, svc := range listServices(t, ns) {
		c := ipAllocated(svc)
		switch {
		case c == nil:
			b.pending = append(b.pending, name)
		case c.Status == metav1.ConditionTrue && len(svc.Status.LoadBalancer.Ingress) > 0:
			b.assigned[name] = ingressIPs(svc)
		case c.Status == metav1.ConditionFalse:
			b.failed[name] = c.Reason
		default:
			b.pending = append(b.pending, name)
		}
	}
	return b
}

// waitSettled waits until each of the namespace's n Services holds an
// address or has failed.
func waitSettled(t *testing.T, ns string, n int) burst {
	t.Helper()
	var b burst
	eventuallyWithin(t, bulkTimeout, fmt.Sprintf("%d Services settle", n), func() error {
		b = settledState(t, ns)
		if got := len(b.assigned) + len(b.failed); got != n {
			return fmt.Errorf("%d settled, %d pending", got, len(b.pending))
		}
		return nil
	})
	return b
}

func checkBurst(t *testing.T, b burst, assigned, exhausted int) {
	t.Helper()
	checkBurstIn(t, b, "198.51.100.0/24", assigned, exhausted)
}

// checkBurstIn checks that exactly assigned Services hold one distinct
// address of prefix each and exhausted ones wait with PoolExhausted.
func checkBurstIn(t *testing.T, b burst, prefix string, assigned, exhausted int) {
	t.Helper()
	if len(b.assigned) != assigned || len(b.failed) != exhausted {
		t.Fatalf("%d Services hold addresses and %d failed, want %d and %d", len(b.assigned), len(b.failed), assigned, exhausted)
	}
	for name, reason := range b.failed {
		if reason != v1beta1.ReasonPoolExhausted {
			t.Errorf("%s failed with %s, want %s", name, reason, v1beta1.ReasonPoolExhausted)
		}
	}
	for name, ips := range b.assigned {
		if len(ips) != 1 || !inPrefix(t, prefix, ips...) {
			t.Errorf("%s holds %v, want one address of %s", name, ips, prefix)
		}
	}
	if err := distinct(b.assigned); err != nil {
		t.Error(err)
	}
}

// distinct checks that no two Services hold the same address.
func distinct(assigned map[string][]string) error {
	owner := map[string]string{}
	for name, ips := range assigned {
		for _, ip := range ips {
			if other, ok := owner[ip]; ok {
				return fmt.Errorf("%s is held by both %s and %s", ip, other, name)
			}
			owner[ip] = name
		}
	}
	return nil
}

// namespaceEvents counts the events about the namespace's Services by
// Service and reason, leaving out those about except.
func namespaceEvents(t *testing.T, ns, except string) map[string]int {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing events: %v", err)
	}
	out := map[string]int{}
	for _, e := range list.Items {
		if e.Regarding.Kind == "Service" && e.Regarding.Name != except {
			out[e.Regarding.Name+"/"+e.Reason] += occurrences(e)
		}
	}
	return out
}

// servicesWithEvent lists, sorted, the Services of ns with an event of
// this reason whose note contains contains.
func servicesWithEvent(t *testing.T, ns, reason, contains string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing events: %v", err)
	}
	seen := map[string]bool{}
	for _, e := range list.Items {
		if e.Regarding.Kind == "Service" && e.Reason == reason && allIn(e.Note, []string{contains}) {
			seen[e.Regarding.Name] = true
		}
	}
	out := slices.Collect(maps.Keys(seen))
	sort.Strings(out)
	return out
}

// A Service whose changed request cannot be met keeps the address it had
// (and says why it did not get the new one); a restart changes neither.
func TestRestartKeepsAddressOfFailingRequest(t *testing.T) {
	stop, start := restartableController(t, defaultOptions())
	createPool(t, "it-restart-failing", []string{"192.0.2.0/28"})
	ns := newNamespace(t)
	createService(t, lbService(ns, "holder"))
	taken := ingressIPs(waitAllocated(t, ns, "holder"))[0]
	createService(t, lbService(ns, "web"))
	had := ingressIPs(waitAllocated(t, ns, "web"))
	updateService(t, ns, "web", func(s *corev1.Service) {
		s.Annotations = map[string]string{v1beta1.AnnotationLoadBalancerIPs: taken}
	})
	svc := waitFailed(t, ns, "web", v1beta1.ReasonIPUnavailable)
	if got := ingressIPs(svc); !slices.Equal(got, had) {
		t.Fatalf("after the failed change the Service shows %v, want the %v it had", got, had)
	}
	waitEvent(t, ns, "web", corev1.EventTypeWarning, v1beta1.EventAllocationFailed, taken)
	stop()
	before := map[string]snapshot{"holder": takeSnapshot(t, ns, "holder"), "web": takeSnapshot(t, ns, "web")}

	reconciled := reconcileTotal(t, "service")
	start()
	eventually(t, "the new controller reconciles both Services", func() error {
		if got := reconcileTotal(t, "service") - reconciled; got < 2 {
			return fmt.Errorf("%v reconciles since the restart", got)
		}
		return nil
	})
	consistently(t, "the restart changes nothing", func() error {
		for name, s := range before {
			if err := unchangedSince(t, ns, name, s); err != nil {
				return err
			}
		}
		return nil
	})
}

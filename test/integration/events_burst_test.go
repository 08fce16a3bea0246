//go:build envtest

package integration

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// A burst of Services gets, per Service, exactly one Event: IPAllocated,
// Normal, naming the address and pool it got, reported by
// ironlb-controller, regarding the Service as the controller wrote it.
func TestBurstEventsOnePerService(t *testing.T) {
	startController(t, defaultOptions())
	const pool = "it-events-burst"
	createPool(t, pool, []string{"203.0.113.128/26"})
	ns := newNamespace(t)
	names := createMany(t, ns, "ev", 40)
	for _, name := range names {
		waitAllocated(t, ns, name)
	}

	svcs := listServices(t, ns)
	byService := map[string][]eventsv1.Event{}
	eventually(t, "every Service's event listed", func() error {
		byService = map[string][]eventsv1.Event{}
		for _, e := range allEvents(t, ns) {
			byService[e.Regarding.Name] = append(byService[e.Regarding.Name], e)
		}
		if len(byService) < len(names) {
			return fmt.Errorf("events regard %d of %d Services", len(byService), len(names))
		}
		return nil
	})
	for _, name := range names {
		svc := svcs[name]
		evs := byService[name]
		if len(evs) != 1 {
			t.Errorf("%s: got %d events, want one IPAllocated: %s", name, len(evs), describe(evs))
			continue
		}
		if err := checkAllocatedEvent(evs[0], svc, pool); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// allEvents lists the namespace's events.k8s.io/v1 Events.
func allEvents(t *testing.T, ns string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(ctx(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing events in %s: %v", ns, err)
	}
	return list.Items
}

// checkAllocatedEvent compares an Event with what the controller's
// IPAllocated Event for svc, as it reads now, says.
func checkAllocatedEvent(e eventsv1.Event, svc *corev1.Service, pool string) error {
	ips := ingressIPs(svc)
	want := fmt.Sprintf("Assigned %s from pool %s", strings.Join(ips, ", "), pool)
	switch {
	case e.Type != corev1.EventTypeNormal || e.Reason != v1beta1.EventIPAllocated || e.Action != "Allocate":
		return fmt.Errorf("event is %s/%s/%s, want Normal/%s/Allocate", e.Type, e.Reason, e.Action, v1beta1.EventIPAllocated)
	case e.Note != want:
		return fmt.Errorf("note %q, want %q", e.Note, want)
	case e.ReportingController != "ironlb-controller" || !strings.HasPrefix(e.ReportingInstance, "ironlb-controller-"):
		return fmt.Errorf("reported by %s/%s, want ironlb-controller/ironlb-controller-<host>", e.ReportingController, e.ReportingInstance)
	case e.Regarding.Kind != "Service" || e.Regarding.APIVersion != "v1" || e.Regarding.Namespace != svc.Namespace || e.Regarding.UID != svc.UID:
		return fmt.Errorf("regards %+v, want Service v1 %s/%s uid %s", e.Regarding, svc.Namespace, svc.Name, svc.UID)
	case e.Regarding.ResourceVersion != svc.ResourceVersion:
		// Nothing but the controller's one write changed the Service.
		return fmt.Errorf("regards version %s, want %s, the one the controller wrote", e.Regarding.ResourceVersion, svc.ResourceVersion)
	case e.Series != nil || e.EventTime.IsZero():
		return fmt.Errorf("series %+v, time %v: want a single event with its time", e.Series, e.EventTime)
	}
	return nil
}

func describe(evs []eventsv1.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+"/"+e.Reason+": "+e.Note)
	}
	return fmt.Sprintf("%q", out)
}

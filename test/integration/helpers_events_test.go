//go:build envtest

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

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

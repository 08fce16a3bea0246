package service

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// The counters keep their names, help and labels on the registry they are
// given, and a controller set up again in the same process (tests, a
// restart) carries on with the same series instead of failing to register.
func TestMetricsRegisterOnceAndCarryOn(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	first.allocations.WithLabelValues("lan", "assigned").Inc()
	second, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("second setup on one registry: %v", err)
	}
	second.allocations.WithLabelValues("lan", "assigned").Inc()
	second.failures.WithLabelValues("PoolExhausted").Inc()

	want := []string{
		`# HELP ironlb_allocation_failures_total Services that entered a failed allocation state, by reason (NoMatchingPool, PoolExhausted, IPUnavailable, InvalidRequest, SharingConflict).`,
		`ironlb_allocation_failures_total{reason="PoolExhausted"} 1`,
		`# HELP ironlb_allocations_total Addresses assigned to or released from Services, by pool and operation (assigned, released).`,
		`ironlb_allocations_total{operation="assigned",pool="lan"} 2`,
	}
	if diff := cmp.Diff(want, gathered(t, reg)); diff != "" {
		t.Errorf("metrics served (-want +got):\n%s", diff)
	}
}

// pendingCounts stands for the IPAM's count of refused Services.
type pendingCounts map[string]int

func (p pendingCounts) Pending() map[string]int { return p }

// ironlb_services_pending reports every failure reason, 0 when no Service
// has it, once it knows what to count; a controller set up again in the
// same process reports its own IPAM's counts through the gauge already
// registered.
func TestPendingGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := pendingLines(t, reg); len(got) != 0 {
		t.Errorf("before countPending the gauge serves %q, want nothing", got)
	}
	first.countPending(pendingCounts{"PoolExhausted": 5})
	second, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("second setup on one registry: %v", err)
	}
	second.countPending(pendingCounts{"PoolExhausted": 2, "NoMatchingPool": 1})

	want := []string{
		`ironlb_services_pending{reason="IPUnavailable"} 0`,
		`ironlb_services_pending{reason="InvalidRequest"} 0`,
		`ironlb_services_pending{reason="NoMatchingPool"} 1`,
		`ironlb_services_pending{reason="PoolExhausted"} 2`,
		`ironlb_services_pending{reason="SharingConflict"} 0`,
	}
	if diff := cmp.Diff(want, pendingLines(t, reg)); diff != "" {
		t.Errorf("ironlb_services_pending (-want +got):\n%s", diff)
	}
}

// pendingLines are the ironlb_services_pending series reg serves.
func pendingLines(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	var out []string
	for _, l := range gathered(t, reg) {
		if strings.HasPrefix(l, "ironlb_services_pending{") {
			out = append(out, l)
		}
	}
	return out
}

// gathered renders what reg serves, one line per series, like the
// exposition format: "name{label="value",...} value", plus "# HELP name help".
func gathered(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		out = append(out, fmt.Sprintf("# HELP %s %s", f.GetName(), f.GetHelp()))
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out = append(out, fmt.Sprintf("%s{%s} %g", f.GetName(), strings.Join(labels, ","), v))
		}
	}
	return out
}

package layer2

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// counterValue reads one layer-2 counter, 0 when it has no such series.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, kind FrameKind, ifname string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["protocol"] == string(kind) && labels["interface"] == ifname {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// The metrics are registered on the caller's registry, before any Announcer
// exists, and an Announcer given that registry counts on the same series.
func TestRegisterMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := RegisterMetrics(reg); err != nil {
		t.Fatalf("RegisterMetrics: %v", err)
	}
	if err := RegisterMetrics(reg); err != nil {
		t.Fatalf("RegisterMetrics again on the same registry: %v", err)
	}
	a, err := New(Options{Registerer: reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := a.metrics.bind(NDPFrames, "eth0")
	c.requests.Inc()
	c.responses.Inc()
	c.gratuitous.Inc()
	c.malformed.Inc()
	a.metrics.interfaces.WithLabelValues(vip6.String()).Set(1)

	got := map[string]float64{}
	for _, name := range []string{
		"ironlb_layer2_requests_received_total", "ironlb_layer2_responses_sent_total",
		"ironlb_layer2_gratuitous_sent_total", "ironlb_layer2_malformed_packets_total",
	} {
		got[name] = counterValue(t, reg, name, NDPFrames, "eth0")
	}
	for ip, v := range gauges(t, reg) {
		got["ironlb_layer2_address_interfaces/"+ip] = v
	}
	want := map[string]float64{
		"ironlb_layer2_requests_received_total": 1, "ironlb_layer2_responses_sent_total": 1,
		"ironlb_layer2_gratuitous_sent_total": 1, "ironlb_layer2_malformed_packets_total": 1,
		"ironlb_layer2_address_interfaces/2001:db8::50": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series on the caller's registry (-want +got):\n%s", diff)
	}
}

// A registry that already has another metric under one of the names is an
// error, not a silent second series.
func TestRegisterMetricsConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "ironlb_layer2_gratuitous_sent_total", Help: "Another."}))
	if err := RegisterMetrics(reg); err == nil || !strings.Contains(err.Error(), "ironlb_layer2_gratuitous_sent_total") {
		t.Fatalf("RegisterMetrics = %v, want an error naming ironlb_layer2_gratuitous_sent_total", err)
	}
	if _, err := New(Options{Registerer: reg}); err == nil {
		t.Fatal("New succeeded on a registry with a conflicting metric")
	}
}

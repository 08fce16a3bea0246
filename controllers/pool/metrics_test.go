package pool

import (
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/controllers/allocator"
)

// The gauges keep their names, help and labels on the registry they are
// given, a controller set up again in the same process carries on with the
// same series, and a pool's series go with the pool.
func TestMetricsRegisterOnceAndCarryOn(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	first.record("gone", allocator.PoolStats{AvailableIPv4: 1, AvailableIPv6: big.NewInt(0)})
	second, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("second setup on one registry: %v", err)
	}
	second.record("lan", allocator.PoolStats{AssignedIPv4: 3, AvailableIPv4: 13, AssignedIPv6: 1, AvailableIPv6: big.NewInt(255)})
	second.forget("gone")

	want := []string{
		`# HELP ironlb_pool_addresses_total Addresses a pool can hand out (assigned plus available), by pool and family.`,
		`ironlb_pool_addresses_total{family="IPv4",pool="lan"} 16`,
		`ironlb_pool_addresses_total{family="IPv6",pool="lan"} 256`,
		`# HELP ironlb_pool_addresses_used Addresses of a pool held by Services, by pool and family.`,
		`ironlb_pool_addresses_used{family="IPv4",pool="lan"} 3`,
		`ironlb_pool_addresses_used{family="IPv6",pool="lan"} 1`,
	}
	if diff := cmp.Diff(want, gathered(t, reg)); diff != "" {
		t.Errorf("metrics served (-want +got):\n%s", diff)
	}
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

package pool

import (
	"math/big"

	ctrlmetrics "github.com/ironlb/ironlb/controllers/metrics"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/controllers/allocator"
)

// metrics are the pool gauges, by pool and family.
type metrics struct {
	size *prometheus.GaugeVec
	used *prometheus.GaugeVec
}

// newMetrics makes the gauges and registers them on reg, the manager's
// registry (nil: none).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		size: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ironlb_pool_addresses_total",
			Help: "Addresses a pool can hand out (assigned plus available), by pool and family.",
		}, []string{"pool", "family"}),
		used: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ironlb_pool_addresses_used",
			Help: "Addresses of a pool held by Services, by pool and family.",
		}, []string{"pool", "family"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, g := range []**prometheus.GaugeVec{&m.size, &m.used} {
		if err := ctrlmetrics.RegisterOrReuse(reg, g); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) record(pool string, st allocator.PoolStats) {
	// A gauge is a float64: exact up to 2^53, close enough beyond for alerts.
	v6Total, _ := new(big.Float).SetInt(new(big.Int).Add(st.AvailableIPv6, big.NewInt(st.AssignedIPv6))).Float64()
	m.size.WithLabelValues(pool, "IPv4").Set(float64(st.AvailableIPv4 + st.AssignedIPv4))
	m.used.WithLabelValues(pool, "IPv4").Set(float64(st.AssignedIPv4))
	m.size.WithLabelValues(pool, "IPv6").Set(v6Total)
	m.used.WithLabelValues(pool, "IPv6").Set(float64(st.AssignedIPv6))
}

func (m *metrics) forget(pool string) {
	m.size.DeletePartialMatch(prometheus.Labels{"pool": pool})
	m.used.DeletePartialMatch(prometheus.Labels{"pool": pool})
}

package service

import (
	ctrlmetrics "github.com/ironlb/ironlb/controllers/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Service controller's counters.
type metrics struct {
	allocations *prometheus.CounterVec
	failures    *prometheus.CounterVec
}

// newMetrics makes the counters and registers them on reg, the manager's
// registry (nil: none).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		allocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_allocations_total",
			Help: "Addresses assigned to or released from Services, by pool and operation (assigned, released).",
		}, []string{"pool", "operation"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_allocation_failures_total",
			Help: "Services that entered a failed allocation state, by reason (NoMatchingPool, PoolExhausted, IPUnavailable, InvalidRequest, SharingConflict).",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.allocations, &m.failures} {
		if err := ctrlmetrics.RegisterOrReuse(reg, c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

package service

import (
	"errors"

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
		if err := registerOrReuse(reg, c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// registerOrReuse registers *c, or, when a controller set up earlier in
// this process (tests, a restart in process) registered the same metric,
// points *c at that one, so counts carry on.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	var dup prometheus.AlreadyRegisteredError
	if err == nil || !errors.As(err, &dup) {
		return err
	}
	existing, ok := dup.ExistingCollector.(C)
	if !ok {
		return err
	}
	*c = existing
	return nil
}

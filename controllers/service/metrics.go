package service

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	allocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ironlb_allocations_total",
		Help: "Addresses assigned to or released from Services, by pool and operation (assigned, released).",
	}, []string{"pool", "operation"})

	failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ironlb_allocation_failures_total",
		Help: "Services that entered a failed allocation state, by reason (NoMatchingPool, PoolExhausted, IPUnavailable, InvalidRequest, SharingConflict).",
	}, []string{"reason"})
)

func init() {
	metrics.Registry.MustRegister(allocations, failures)
}

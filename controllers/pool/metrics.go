package pool

import (
	"math/big"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ironlb/ironlb/controllers/allocator"
)

var (
	poolSize = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ironlb_pool_addresses_total",
		Help: "Addresses a pool can hand out (assigned plus available), by pool and family.",
	}, []string{"pool", "family"})

	poolUsed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ironlb_pool_addresses_used",
		Help: "Addresses of a pool held by Services, by pool and family.",
	}, []string{"pool", "family"})
)

func init() {
	metrics.Registry.MustRegister(poolSize, poolUsed)
}

func recordMetrics(pool string, st allocator.PoolStats) {
	// A gauge is a float64: exact up to 2^53, close enough beyond for alerts.
	v6Total, _ := new(big.Float).SetInt(new(big.Int).Add(st.AvailableIPv6, big.NewInt(st.AssignedIPv6))).Float64()
	poolSize.WithLabelValues(pool, "IPv4").Set(float64(st.AvailableIPv4 + st.AssignedIPv4))
	poolUsed.WithLabelValues(pool, "IPv4").Set(float64(st.AssignedIPv4))
	poolSize.WithLabelValues(pool, "IPv6").Set(v6Total)
	poolUsed.WithLabelValues(pool, "IPv6").Set(float64(st.AssignedIPv6))
}

func forgetMetrics(pool string) {
	poolSize.DeletePartialMatch(prometheus.Labels{"pool": pool})
	poolUsed.DeletePartialMatch(prometheus.Labels{"pool": pool})
}

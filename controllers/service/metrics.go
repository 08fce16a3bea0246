package service

import (
	"maps"
	"slices"
	"sync"

	ctrlmetrics "github.com/ironlb/ironlb/controllers/metrics"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// metrics are the Service controller's counters and its pending gauge.
type metrics struct {
	allocations *prometheus.CounterVec
	failures    *prometheus.CounterVec
	pending     *pendingCollector
}

// newMetrics makes the metrics and registers them on reg, the manager's
// registry (nil: none). The pending gauge reports nothing until
// countPending names what it counts.
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
		pending: &pendingCollector{},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.allocations, &m.failures} {
		if err := ctrlmetrics.RegisterOrReuse(reg, c); err != nil {
			return nil, err
		}
	}
	if err := ctrlmetrics.RegisterOrReuse(reg, &m.pending); err != nil {
		return nil, err
	}
	return m, nil
}

// countPending makes ironlb_services_pending report what src counts: the
// reconciler's IPAM. A controller set up again in the same process (tests,
// a restart in process) reuses the registered gauge, which then reports
// the new IPAM, the only one still allocating.
func (m *metrics) countPending(src pendingCounter) { m.pending.setSource(src) }

// pendingCounter is what ironlb_services_pending reads: ipam.IPAM.Pending.
type pendingCounter interface {
	Pending() map[string]int
}

// failureReasons are the reasons of a False ironlb.io/IPAllocated
// condition. The gauge always reports each, 0 when no Service has it, so
// that dashboards and alerts see a series rather than none.
var failureReasons = []string{
	v1beta1.ReasonNoMatchingPool,
	v1beta1.ReasonPoolExhausted,
	v1beta1.ReasonIPUnavailable,
	v1beta1.ReasonInvalidRequest,
	v1beta1.ReasonSharingConflict,
}

var pendingDesc = prometheus.NewDesc("ironlb_services_pending",
	"LoadBalancer Services whose address request the controller refuses (condition ironlb.io/IPAllocated False), by reason: "+
		"those waiting for an address, and those keeping an earlier one while a changed request waits. 0 on a standby replica.",
	[]string{"reason"}, nil)

// pendingCollector reads the pending counts at each scrape, so the gauge
// cannot drift from the IPAM's own record.
type pendingCollector struct {
	mu  sync.Mutex
	src pendingCounter
}

func (c *pendingCollector) setSource(src pendingCounter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src = src
}

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pendingDesc }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return
	}
	counts := src.Pending()
	reasons := slices.Clone(failureReasons)
	for _, r := range slices.Sorted(maps.Keys(counts)) {
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	for _, r := range reasons {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(counts[r]), r)
	}
}

package ipam

import (
	"maps"

	"k8s.io/apimachinery/pkg/types"
)

// pendingSet holds the Services whose last request was refused, with the
// reason (v1beta1.ReasonPoolExhausted and the like), and how many there are
// per reason, kept as they change so that reading the counts (every metrics
// scrape) costs the few reasons, not the Services. The IPAM guards it with
// waitMu.
type pendingSet struct {
	reasons map[types.NamespacedName]string
	counts  map[string]int
}

func newPendingSet() pendingSet {
	return pendingSet{reasons: map[types.NamespacedName]string{}, counts: map[string]int{}}
}

// set records that key's request was refused for reason.
func (p pendingSet) set(key types.NamespacedName, reason string) {
	p.clear(key)
	p.reasons[key] = reason
	p.counts[reason]++
}

// clear forgets key, if it was pending.
func (p pendingSet) clear(key types.NamespacedName) {
	old, ok := p.reasons[key]
	if !ok {
		return
	}
	delete(p.reasons, key)
	if p.counts[old]--; p.counts[old] == 0 {
		delete(p.counts, old)
	}
}

// Pending counts, by reason, the Services whose last request was refused:
// those waiting for an address, and those keeping an earlier lease while a
// changed request waits, exactly the Services whose ironlb.io/IPAllocated
// condition is False. A Service leaves the count when a request of it is
// granted and when it is released (deleted, of another class, or no longer
// of type LoadBalancer). Reasons with no Service are absent.
func (m *IPAM) Pending() map[string]int {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	return maps.Clone(m.pending.counts)
}

// refused records that key's request was refused for reason.
func (m *IPAM) refused(key types.NamespacedName, reason string) {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	m.pending.set(key, reason)
}

package ipam

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Retries is the Service controller's source of Services to try again:
// those waiting for an address (their last request failed), each time an
// address was released or a holder's sharing terms changed, either of which
// may let them have one. The API shows neither event in a form a watch could
// order after the change in memory (a deleted Service is released after its
// delete event), so the IPAM, which makes the change, raises it.
//
// One controller consumes it; call it once.
func (m *IPAM) Retries() source.Source {
	return m.retry.source(func(q queue, key types.NamespacedName) {
		q.Add(reconcile.Request{NamespacedName: key})
	})
}

// UsageChanges is the pool controller's source of pools whose usage
// changed in memory: a Service got, moved or lost addresses, including
// changes no Service write shows (a deleted Service, a lease restored as
// the Service shows it). Each pool is enqueued after delay, so a burst of
// Services costs one status write per pool and delay instead of one per
// Service.
//
// One controller consumes it; call it once.
func (m *IPAM) UsageChanges(delay time.Duration) source.Source {
	return m.usage.source(func(q queue, pool string) {
		q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: pool}}, delay)
	})
}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// signal carries in-memory events from the IPAM to a controller's queue
// without ever blocking the IPAM's caller (a reconciler): raise adds keys to
// a pending set and rings a doorbell, a channel of capacity one; the
// controller's channel source, on the bell, takes every pending key into its
// queue. A bell that is already ringing takes the new keys along, so no key
// is lost and nothing waits. The only goroutines are controller-runtime's
// own, for the channel source, and they end with the manager.
type signal[K comparable] struct {
	mu      sync.Mutex
	pending map[K]struct{}
	bell    chan event.TypedGenericEvent[struct{}]
}

func newSignal[K comparable]() *signal[K] {
	return &signal[K]{pending: map[K]struct{}{}, bell: make(chan event.TypedGenericEvent[struct{}], 1)}
}

// raise queues keys for the consumer. It never blocks.
func (s *signal[K]) raise(keys ...K) {
	if len(keys) == 0 {
		return
	}
	s.mu.Lock()
	for _, k := range keys {
		s.pending[k] = struct{}{}
	}
	s.mu.Unlock()
	select {
	case s.bell <- event.TypedGenericEvent[struct{}]{}:
	default:
		// Already ringing: the keys were added before, so the take that
		// answers that ring collects them.
	}
}

// take empties the pending set and returns what it held.
func (s *signal[K]) take() []K {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]K, 0, len(s.pending))
	for k := range s.pending {
		out = append(out, k)
	}
	clear(s.pending)
	return out
}

// source answers every ring by handing the pending keys to enqueue.
func (s *signal[K]) source(enqueue func(queue, K)) source.Source {
	return source.Channel(s.bell, handler.TypedFuncs[struct{}, reconcile.Request]{
		GenericFunc: func(_ context.Context, _ event.TypedGenericEvent[struct{}], q queue) {
			for _, k := range s.take() {
				enqueue(q, k)
			}
		},
	})
}

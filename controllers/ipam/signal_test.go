package ipam

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// raise never blocks, with or without a consumer, and every key raised
// reaches the queue however the rings interleave with the consumer's takes.
func TestSignalNeverBlocksAndLosesNothing(t *testing.T) {
	const before, during, raisers = 5000, 5000, 4
	key := func(i int) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: strconv.Itoa(i)} }
	s := newSignal[types.NamespacedName]()
	// Nobody consumes yet: none of these may block.
	for i := range before {
		s.raise(key(i))
	}

	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := s.source(func(q queue, k types.NamespacedName) { q.Add(reconcile.Request{NamespacedName: k}) })
	if err := src.Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for r := range raisers {
		wg.Go(func() {
			for i := r; i < during; i += raisers {
				s.raise(key(before + i))
			}
		})
	}
	wg.Wait()

	// The queue holds each key once, so its length counts distinct keys.
	for deadline := time.Now().Add(30 * time.Second); q.Len() < before+during; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d keys reached the queue", q.Len(), before+during)
		}
	}
	for i := range before + during {
		req, _ := q.Get()
		if n, err := strconv.Atoi(req.Name); err != nil || n < 0 || n >= before+during {
			t.Fatalf("unexpected key %v after %d", req, i)
		}
		q.Done(req)
	}
}

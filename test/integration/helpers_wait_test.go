//go:build envtest

package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Generous limits: the API server and the controller share two cores with
// whatever else runs. Nothing asserts on how long anything took.
const (
	waitTimeout = 90 * time.Second
	pollEvery   = 100 * time.Millisecond
	// quietPeriod is how long a test watches for something that must not
	// happen (a write, an event) after giving the controller every reason
	// to do it.
	quietPeriod = 3 * time.Second
)

// eventually polls f until it returns nil, failing the test with f's last
// error when waitTimeout passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	eventuallyWithin(t, waitTimeout, what, f)
}

func eventuallyWithin(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s: %v", what, err)
		}
		time.Sleep(pollEvery)
	}
}

// consistently checks f for quietPeriod and fails the test as soon as it
// returns an error: f describes something that must not change.
func consistently(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(quietPeriod)
	for time.Now().Before(deadline) {
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(pollEvery)
	}
}

// deleteAndWait deletes obj and waits until it is gone; it is meant for
// cleanups, so it reports rather than stops.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s: %v", obj.GetName(), err)
		return
	}
	key := client.ObjectKeyFromObject(obj)
	deadline := time.Now().Add(waitTimeout)
	for {
		err := k8s.Get(ctx, key, obj)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still exists after deletion (finalizers %v, err %v)", key, obj.GetFinalizers(), err)
			return
		}
		time.Sleep(pollEvery)
	}
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func ctx() context.Context { return context.Background() }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

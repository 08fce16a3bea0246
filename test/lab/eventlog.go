package lab

import (
	"context"
	"errors"
	"sync"
)

// eventLog is an append-only list of timestamped observations that waiters
// can block on.
type eventLog[T any] struct {
	mu     sync.Mutex
	events []T
	// changed is closed and replaced on every append.
	changed chan struct{}
	closed  chan struct{}
}

func newEventLog[T any]() *eventLog[T] {
	return &eventLog[T]{changed: make(chan struct{}), closed: make(chan struct{})}
}

func (l *eventLog[T]) add(e T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
}

// close wakes every waiter for good.
func (l *eventLog[T]) close() { close(l.closed) }

func (l *eventLog[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.events...)
}

// wait returns the first event, recorded or to come, for which match is true.
func (l *eventLog[T]) wait(ctx context.Context, match func(T) bool) (T, error) {
	seen := 0
	for {
		l.mu.Lock()
		events, changed := l.events[seen:], l.changed
		seen = len(l.events)
		l.mu.Unlock()
		for _, e := range events {
			if match(e) {
				return e, nil
			}
		}
		var zero T
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-l.closed:
			return zero, errors.New("watcher closed")
		case <-changed:
		}
	}
}

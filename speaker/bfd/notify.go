package bfd

import (
	"sync"
	"time"
)

// StateChange reports one change of a session's state.
type StateChange struct {
	Key      SessionKey
	From, To State
	// Diag is our diagnostic after the change: why it happened
	// (DiagControlDetectionTimeExpired when the peer fell silent,
	// DiagNeighborSignaledSessionDown when it said Down or AdminDown).
	Diag Diag
	// RemoteDiag is the diagnostic of the last packet from the peer.
	RemoteDiag Diag
	At         time.Time
}

// notifier hands state changes to a callback in order, from its own
// goroutine, through a queue without bound: a session loop never waits for
// the callback, and no change is lost. State changes are few (each session
// changes state at most a few times per detection time), so the queue stays
// short unless the callback blocks for good.
type notifier struct {
	fn   func(StateChange)
	mu   sync.Mutex
	q    []StateChange
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newNotifier(fn func(StateChange)) *notifier {
	n := &notifier{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n
}

func (n *notifier) push(c StateChange) {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	n.q = append(n.q, c)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.wake:
			n.drain()
		case <-n.stop:
			n.drain()
			return
		}
	}
}

func (n *notifier) drain() {
	for {
		n.mu.Lock()
		q := n.q
		n.q = nil
		n.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, c := range q {
			n.fn(c)
		}
	}
}

// close delivers what is queued and ends the goroutine.
func (n *notifier) close() {
	close(n.stop)
	<-n.done
}

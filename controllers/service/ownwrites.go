package service

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ownWrites recognises the watch event of our own status write, so that it
// does not send the Service through the reconciler again: that reconcile
// would only find what the one that wrote decided, and nothing to do, at
// the cost of one wasted reconcile per Service, half of all reconciles in
// a burst.
//
// Our write carries the resourceVersion it read (an optimistic lock), so the
// one update that follows that version is either ours or someone else's
// that made ours fail; a failed write returns an error, and the error
// requeues the Service anyway. The version read is noted before the write,
// since the watch event may come before the write's response. Once the
// response tells the version the write left, only that version counts,
// should the informer ever skip from the version read to a later one (a
// relist). Everything else that wakes the Service (a change by anyone else,
// a pool, a release, a resync) still does.
type ownWrites struct {
	mu      sync.Mutex
	pending map[types.NamespacedName]ownWrite
}

type ownWrite struct {
	read    string // the resourceVersion the write started from
	written string // the one it left; "" until the response is in
}

// begin notes that a write on top of resourceVersion read is under way.
func (w *ownWrites) begin(key types.NamespacedName, read string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[types.NamespacedName]ownWrite{}
	}
	w.pending[key] = ownWrite{read: read}
}

// done notes the resourceVersion the write left. A write that changed
// nothing (the same version) causes no event to wait for.
func (w *ownWrites) done(key types.NamespacedName, written string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pending[key]
	switch {
	case !ok:
		// Its event came first.
	case written == p.read:
		delete(w.pending, key)
	default:
		p.written = written
		w.pending[key] = p
	}
}

// forget drops the note of a write that failed, or of a Service that is
// gone or not ours.
func (w *ownWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, key)
}

// isOwn reports whether the update from old to updated is our write's, and
// then forgets the write: only the first event after it counts.
func (w *ownWrites) isOwn(old, updated client.Object) bool {
	key := client.ObjectKeyFromObject(updated)
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pending[key]
	if !ok || p.read != old.GetResourceVersion() {
		return false
	}
	delete(w.pending, key)
	return p.written == "" || p.written == updated.GetResourceVersion()
}

package servicestatus

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// record is what this speaker knows of one ServiceAnnouncement it writes,
// so that it need not read every object whole: what it last wrote, or read
// from the API server, and the resourceVersion the API server gave for it.
// The cache holds the objects' metadata only; while its resourceVersion is
// the recorded one, the object is what the record says.
type record struct {
	Stored
	version string // resourceVersion of that write or read
	gone    bool   // this speaker deleted it
	// seen: the cache has shown version (an event carried it), so a
	// resourceVersion other than version in a later event is another's
	// write. Until then a different one may be the cache lagging behind
	// this speaker's own write.
	seen bool
	at   time.Time // of the write or read
}

// records are the write loop's records by key. The informer's handlers
// read them too (othersWrite, deleted), hence the lock.
type records struct {
	mu    sync.Mutex
	byKey map[string]record
}

func newRecords() *records { return &records{byKey: map[string]record{}} }

// put records r for key.
func (rs *records) put(key string, r record) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.byKey[key] = r
}

// drop forgets key: the next write reads it from the API server.
func (rs *records) drop(key string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.byKey, key)
}

// trust is how far a record tells what is stored.
type trust int

const (
	// distrusted: there is no record, or the object changed since in a
	// way it does not explain (another writer, a person).
	distrusted trust = iota
	// confirmed: the cache shows what the record says.
	confirmed
	// assumed: the cache does not show the record's write yet, made less
	// than recentWriteGrace ago: the cache lags the API server.
	assumed
)

// trusted returns the object stored under key as the record says it is,
// and whether it exists, given m, its metadata in the cache (nil when the
// cache has none); with distrusted, the record tells nothing.
func (rs *records) trusted(key string, m *metav1.PartialObjectMetadata, now time.Time) (s Stored, exists bool, t trust) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, found := rs.byKey[key]
	if !found {
		return Stored{}, false, distrusted
	}
	lagging := !r.seen && now.Sub(r.at) < recentWriteGrace
	switch {
	case r.gone && m == nil:
		return Stored{}, false, confirmed
	case r.gone && m.UID == r.UID && lagging:
		return Stored{}, false, assumed // deleted by this speaker
	case r.gone:
	case m == nil && lagging:
		return r.Stored, true, assumed // created by this speaker
	case m == nil:
		return Stored{}, false, confirmed // deleted since
	case m.UID == r.UID && m.ResourceVersion == r.version:
		r.seen = true
		rs.byKey[key] = r
		return r.Stored, true, confirmed
	case m.UID == r.UID && lagging:
		return r.Stored, true, assumed
	}
	return Stored{}, false, distrusted
}

// unsee makes the events of key wake nothing until this speaker's write
// to it is recorded (wrote): they cannot be told from that write's own.
func (rs *records) unsee(key string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r, ok := rs.byKey[key]; ok {
		r.seen = false
		rs.byKey[key] = r
	}
}

// wrote records r, a write of this speaker to key, seen already if the
// cache shows its resourceVersion (cached reads the cache's metadata of
// key; nil when it has none): its event may have come before the write
// returned.
func (rs *records) wrote(key string, r record, cached func() *metav1.PartialObjectMetadata) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	m := cached()
	r.seen = !r.gone && m != nil && m.UID == r.UID && m.ResourceVersion == r.version
	rs.byKey[key] = r
}

// othersWrite notes an event of the informer that the object of key (uid)
// is at resourceVersion version. It reports true when that is a write
// this speaker did not make to an object it writes: one it has seen its
// own write of.
func (rs *records) othersWrite(key string, uid types.UID, version string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byKey[key]
	if !ok || r.gone || r.UID != uid {
		return false
	}
	if version == r.version {
		r.seen = true
		rs.byKey[key] = r
		return false
	}
	return r.seen
}

// deleted notes that the object uid of key was deleted. It reports true
// when it was one this speaker writes, which must then be written again
// if its Service is still announced.
func (rs *records) deleted(key string, uid types.UID) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byKey[key]
	if !ok || r.UID != uid {
		return false
	}
	delete(rs.byKey, key)
	return !r.gone
}

// prune forgets the records of keys keep refuses (no longer this
// speaker's, or gone with their Service) and deletions past the grace.
func (rs *records) prune(keep func(key string) bool, now time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for k, r := range rs.byKey {
		if !keep(k) || (r.gone && now.Sub(r.at) >= recentWriteGrace) {
			delete(rs.byKey, k)
		}
	}
}

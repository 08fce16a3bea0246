package layer2

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// recentWriteGrace is how long a write is trusted over a cache that does not
// show it yet (see recentWrites).
const recentWriteGrace = 10 * time.Second

// recentWrites remembers, per object and part of its status, what this
// speaker last wrote and when. The cache shows a write only a moment
// later: meanwhile the same write is not repeated. After recentWriteGrace
// the cache is believed again, so an entry someone else removed is written
// back, and two speakers that disagree (a partition) write at most once per
// grace period each. Only the status loop uses it.
type recentWrites map[recentKey]recentWrite

type recentKey struct {
	uid  types.UID
	part string
}

type recentWrite struct {
	what string
	at   time.Time
}

func (r recentWrites) pending(k recentKey, what string) bool {
	w, ok := r[k]
	return ok && w.what == what && time.Since(w.at) < recentWriteGrace
}

func (r recentWrites) wrote(k recentKey, what string) { r[k] = recentWrite{what: what, at: time.Now()} }

// expire forgets writes past the grace period, so deleted objects do not
// accumulate.
func (r recentWrites) expire() {
	for k, w := range r {
		if time.Since(w.at) >= recentWriteGrace {
			delete(r, k)
		}
	}
}

package servicestatus

import (
	"slices"
	"strings"

	"github.com/ironlb/ironlb/speaker/announce"
)

// Writer returns the speaker that writes the ServiceAnnouncement of the
// Service key ("namespace/name") among the live speakers, by the rendezvous
// rule announce.Winner applies to addresses (announce.WinnerOf). Removing a speaker moves only the Services it
// wrote. Speakers of different versions must agree on it, or two of them
// would write one object: TestWriterVector pins it.
func Writer(key string, live []string) string {
	w, _ := announce.WinnerOf(key, live)
	return w
}

// writers remembers each Service's writer for one live set: computing it
// hashes every live speaker's name, and the live set rarely changes.
type writers struct {
	live    []string // sorted
	liveSet map[string]bool
	liveKey string
	byKey   map[string]string
}

// reset starts over when the live set is not the one remembered.
func (w *writers) reset(live map[string]bool) {
	names := make([]string, 0, len(live))
	for n, ok := range live {
		if ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if key := strings.Join(names, ","); key != w.liveKey || w.byKey == nil {
		w.live, w.liveKey, w.byKey = names, key, map[string]string{}
		w.liveSet = make(map[string]bool, len(names))
		for _, n := range names {
			w.liveSet[n] = true
		}
	}
}

// sameLive reports whether live is the live set of the last reset, without
// building its key: cheap enough for every decision.
func (w *writers) sameLive(live map[string]bool) bool {
	if w.byKey == nil {
		return false
	}
	n := 0
	for name, ok := range live {
		if !ok {
			continue
		}
		n++
		if !w.liveSet[name] {
			return false
		}
	}
	return n == len(w.live)
}

// of returns key's writer among the live set of the last reset.
func (w *writers) of(key string) string {
	if n, ok := w.byKey[key]; ok {
		return n
	}
	n := Writer(key, w.live)
	w.byKey[key] = n
	return n
}

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
	}
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

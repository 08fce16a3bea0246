package servicestatus

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
)

func meta(uid types.UID, version string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{UID: uid, ResourceVersion: version}}
}

// TestRecordTrusted: what the writer takes as stored from its record of
// its last write, given the metadata the cache shows, and when it must
// read the object from the API server instead (distrusted).
func TestRecordTrusted(t *testing.T) {
	now := time.Now()
	st := v1beta1.ServiceAnnouncementStatus{IPs: "192.0.2.1", Layer2Nodes: "node-a"}
	wrote := Stored{UID: "obj-a", Owner: "svc-a", Status: st}
	recent, old := now.Add(-time.Second), now.Add(-recentWriteGrace)
	tests := []struct {
		name       string
		rec        *record
		cached     *metav1.PartialObjectMetadata
		wantExists bool
		wantTrust  trust
	}{{
		name: "no record (restart, new writer): read it", cached: meta("obj-a", "7"),
		wantTrust: distrusted,
	}, {
		name: "the cache shows the write: as written",
		rec:  &record{Stored: wrote, version: "7", at: old}, cached: meta("obj-a", "7"),
		wantExists: true, wantTrust: confirmed,
	}, {
		name: "written, the cache not there yet: as written",
		rec:  &record{Stored: wrote, version: "7", at: recent}, cached: meta("obj-a", "6"),
		wantExists: true, wantTrust: assumed,
	}, {
		name: "written long ago, the cache never showed it: read it",
		rec:  &record{Stored: wrote, version: "7", at: old}, cached: meta("obj-a", "6"),
		wantTrust: distrusted,
	}, {
		name: "someone wrote after the write was seen: read it",
		rec:  &record{Stored: wrote, version: "7", seen: true, at: recent}, cached: meta("obj-a", "8"),
		wantTrust: distrusted,
	}, {
		name: "another object of the name: read it",
		rec:  &record{Stored: wrote, version: "7", at: recent}, cached: meta("obj-b", "7"),
		wantTrust: distrusted,
	}, {
		name:       "created, not in the cache yet: exists",
		rec:        &record{Stored: wrote, version: "7", at: recent},
		wantExists: true, wantTrust: assumed,
	}, {
		name:      "created and seen, then gone from the cache: deleted",
		rec:       &record{Stored: wrote, version: "7", seen: true, at: recent},
		wantTrust: confirmed,
	}, {
		name: "deleted, the cache not there yet: gone",
		rec:  &record{Stored: Stored{UID: "obj-a"}, gone: true, at: recent}, cached: meta("obj-a", "7"),
		wantTrust: assumed,
	}, {
		name:      "deleted, gone from the cache",
		rec:       &record{Stored: Stored{UID: "obj-a"}, gone: true, at: old},
		wantTrust: confirmed,
	}, {
		name: "deleted, then another created: read it",
		rec:  &record{Stored: Stored{UID: "obj-a"}, gone: true, at: recent}, cached: meta("obj-b", "9"),
		wantTrust: distrusted,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := newRecords()
			if tc.rec != nil {
				rs.put("ns/a", *tc.rec)
			}
			got, exists, tr := rs.trusted("ns/a", tc.cached, now)
			if tr != tc.wantTrust || exists != tc.wantExists {
				t.Fatalf("trust %d, exists %t; want %d, %t", tr, exists, tc.wantTrust, tc.wantExists)
			}
			if exists {
				if diff := cmp.Diff(wrote, got); diff != "" {
					t.Errorf("stored (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestRecordEvents: the informer's events wake the writer for another's
// write to, or the deletion of, an object it writes, and for nothing of
// its own writes, even when their event comes before the write returns.
func TestRecordEvents(t *testing.T) {
	st := v1beta1.ServiceAnnouncementStatus{IPs: "192.0.2.1"}
	rs := newRecords()
	none := func() *metav1.PartialObjectMetadata { return nil }
	rs.wrote("ns/a", record{Stored: Stored{UID: "obj-a", Status: st}, version: "5", at: time.Now()}, none)

	steps := []struct {
		what    string
		version string
		uid     types.UID
		wake    bool
	}{
		{"an older event, the cache lagging", "4", "obj-a", false},
		{"its own write", "5", "obj-a", false},
		{"someone's write after it", "6", "obj-a", true},
		{"another object of the name", "9", "obj-b", false},
	}
	for _, s := range steps {
		if got := rs.othersWrite("ns/a", s.uid, s.version); got != s.wake {
			t.Errorf("%s: wakes %t, want %t", s.what, got, s.wake)
		}
	}
	if rs.othersWrite("ns/other", "obj-x", "3") {
		t.Error("a write to an object another speaker writes wakes this one")
	}

	// Its next write: events meanwhile cannot be told from its own.
	rs.unsee("ns/a")
	if rs.othersWrite("ns/a", "obj-a", "7") {
		t.Error("an event during this speaker's own write wakes it")
	}
	// The write's event came before it returned: the cache shows it.
	rs.wrote("ns/a", record{Stored: Stored{UID: "obj-a", Status: st}, version: "7", at: time.Now()},
		func() *metav1.PartialObjectMetadata { return meta("obj-a", "7") })
	if !rs.othersWrite("ns/a", "obj-a", "8") {
		t.Error("someone's write after this speaker's, whose event came first, wakes nothing")
	}

	if rs.deleted("ns/a", "obj-b") {
		t.Error("the deletion of another object of the name wakes the writer")
	}
	if !rs.deleted("ns/a", "obj-a") {
		t.Error("the deletion of an object it writes does not wake the writer")
	}
	rs.wrote("ns/b", record{Stored: Stored{UID: "obj-b"}, gone: true, at: time.Now()}, none)
	if rs.deleted("ns/b", "obj-b") {
		t.Error("its own deletion wakes the writer")
	}
	if len(rs.byKey) != 0 {
		t.Errorf("%d records left after the deletions, want none", len(rs.byKey))
	}
}

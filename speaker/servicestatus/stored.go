package servicestatus

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// saGVK is the kind the cache holds the metadata of. The speakers cache no
// ServiceAnnouncement whole: each is written by one speaker, which keeps
// its own record of it (records), and decoding every object's watch events
// on every speaker was a large share of a speaker's CPU in a burst. The
// metadata (protobuf, managed fields stripped) tells a speaker when an
// object it writes changed behind its back.
var saGVK = v1beta1.GroupVersion.WithKind("ServiceAnnouncement")

// metaObject is an empty metadata-only ServiceAnnouncement, for the cache.
func metaObject() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(saGVK)
	return m
}

// metaList is an empty metadata-only list of ServiceAnnouncements.
func metaList() *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("ServiceAnnouncementList"))
	return l
}

// cachedMeta reads key's metadata from the cache; nil when it holds none.
func (w *SpeakerWriter) cachedMeta(ctx context.Context, key string) (*metav1.PartialObjectMetadata, error) {
	m := metaObject()
	err := w.reader.Get(ctx, keyName(key), m, client.UnsafeDisableDeepCopy)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading ServiceAnnouncement %s from cache: %w", key, err)
	}
	return m, nil
}

// stored returns the objects this speaker writes as Plan compares them:
// those of want and those of metas (the cache's metadata by key) that mine
// accepts. Each is what the record of the last write says while the cache
// agrees with it (records.trusted), or else is read from the API server,
// once, and recorded: after a restart, a change of writer, or someone
// else's write. Only the objects Plan compares the status of are read: one
// to delete needs its UID only, one of another Service (owner) is deleted
// whatever its status. assumedAny reports records trusted over a cache that
// does not show them yet: the caller checks again after recentWriteGrace,
// in case it never does.
func (w *SpeakerWriter) stored(ctx context.Context, want map[string]v1beta1.ServiceAnnouncementStatus,
	services map[string]types.UID, metas map[string]*metav1.PartialObjectMetadata,
	mine func(string) bool) (out map[string]Stored, assumedAny bool, err error) {
	now := time.Now()
	out = make(map[string]Stored, len(want))
	one := func(key string) error {
		m := metas[key]
		if s, exists, t := w.records.trusted(key, m, now); t != distrusted {
			if exists {
				out[key] = s
			}
			assumedAny = assumedAny || t == assumed
			return nil
		}
		if m == nil {
			return nil // none; a create that finds one is told so
		}
		s := storedMeta(m)
		if _, wanted := want[key]; !wanted || s.Owner != services[key] {
			out[key] = s
			return nil
		}
		s, exists, err := w.read(ctx, key, m)
		if exists {
			out[key] = s
		}
		return err
	}
	for key := range want {
		if err := one(key); err != nil {
			return nil, false, err
		}
	}
	for key := range metas {
		if _, done := want[key]; !done && mine(key) {
			if err := one(key); err != nil {
				return nil, false, err
			}
		}
	}
	return out, assumedAny, nil
}

// read reads key's object from the API server and records it; m is its
// metadata in the cache.
func (w *SpeakerWriter) read(ctx context.Context, key string, m *metav1.PartialObjectMetadata) (Stored, bool, error) {
	var obj v1beta1.ServiceAnnouncement
	err := w.api.Get(ctx, keyName(key), &obj)
	if apierrors.IsNotFound(err) {
		w.records.drop(key)
		return Stored{}, false, nil
	}
	if err != nil {
		return Stored{}, false, fmt.Errorf("reading ServiceAnnouncement %s: %w", key, err)
	}
	s := storedOne(&obj)
	w.records.put(key, record{Stored: s, version: obj.ResourceVersion,
		seen: m.UID == obj.UID && m.ResourceVersion == obj.ResourceVersion, at: time.Now()})
	return s, true, nil
}

// storedMeta is what the metadata tells of an object: all but its status.
func storedMeta(m *metav1.PartialObjectMetadata) Stored {
	return Stored{UID: m.UID, Owner: ownerOf(m.OwnerReferences)}
}

// storedOne is o as Plan compares it.
func storedOne(o *v1beta1.ServiceAnnouncement) Stored {
	return Stored{UID: o.UID, Owner: ownerOf(o.OwnerReferences), Status: o.Status}
}

// ownerOf returns the UID of the Service among refs; "" when none.
func ownerOf(refs []metav1.OwnerReference) types.UID {
	var uid types.UID
	for _, ref := range refs {
		if ref.Kind == "Service" && ref.APIVersion == "v1" {
			uid = ref.UID
		}
	}
	return uid
}

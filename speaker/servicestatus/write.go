package servicestatus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// writePlan makes the writes Plan returns for want, announced, mine and
// services (see Plan) and what is stored (w.stored, given metas, the
// cache's metadata of the objects by key). recheck is as for Sync.
func (w *SpeakerWriter) writePlan(ctx context.Context, want map[string]v1beta1.ServiceAnnouncementStatus, announced map[string]bool,
	mine func(string) bool, services map[string]types.UID, metas map[string]*metav1.PartialObjectMetadata) (recheck time.Duration, err error) {
	stored, assumed, err := w.stored(ctx, want, services, metas, mine)
	if err != nil {
		return 0, err
	}
	if assumed {
		recheck = recentWriteGrace // in case the cache never shows them
	}
	var errs []error
	for _, wr := range Plan(want, announced, mine, stored, services) {
		existed, err := w.write(ctx, wr, stored[wr.Key].Owner)
		if existed {
			recheck = minBackoff // its status is written once the cache shows it
		}
		errs = append(errs, err)
	}
	return recheck, errors.Join(errs...)
}

// write makes one write and records it; owner is the stored object's
// Service for an Update. existed reports a create that found the object
// there already (made by another writer, or by this one and not yet in
// the cache): nothing was written. A failed write forgets the record: what
// is stored is read again next time.
func (w *SpeakerWriter) write(ctx context.Context, wr Write, owner types.UID) (existed bool, err error) {
	obj := &v1beta1.ServiceAnnouncement{ObjectMeta: metav1.ObjectMeta{
		Namespace: keyName(wr.Key).Namespace, Name: keyName(wr.Key).Name, UID: wr.UID,
	}}
	w.records.unsee(wr.Key)
	r := record{Stored: Stored{UID: wr.UID, Owner: owner, Status: wr.Status}}
	switch wr.Action {
	case Create:
		var created bool
		created, err = w.create(ctx, obj, wr)
		if err == nil && !created {
			return true, nil // not written: nothing to record
		}
		r.UID, r.Owner, r.version = obj.UID, wr.UID, obj.ResourceVersion
	case Update:
		r.version, err = protocol.ApplyStatusVersion(ctx, w.client, obj, wr.Status, protocol.AdvertisementFieldOwner)
	case Delete:
		err = client.IgnoreNotFound(w.client.Delete(ctx, obj, client.Preconditions{UID: &wr.UID}))
		if apierrors.IsConflict(err) {
			err = nil // a newer object of the name: not this write's to delete
		}
		r.gone = true
	}
	if err != nil {
		w.records.drop(wr.Key)
		return false, fmt.Errorf("%s ServiceAnnouncement %s: %w", strings.ToLower(string(wr.Action)), wr.Key, err)
	}
	r.at = time.Now()
	w.records.wrote(wr.Key, r, func() *metav1.PartialObjectMetadata {
		m, _ := w.cachedMeta(ctx, wr.Key)
		return m
	})
	return false, nil
}

// create makes the object, owned by its Service (wr.UID) so that it goes
// with it, then writes its status: the status subresource ignores status
// on create. obj's UID and resourceVersion are then those of the write.
// It reports false, without error, when the object exists already.
func (w *SpeakerWriter) create(ctx context.Context, obj *v1beta1.ServiceAnnouncement, wr Write) (bool, error) {
	obj.UID = ""
	obj.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Service", Name: obj.Name, UID: wr.UID, Controller: new(true),
	}}
	if err := w.client.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil // Sync checks again once the cache shows it
		}
		return false, err
	}
	version, err := protocol.ApplyStatusVersion(ctx, w.client, obj, wr.Status, protocol.AdvertisementFieldOwner)
	if err == nil {
		obj.ResourceVersion = version
	}
	return true, err
}

// keyName splits "namespace/name".
func keyName(key string) types.NamespacedName {
	ns, name, _ := strings.Cut(key, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}

package servicestatus

import (
	"context"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// SyncServices is Sync for the Services of changed only, each with its
// addresses now (protocol.Decision.ChangedServices): the objects of the
// others are left as they are, which is right when nothing else changed
// since the last write that succeeded. Only the objects of the changed
// Services this speaker writes are built and read from the cache, so a
// decision that changed one Service costs about one object, not all.
//
// It falls back to Sync when the live speakers differ from the last
// write's (the writer of any Service may have moved) and when routes are
// restricted to some peers and an advertisement aggregates (the peers of
// an address then depend on other addresses' routes).
func (w *SpeakerWriter) SyncServices(ctx context.Context, d protocol.Decision, changed map[string][]netip.Addr) (recheck time.Duration, err error) {
	if !w.writers.sameLive(d.Input.Live) ||
		(restricted(d.Input.BGPAdvertisements) && aggregates(d.Input.BGPAdvertisements)) {
		return w.Sync(ctx, d)
	}
	if len(changed) == 0 {
		return 0, nil
	}
	mine := func(key string) bool { return w.writers.of(key) == w.node }
	peers, err := w.peersFunc(ctx, d, true)
	if err != nil {
		return 0, err
	}
	want := map[string]v1beta1.ServiceAnnouncementStatus{}
	announced := map[string]bool{}
	metas := map[string]*metav1.PartialObjectMetadata{}
	for key, ips := range changed {
		if !mine(key) {
			continue // Plan leaves the others' objects alone
		}
		if st, ok := DesiredOf(d.Result, key, ips, peers); ok {
			want[key], announced[key] = st, true
		}
		m, err := w.cachedMeta(ctx, key)
		if err != nil {
			return 0, err
		}
		if m != nil {
			metas[key] = m
		}
	}
	services, err := w.serviceUIDs(ctx, want)
	if err != nil {
		return 0, err
	}
	return w.writePlan(ctx, want, announced, mine, services, metas)
}

// aggregates reports whether an advertisement aggregates addresses into
// shorter prefixes.
func aggregates(advs []announce.BGPAdvertisement) bool {
	for i := range advs {
		if advs[i].AggregationLength != nil || advs[i].AggregationLengthV6 != nil {
			return true
		}
	}
	return false
}

package servicestatus

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
	bgpprotocol "github.com/ironlb/ironlb/speaker/protocol/bgp"
)

// Name names the writer among the speaker's protocols (see Writer's doc).
const Name = "serviceannouncements"

// recentWriteGrace is how long a write is trusted over a cache that does
// not show it yet: meanwhile the same write is not repeated.
const recentWriteGrace = 10 * time.Second

// Retry back-off after failed writes.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// SpeakerWriter writes the ServiceAnnouncements of the Services this speaker
// is the writer of. It plugs into the speaker as a protocol.Protocol that
// announces nothing: Setup gives it the manager's cache and client and runs
// its write loop, Apply hands it each decision. Writes happen in that loop,
// never in the decision goroutine, so an API server that is slow or
// unreachable never delays failover.
type SpeakerWriter struct {
	node   string
	log    logr.Logger
	reader client.Reader // the informer cache
	client client.Client

	mu      sync.Mutex
	pending *protocol.Decision // the latest decision not yet written
	// full: the next write checks every Service (Sync), not only the
	// changed ones: nothing written yet, a decision with All, a failed or
	// held-back write, or an object deleted.
	full bool
	// changed are the Services changed by the decisions handed since the
	// last write, with their addresses (protocol.Decision.ChangedServices);
	// unused while full.
	changed map[string][]netip.Addr
	kick    chan struct{}

	// Owned by the write loop.
	writers writers
	recent  map[string]recentWrite
	peers   peerCache
}

type recentWrite struct {
	action Action
	status v1beta1.ServiceAnnouncementStatus
	at     time.Time
}

var _ protocol.Protocol = (*SpeakerWriter)(nil)

// New returns the writer of node's speaker.
func New(node string) *SpeakerWriter {
	return &SpeakerWriter{node: node, kick: make(chan struct{}, 1), recent: map[string]recentWrite{}, full: true}
}

// Name implements protocol.Protocol.
func (*SpeakerWriter) Name() string { return Name }

// Setup implements protocol.Protocol: the write loop runs beside the
// manager. The decision depends on no ServiceAnnouncement, so none of their
// changes recomputes it (a burst of thousands of Services creates as many
// objects); an object deleted by anyone makes the loop check the last
// decision against the cache again, so that one deleted by hand is written
// again.
func (w *SpeakerWriter) Setup(mgr manager.Manager, env protocol.Env) ([]protocol.Watch, error) {
	w.log = env.Log.WithName("serviceannouncements")
	w.reader, w.client = mgr.GetCache(), mgr.GetClient()
	// The cache is not started yet: this registers the informer without
	// waiting for it.
	inf, err := mgr.GetCache().GetInformer(context.Background(), &v1beta1.ServiceAnnouncement{})
	if err != nil {
		return nil, fmt.Errorf("watching ServiceAnnouncements: %w", err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{DeleteFunc: func(any) { w.recheck() }}); err != nil {
		return nil, fmt.Errorf("watching ServiceAnnouncements: %w", err)
	}
	return nil, mgr.Add(manager.RunnableFunc(w.run))
}

// recheck wakes the write loop to compare the last decision with the
// cache, for every Service.
func (w *SpeakerWriter) recheck() {
	w.checkAll()
	w.wake()
}

// wake wakes the write loop.
func (w *SpeakerWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Read implements protocol.Protocol: the decision needs nothing of it.
func (*SpeakerWriter) Read(context.Context, *announce.Input) error { return nil }

// Apply implements protocol.Protocol: it hands d to the write loop,
// replacing any decision not yet written; the Services d changed are
// added to those changed by the decisions it replaces. An isolated
// speaker's view is not the others', so it writes nothing.
func (w *SpeakerWriter) Apply(_ context.Context, d protocol.Decision) error {
	if d.Isolated {
		return nil
	}
	w.mu.Lock()
	w.pending = &d
	switch {
	case d.All:
		w.full, w.changed = true, nil
	case !w.full:
		if w.changed == nil {
			w.changed = make(map[string][]netip.Addr, len(d.ChangedServices))
		}
		for k, ips := range d.ChangedServices {
			w.changed[k] = ips // the latest decision's addresses
		}
	}
	w.mu.Unlock()
	w.wake()
	return nil
}

// take returns the decision to write, last unless a newer one was handed,
// and what it must check: every Service (full) or those of changed.
func (w *SpeakerWriter) take(last *protocol.Decision) (d *protocol.Decision, full bool, changed map[string][]netip.Addr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending != nil {
		last, w.pending = w.pending, nil
	}
	full, changed = w.full, w.changed
	w.full, w.changed = false, nil
	return last, full, changed
}

// checkAll makes the next write check every Service.
func (w *SpeakerWriter) checkAll() {
	w.mu.Lock()
	w.full, w.changed = true, nil
	w.mu.Unlock()
}

// Announcers implements protocol.Protocol: it announces nothing.
func (*SpeakerWriter) Announcers(announce.Result) map[netip.Addr][]string { return nil }

// AnnouncersAt implements protocol.Protocol: it announces nothing.
func (*SpeakerWriter) AnnouncersAt(announce.Result, netip.Addr) []string { return nil }

// EventNote implements protocol.Protocol; never called, as it announces
// nothing.
func (*SpeakerWriter) EventNote(netip.Addr, []string, []string) string { return "" }

// run writes each decision handed to Apply, the latest one only when
// several came meanwhile, retries a failed one with back-off, and checks it
// again when writes it held back may be due (Sync's recheck). A decision
// that changed some Services only is written by SyncServices; a retry, a
// recheck and a decision with All check every Service (Sync).
func (w *SpeakerWriter) run(ctx context.Context) error {
	backoff := minBackoff
	var again <-chan time.Time
	var last *protocol.Decision
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-again:
			w.checkAll()
		}
		var full bool
		var changed map[string][]netip.Addr
		last, full, changed = w.take(last)
		if last == nil {
			continue
		}
		again = nil
		var recheck time.Duration
		var err error
		if full {
			recheck, err = w.Sync(ctx, *last)
		} else {
			recheck, err = w.SyncServices(ctx, *last, changed)
		}
		if err != nil {
			w.checkAll() // what failed is in no later decision's changes
			w.log.Error(err, "Writing ServiceAnnouncements; retrying", "in", backoff.String())
			again = time.After(backoff)
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		if recheck > 0 {
			again = time.After(recheck)
		}
	}
}

// Sync writes what d changes in the ServiceAnnouncements this speaker
// writes. recheck > 0 asks for d to be checked again after that long: some
// writes were held back because the cache did not show the object as it
// is yet (a recent write, or a create that found the object existing).
func (w *SpeakerWriter) Sync(ctx context.Context, d protocol.Decision) (recheck time.Duration, err error) {
	var list v1beta1.ServiceAnnouncementList
	if err := w.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return 0, fmt.Errorf("listing ServiceAnnouncements from cache: %w", err)
	}
	w.writers.reset(d.Input.Live)
	mine := func(key string) bool { return w.writers.of(key) == w.node }
	peers, err := w.peersFunc(ctx, d, false)
	if err != nil {
		return 0, err
	}
	want := Desired(d.Result, mine, peers)
	stored := storedOf(list.Items)
	services, err := w.serviceUIDs(ctx, want)
	if err != nil {
		return 0, err
	}
	recheck, err = w.writePlan(ctx, Plan(want, Announced(d.Result), mine, stored, services))
	if len(w.writers.byKey) > 2*len(stored)+1024 {
		w.writers.byKey = map[string]string{} // forget Services long gone
	}
	return recheck, err
}

// writePlan makes the writes planned, but those made recently that the
// cache does not show yet; recheck is as for Sync.
func (w *SpeakerWriter) writePlan(ctx context.Context, planned []Write) (recheck time.Duration, err error) {
	writes := w.skipRecent(planned, time.Now())
	if len(writes) < len(planned) {
		recheck = recentWriteGrace // in case the cache never shows them
	}
	var errs []error
	for _, wr := range writes {
		existed, err := w.write(ctx, wr)
		if existed {
			recheck = minBackoff // its status is written once the cache shows it
		}
		errs = append(errs, err)
	}
	return recheck, errors.Join(errs...)
}

// storedOf indexes the cached objects by key.
func storedOf(items []v1beta1.ServiceAnnouncement) map[string]Stored {
	out := make(map[string]Stored, len(items))
	for i := range items {
		o := &items[i]
		out[o.Namespace+"/"+o.Name] = storedOne(o)
	}
	return out
}

// storedOne is o as Plan compares it.
func storedOne(o *v1beta1.ServiceAnnouncement) Stored {
	s := Stored{UID: o.UID, Status: o.Status}
	for _, ref := range o.OwnerReferences {
		if ref.Kind == "Service" && ref.APIVersion == "v1" {
			s.Owner = ref.UID
		}
	}
	return s
}

// serviceUIDs reads from the cache the UIDs of the Services in want (only
// this speaker's share: the others' are not needed).
func (w *SpeakerWriter) serviceUIDs(ctx context.Context, want map[string]v1beta1.ServiceAnnouncementStatus) (map[string]types.UID, error) {
	out := make(map[string]types.UID, len(want))
	for key := range want {
		var svc corev1.Service
		err := w.reader.Get(ctx, keyName(key), &svc, client.UnsafeDisableDeepCopy)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading Service %s from cache: %w", key, err)
		}
		out[key] = svc.UID
	}
	return out, nil
}

// peersFunc returns the BGPPeers each node sends an address to. When no
// BGPAdvertisement names peers, every route goes to every peer of its node,
// and the decision's routes need not be built. Otherwise each node's routes
// are built when first asked for: all of them (Routes), or with perAddress
// those of the address asked about only (RoutesAt), which is right only
// when no advertisement aggregates (see SyncServices).
func (w *SpeakerWriter) peersFunc(ctx context.Context, d protocol.Decision, perAddress bool) (PeersFunc, error) {
	if d.Result.LenBGP() == 0 {
		return func(string, netip.Addr) []string { return nil }, nil
	}
	var list v1beta1.BGPPeerList
	if err := w.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing BGPPeers from cache: %w", err)
	}
	nodePeers := w.peers.nodePeers(list.Items, d.Input.Nodes)
	if !restricted(d.Input.BGPAdvertisements) {
		return func(node string, _ netip.Addr) []string { return nodePeers[node] }, nil
	}
	if perAddress {
		return func(node string, ip netip.Addr) []string {
			return bgpprotocol.RoutePeers(d.Result.RoutesAt(node, ip), ip, nodePeers[node])
		}, nil
	}
	routes := map[string][]announce.Route{}
	return func(node string, ip netip.Addr) []string {
		rts, ok := routes[node]
		if !ok {
			rts = d.Result.Routes(node)
			routes[node] = rts
		}
		return bgpprotocol.RoutePeers(rts, ip, nodePeers[node])
	}, nil
}

// restricted reports whether an advertisement sends its routes to some
// peers only.
func restricted(advs []announce.BGPAdvertisement) bool {
	return slices.ContainsFunc(advs, func(a announce.BGPAdvertisement) bool { return len(a.Peers) > 0 })
}

// skipRecent drops the writes this speaker made already within
// recentWriteGrace that the cache does not show yet, and forgets older
// ones.
func (w *SpeakerWriter) skipRecent(writes []Write, now time.Time) []Write {
	for k, r := range w.recent {
		if now.Sub(r.at) >= recentWriteGrace {
			delete(w.recent, k)
		}
	}
	return slices.DeleteFunc(writes, func(wr Write) bool {
		r, ok := w.recent[wr.Key]
		if !ok {
			return false
		}
		if wr.Action == Delete {
			return r.action == Delete
		}
		return r.action != Delete && equality.Semantic.DeepEqual(r.status, wr.Status)
	})
}

// write makes one write and remembers it. existed reports a create that
// found the object there already (made by another writer, or by this one
// and not yet in the cache): nothing was written.
func (w *SpeakerWriter) write(ctx context.Context, wr Write) (existed bool, err error) {
	obj := &v1beta1.ServiceAnnouncement{ObjectMeta: metav1.ObjectMeta{
		Namespace: keyName(wr.Key).Namespace, Name: keyName(wr.Key).Name, UID: wr.UID,
	}}
	switch wr.Action {
	case Create:
		var created bool
		if created, err = w.create(ctx, obj, wr); err == nil && !created {
			return true, nil // not written: nothing to remember
		}
	case Update:
		err = protocol.ApplyStatus(ctx, w.client, obj, wr.Status, protocol.AdvertisementFieldOwner)
	case Delete:
		err = client.IgnoreNotFound(w.client.Delete(ctx, obj, client.Preconditions{UID: &wr.UID}))
		if apierrors.IsConflict(err) {
			err = nil // a newer object of the name: not this write's to delete
		}
	}
	if err != nil {
		return false, fmt.Errorf("%s ServiceAnnouncement %s: %w", strings.ToLower(string(wr.Action)), wr.Key, err)
	}
	w.recent[wr.Key] = recentWrite{action: wr.Action, status: wr.Status, at: time.Now()}
	return false, nil
}

// create makes the object, owned by its Service (wr.UID) so that it goes
// with it, then writes its status: the status subresource ignores status
// on create.
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
	return true, protocol.ApplyStatus(ctx, w.client, obj, wr.Status, protocol.AdvertisementFieldOwner)
}

// keyName splits "namespace/name".
func keyName(key string) types.NamespacedName {
	ns, name, _ := strings.Cut(key, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}

package servicestatus

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
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

// recentWriteGrace is how long the record of a write is trusted over a
// cache that does not show it yet (records.trusted): meanwhile the same
// write is not repeated, nor the object read.
const recentWriteGrace = 10 * time.Second

// Retry back-off after failed writes.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// SpeakerWriter writes the ServiceAnnouncements of the Services this speaker
// is the writer of. It plugs into the speaker as a protocol.Protocol that
// announces nothing: Setup gives it the manager's cache, API reader and
// client and runs its write loop, Apply hands it each decision. Writes happen in that loop,
// never in the decision goroutine, so an API server that is slow or
// unreachable never delays failover.
type SpeakerWriter struct {
	node   string
	log    logr.Logger
	reader client.Reader // the informer cache: ServiceAnnouncements' metadata only
	api    client.Reader // the API server, for the objects the records cannot tell
	client client.Client
	// records are what this speaker last wrote or read of the objects it
	// writes: the cache holds no status.
	records *records

	mu      sync.Mutex
	pending *protocol.Decision // the latest decision not yet written
	// full: the next write checks every Service (Sync), not only the
	// changed ones: nothing written yet, a decision with All, a failed or
	// held-back write, or an object of this speaker's deleted or written
	// by someone else.
	full bool
	// changed are the Services changed by the decisions handed since the
	// last write, with their addresses (protocol.Decision.ChangedServices);
	// unused while full.
	changed map[string][]netip.Addr
	kick    chan struct{}

	// Owned by the write loop.
	writers writers
	peers   peerCache
}

var _ protocol.Protocol = (*SpeakerWriter)(nil)

// New returns the writer of node's speaker.
func New(node string) *SpeakerWriter {
	return &SpeakerWriter{node: node, kick: make(chan struct{}, 1), records: newRecords(), full: true}
}

// Name implements protocol.Protocol.
func (*SpeakerWriter) Name() string { return Name }

// Setup implements protocol.Protocol: the write loop runs beside the
// manager. The decision depends on no ServiceAnnouncement, so none of their
// changes recomputes it (a burst of thousands of Services creates as many
// objects). The cache watches their metadata only (saGVK); a write by
// someone else to an object this speaker writes, or its deletion, makes
// the loop check the last decision again, so that one edited or deleted by
// hand is written again.
func (w *SpeakerWriter) Setup(mgr manager.Manager, env protocol.Env) ([]protocol.Watch, error) {
	w.log = env.Log.WithName("serviceannouncements")
	w.reader, w.api, w.client = mgr.GetCache(), mgr.GetAPIReader(), mgr.GetClient()
	// The cache is not started yet: this registers the informer without
	// waiting for it.
	inf, err := mgr.GetCache().GetInformer(context.Background(), metaObject())
	if err != nil {
		return nil, fmt.Errorf("watching ServiceAnnouncements: %w", err)
	}
	if _, err := inf.AddEventHandler(w.handler()); err != nil {
		return nil, fmt.Errorf("watching ServiceAnnouncements: %w", err)
	}
	return nil, mgr.Add(manager.RunnableFunc(w.run))
}

// handler wakes the write loop for the informer's events that concern
// it: another's write to, or the deletion of, an object this speaker
// writes. Its own writes, and the objects of other writers, wake nothing.
func (w *SpeakerWriter) handler() toolscache.ResourceEventHandler {
	changed := func(obj any) {
		if m, ok := obj.(*metav1.PartialObjectMetadata); ok &&
			w.records.othersWrite(m.Namespace+"/"+m.Name, m.UID, m.ResourceVersion) {
			w.recheck()
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, obj any) { changed(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if m, ok := obj.(*metav1.PartialObjectMetadata); ok && w.records.deleted(m.Namespace+"/"+m.Name, m.UID) {
				w.recheck()
			}
		},
	}
}

// recheck wakes the write loop to compare the last decision with what is
// stored, for every Service.
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
	list := metaList()
	if err := w.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return 0, fmt.Errorf("listing ServiceAnnouncements from cache: %w", err)
	}
	w.writers.reset(d.Input.Live)
	mine := func(key string) bool { return w.writers.of(key) == w.node }
	peers, err := w.peersFunc(ctx, d, false)
	if err != nil {
		return 0, err
	}
	want := Desired(d.Result, mine, peers)
	metas := make(map[string]*metav1.PartialObjectMetadata, len(list.Items))
	for i := range list.Items {
		m := &list.Items[i]
		metas[m.Namespace+"/"+m.Name] = m
	}
	services, err := w.serviceUIDs(ctx, want)
	if err != nil {
		return 0, err
	}
	recheck, err = w.writePlan(ctx, want, Announced(d.Result), mine, services, metas)
	// Forget the objects this speaker no longer writes: another writer's
	// writes to them must not wake it.
	w.records.prune(func(key string) bool {
		_, wanted := want[key]
		_, exists := metas[key]
		return mine(key) && (wanted || exists)
	}, time.Now())
	if len(w.writers.byKey) > 2*len(metas)+1024 {
		w.writers.byKey = map[string]string{} // forget Services long gone
	}
	return recheck, err
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

// Package ipam is the controller's address book: it wraps the pure
// allocator with what only Kubernetes knows — which IPAddressPools are valid,
// what a Service asks for, what was assigned before the controller started,
// and which Services wait for an address. The Service and pool reconcilers
// share one IPAM.
//
// The allocator is private: addresses change only through [IPAM.Allocate]
// and [IPAM.Release], pools only through [IPAM.SyncPools], so no caller can
// skip pool validation or the restore on start. What the IPAM changes in
// memory and the API cannot show in time reaches the controllers through
// [IPAM.Retries] and [IPAM.UsageChanges].
package ipam

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
)

// IPAM holds the allocator, the verdict on every pool and the Services
// waiting for an address. It is safe for concurrent use.
type IPAM struct {
	alloc *allocator.Allocator

	reader client.Reader // the manager's cache
	live   client.Reader // the API server itself, for the restore on start
	class  v1beta1.ClassFilter

	mu       sync.Mutex
	restored bool
	verdicts map[string]PoolVerdict
	// versions fingerprints the pool specs last synced, so that a sync with
	// nothing new costs one cache List. Status writes do not count.
	versions map[string]poolVersion

	// waitMu guards waiting, terms (see allocate.go) and pending.
	waitMu  sync.Mutex
	waiting map[types.NamespacedName]struct{}
	terms   map[types.NamespacedName]string
	pending pendingSet

	retry *signal[types.NamespacedName] // Services to try again
	usage *signal[string]               // pools whose usage changed
}

// New returns an IPAM handling Services of class. It reads pools and
// Services through cached (the manager's cache), except for the restore on
// start, which reads live: the API server itself (mgr.GetAPIReader()).
func New(cached, live client.Reader, class v1beta1.ClassFilter) *IPAM {
	return &IPAM{
		alloc:   allocator.New(),
		reader:  cached,
		live:    live,
		class:   class,
		waiting: map[types.NamespacedName]struct{}{},
		terms:   map[types.NamespacedName]string{},
		pending: newPendingSet(),
		retry:   newSignal[types.NamespacedName](),
		usage:   newSignal[string](),
	}
}

// Class returns the Service class this IPAM handles.
func (m *IPAM) Class() v1beta1.ClassFilter { return m.class }

// EnsureRestored loads the pools and every address already shown in a
// Service's status, once, before anything new is handed out. Reconcilers call
// it first; only the first call does the work, the others wait for it.
//
// It reads the API server itself, not the cache: a replica taking over
// leadership may hold a cache that has not seen yet the last status the
// previous leader wrote, and would hand that address out a second time.
func (m *IPAM) EnsureRestored(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.restored {
		return nil
	}
	var svcs corev1.ServiceList
	if err := m.live.List(ctx, &svcs); err != nil {
		return fmt.Errorf("listing services to restore their addresses: %w", err)
	}
	nsLabels, err := m.namespaceLabels(ctx)
	if err != nil {
		return err
	}
	if err := m.syncPoolsLocked(ctx, m.live, shownByPool(svcs.Items, m.class)); err != nil {
		return err
	}
	restored, lost := m.restore(ctx, svcs.Items, nsLabels)
	log.FromContext(ctx).Info("Restored assigned addresses", "services", restored, "notRestored", lost)
	m.restored = true
	return nil
}

// namespaceLabels reads every namespace's labels from the API server, in one
// list rather than a read per Service.
func (m *IPAM) namespaceLabels(ctx context.Context) (map[string]map[string]string, error) {
	var nss corev1.NamespaceList
	if err := m.live.List(ctx, &nss); err != nil {
		return nil, fmt.Errorf("listing namespaces to restore addresses: %w", err)
	}
	out := make(map[string]map[string]string, len(nss.Items))
	for _, ns := range nss.Items {
		out[ns.Name] = ns.Labels
	}
	return out, nil
}

// shownByPool gathers the addresses the class's Services show, by the pool
// their ironlb.io/ip-allocated-from-pool annotation names.
func shownByPool(svcs []corev1.Service, class v1beta1.ClassFilter) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for i := range svcs {
		svc := &svcs[i]
		if pool := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; pool != "" && class.Handles(svc) {
			out[pool] = append(out[pool], IngressIPs(svc)...)
		}
	}
	return out
}

// restore claims each Service's current addresses, oldest Service first so
// that, should two claim one address, the one that had it first keeps it.
func (m *IPAM) restore(ctx context.Context, svcs []corev1.Service, nsLabels map[string]map[string]string) (restored, lost int) {
	sort.Slice(svcs, func(i, j int) bool {
		ti, tj := svcs[i].CreationTimestamp, svcs[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return svcs[i].Namespace+"/"+svcs[i].Name < svcs[j].Namespace+"/"+svcs[j].Name
	})
	for i := range svcs {
		svc := &svcs[i]
		current := IngressIPs(svc)
		if !m.class.Handles(svc) || len(current) == 0 {
			continue
		}
		if err := m.restoreOne(svc, nsLabels[svc.Namespace], current); err != nil {
			lost++
			log.FromContext(ctx).V(1).Info("Could not restore addresses; the Service is reconciled again",
				"service", client.ObjectKeyFromObject(svc), "ips", current, "reason", err.Error())
			continue
		}
		restored++
	}
	return restored, lost
}

// restoreOne claims the addresses a Service shows. When its request cannot
// be met by them (it asks for other IPs or another pool, as after a failed
// change: the Service kept its old lease and said why), it still holds on to
// what it shows, from the pool that contains them, exactly as before the
// restart; reconciling it then decides the rest.
func (m *IPAM) restoreOne(svc *corev1.Service, nsLabels map[string]string, current []netip.Addr) error {
	req, err := RequestFor(svc, nsLabels, current)
	if err != nil && allocator.ReasonOf(err) == "" {
		return err
	}
	req.NoNew = true
	if err == nil {
		if _, err = m.alloc.Assign(req.Request); err == nil {
			return nil
		}
	}
	pool, ok := m.alloc.PoolOf(current[0])
	if !ok {
		return err
	}
	keep := req.Request
	keep.IPs, keep.Pool = nil, pool
	if _, kerr := m.alloc.Assign(keep); kerr != nil {
		return errors.Join(err, kerr)
	}
	return nil
}

// SyncPools re-validates every pool and hands the valid ones to the
// allocator when any pool changed since the last sync; otherwise it costs
// one cache List. Both reconcilers call it, the Service reconciler through
// Allocate: whichever hears of a pool change first applies it, so neither
// waits for the other. It restores first if that is not done yet: the
// restore's own sync is the one that knows what Services show.
func (m *IPAM) SyncPools(ctx context.Context) error {
	if err := m.EnsureRestored(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncPoolsLocked(ctx, m.reader, nil)
}

// syncPoolsLocked reads the pools through reader. shown, at restore only,
// holds the addresses Services show by pool (see lastValid).
func (m *IPAM) syncPoolsLocked(ctx context.Context, reader client.Reader, shown map[string][]netip.Addr) error {
	var pools v1beta1.IPAddressPoolList
	if m.versions != nil {
		// The Service reconciler syncs before every allocation, and almost
		// always finds nothing new: look at the cache's own objects, and
		// copy them only when there is something to validate.
		if err := reader.List(ctx, &pools, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("listing IPAddressPools: %w", err)
		}
		if maps.Equal(versionsOf(pools.Items), m.versions) {
			return nil
		}
	}
	if err := reader.List(ctx, &pools); err != nil {
		return fmt.Errorf("listing IPAddressPools: %w", err)
	}
	versions := versionsOf(pools.Items)
	lastValid := func(p *v1beta1.IPAddressPool) (allocator.Pool, bool) { return m.lastValid(p, shown[p.Name]) }
	verdicts := ValidateKeeping(pools.Items, m.established, lastValid)
	valid := make([]allocator.Pool, 0, len(verdicts))
	for _, v := range verdicts {
		switch {
		case v.Valid():
			valid = append(valid, v.Pool)
		case v.Kept != nil:
			valid = append(valid, *v.Kept)
		}
	}
	// Services evicted here are found again by the full re-check a pool
	// change starts (the Service controller watches pools).
	if _, err := m.alloc.SetPools(valid); err != nil {
		// Validate rules out overlaps, so this is a bug, not bad input.
		return fmt.Errorf("handing pools to the allocator: %w", err)
	}
	m.verdicts, m.versions = verdicts, versions
	return nil
}

// poolVersion is what a sync looks at to tell whether a pool changed:
// generation moves with the spec and when deletion starts; a status write
// leaves it alone and so triggers no re-sync.
type poolVersion struct {
	generation int64
	deleting   bool
}

func versionsOf(pools []v1beta1.IPAddressPool) map[string]poolVersion {
	out := make(map[string]poolVersion, len(pools))
	for i := range pools {
		p := &pools[i]
		out[p.Name] = poolVersion{p.Generation, !p.DeletionTimestamp.IsZero()}
	}
	return out
}

// lastValid returns what an invalid pool keeps: the spec this process last
// accepted for it (the same object: same UID), else the one its status
// records (an earlier process or leader accepted it), else, for a pool whose
// last valid spec is known nowhere (as after an upgrade), the addresses its
// Services show. The caller holds m.mu.
func (m *IPAM) lastValid(p *v1beta1.IPAddressPool, shown []netip.Addr) (allocator.Pool, bool) {
	if v, ok := m.verdicts[p.Name]; ok && v.UID == p.UID {
		switch {
		case v.Valid():
			return v.Pool, true
		case v.Kept != nil:
			return *v.Kept, true
		}
	}
	if kept, ok := recordedSpec(p); ok {
		return kept, true
	}
	return holding(p.Name, shown)
}

// established reports whether the pool's current spec was accepted before:
// by this process, or by an earlier one as the pool's Ready condition shows.
// The caller holds m.mu.
func (m *IPAM) established(p *v1beta1.IPAddressPool) bool {
	if v, ok := m.verdicts[p.Name]; ok && v.Valid() && v.UID == p.UID && v.Generation == p.Generation {
		return true
	}
	c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionReady)
	return c != nil && c.ObservedGeneration == p.Generation &&
		(c.Status == metav1.ConditionTrue || c.Reason == v1beta1.ReasonPoolDeleting)
}

// Verdict returns the latest verdict on the named pool.
func (m *IPAM) Verdict(pool string) (PoolVerdict, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.verdicts[pool]
	return v, ok
}

// requestFor builds the allocator request of a Service, reading its
// namespace's labels for pools that select namespaces.
func (m *IPAM) requestFor(ctx context.Context, svc *corev1.Service, current []netip.Addr) (Request, error) {
	var ns corev1.Namespace
	// The cache's own object, not a copy: its labels are only read, here
	// and by the allocator, and the cache replaces its objects rather than
	// change them.
	if err := m.reader.Get(ctx, client.ObjectKey{Name: svc.Namespace}, &ns, client.UnsafeDisableDeepCopy); err != nil && !apierrors.IsNotFound(err) {
		return Request{}, fmt.Errorf("reading namespace %s: %w", svc.Namespace, err)
	}
	return RequestFor(svc, ns.Labels, current)
}

// Lookup returns what a Service holds.
func (m *IPAM) Lookup(key types.NamespacedName) (allocator.Assignment, bool) {
	return m.alloc.Lookup(key.String())
}

// PoolOf returns the pool, among those the allocator uses, whose ranges
// contain ip.
func (m *IPAM) PoolOf(ip netip.Addr) (string, bool) { return m.alloc.PoolOf(ip) }

// Users counts the Services holding addresses of a pool.
func (m *IPAM) Users(pool string) int { return m.alloc.Users(pool) }

// Stats returns a pool's usage counts; false when the allocator does not
// have the pool (it is invalid with nothing to keep, or gone).
func (m *IPAM) Stats(pool string) (allocator.PoolStats, bool) { return m.alloc.Stats(pool) }

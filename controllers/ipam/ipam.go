// Package ipam is the controller's address book: it wraps the pure
// allocator with what only Kubernetes knows — which IPAddressPools are valid,
// what a Service asks for, and what was assigned before the controller
// started. The Service and pool reconcilers share one IPAM.
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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/allocator"
)

// IPAM holds the allocator and the verdict on every pool.
type IPAM struct {
	*allocator.Allocator

	reader client.Reader // the manager's cache
	live   client.Reader // the API server itself, for the restore on start
	class  v1beta1.ClassFilter

	mu       sync.Mutex
	restored bool
	verdicts map[string]PoolVerdict
	// versions fingerprints the pool specs last synced, so that a sync with
	// nothing new costs one cache List. Status writes do not count.
	versions map[string]string
}

// New returns an IPAM handling Services of class. It reads pools and
// Services through cached (the manager's cache), except for the restore on
// start, which reads live: the API server itself (mgr.GetAPIReader()).
func New(cached, live client.Reader, class v1beta1.ClassFilter) *IPAM {
	return &IPAM{Allocator: allocator.New(), reader: cached, live: live, class: class}
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
	if _, err := m.syncPoolsLocked(ctx, m.live, shownByPool(svcs.Items, m.class)); err != nil {
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
		if _, err = m.Assign(req.Request); err == nil {
			return nil
		}
	}
	pool, ok := m.PoolOf(current[0])
	if !ok {
		return err
	}
	keep := req.Request
	keep.IPs, keep.Pool = nil, pool
	if _, kerr := m.Assign(keep); kerr != nil {
		return errors.Join(err, kerr)
	}
	return nil
}

// SyncPools re-validates every pool and hands the valid ones to the
// allocator when any pool changed since the last sync. It reports whether
// something changed; Services whose addresses left every pool then need to
// be reconciled again.
func (m *IPAM) SyncPools(ctx context.Context) (changed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncPoolsLocked(ctx, m.reader, nil)
}

// syncPoolsLocked reads the pools through reader. shown, at restore only,
// holds the addresses Services show by pool (see lastValid).
func (m *IPAM) syncPoolsLocked(ctx context.Context, reader client.Reader, shown map[string][]netip.Addr) (bool, error) {
	var pools v1beta1.IPAddressPoolList
	if err := reader.List(ctx, &pools); err != nil {
		return false, fmt.Errorf("listing IPAddressPools: %w", err)
	}
	versions := make(map[string]string, len(pools.Items))
	for _, p := range pools.Items {
		// Generation moves with the spec and when deletion starts; a
		// status write leaves it alone and so triggers no re-sync.
		versions[p.Name] = fmt.Sprintf("%d/%t", p.Generation, !p.DeletionTimestamp.IsZero())
	}
	if m.versions != nil && maps.Equal(versions, m.versions) {
		return false, nil
	}
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
	// Services evicted here are found again by the caller's full re-check.
	if _, err := m.SetPools(valid); err != nil {
		// Validate rules out overlaps, so this is a bug, not bad input.
		return false, fmt.Errorf("handing pools to the allocator: %w", err)
	}
	m.verdicts, m.versions = verdicts, versions
	return true, nil
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

// RequestFor builds the allocator request of a Service, reading its
// namespace's labels for pools that select namespaces.
func (m *IPAM) RequestFor(ctx context.Context, svc *corev1.Service, current []netip.Addr) (Request, error) {
	var ns corev1.Namespace
	if err := m.reader.Get(ctx, client.ObjectKey{Name: svc.Namespace}, &ns); err != nil && !apierrors.IsNotFound(err) {
		return Request{}, fmt.Errorf("reading namespace %s: %w", svc.Namespace, err)
	}
	return RequestFor(svc, ns.Labels, current)
}

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

	reader client.Reader
	class  v1beta1.ClassFilter

	mu       sync.Mutex
	restored bool
	verdicts map[string]PoolVerdict
	// versions fingerprints the pool specs last synced, so that a sync with
	// nothing new costs one cache List. Status writes do not count.
	versions map[string]string
}

// New returns an IPAM reading pools and Services through reader (the
// manager's cache) and handling Services of class.
func New(reader client.Reader, class v1beta1.ClassFilter) *IPAM {
	return &IPAM{Allocator: allocator.New(), reader: reader, class: class}
}

// Class returns the Service class this IPAM handles.
func (m *IPAM) Class() v1beta1.ClassFilter { return m.class }

// EnsureRestored loads the pools and every address already shown in a
// Service's status, once, before anything new is handed out. Reconcilers call
// it first; only the first call does the work, the others wait for it.
func (m *IPAM) EnsureRestored(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.restored {
		return nil
	}
	if _, err := m.syncPoolsLocked(ctx); err != nil {
		return err
	}
	var svcs corev1.ServiceList
	if err := m.reader.List(ctx, &svcs); err != nil {
		return fmt.Errorf("listing services to restore their addresses: %w", err)
	}
	restored, lost := m.restore(ctx, svcs.Items)
	log.FromContext(ctx).Info("Restored assigned addresses", "services", restored, "notRestored", lost)
	m.restored = true
	return nil
}

// restore claims each Service's current addresses, oldest Service first so
// that, should two claim one address, the one that had it first keeps it.
func (m *IPAM) restore(ctx context.Context, svcs []corev1.Service) (restored, lost int) {
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
		if err := m.restoreOne(ctx, svc, current); err != nil {
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
func (m *IPAM) restoreOne(ctx context.Context, svc *corev1.Service, current []netip.Addr) error {
	req, err := m.RequestFor(ctx, svc, current)
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
	return m.syncPoolsLocked(ctx)
}

func (m *IPAM) syncPoolsLocked(ctx context.Context) (bool, error) {
	var pools v1beta1.IPAddressPoolList
	if err := m.reader.List(ctx, &pools); err != nil {
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
	verdicts := ValidateKeeping(pools.Items, m.established, m.lastValid)
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

// lastValid returns the spec this process last accepted for the pool (the
// same object: same UID). The caller holds m.mu.
func (m *IPAM) lastValid(p *v1beta1.IPAddressPool) (allocator.Pool, bool) {
	v, ok := m.verdicts[p.Name]
	switch {
	case !ok || v.UID != p.UID:
		return allocator.Pool{}, false
	case v.Valid():
		return v.Pool, true
	case v.Kept != nil:
		return *v.Kept, true
	}
	return allocator.Pool{}, false
}

// established reports whether the pool's current spec was accepted before:
// by this process, or by an earlier one as the pool's Ready condition shows.
// The caller holds m.mu.
func (m *IPAM) established(p *v1beta1.IPAddressPool) bool {
	if v, ok := m.verdicts[p.Name]; ok && v.Valid() && v.UID == p.UID && v.Generation == p.Generation {
		return true
	}
	c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.PoolReady)
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

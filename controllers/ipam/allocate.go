package ipam

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/controllers/allocator"
)

// Allocation is what Allocate decided for one Service.
type Allocation struct {
	// Assignment is what the Service holds now: after a refused request
	// still the lease it had, if that remains valid; possibly nothing.
	Assignment allocator.Assignment
	// Err is why the request was refused, an *allocator.Error, or nil.
	Err error
	// Aliases lists "metallb.io/x -> ironlb.io/x" for every MetalLB
	// annotation read in place of ours.
	Aliases []string
}

// Allocate brings the addresses a Service holds in line with what its spec
// and annotations ask for, against the pools as the cache shows them now. A
// refused request is no error: it is in Allocation.Err, and the Service
// waits, through Retries, for a release or a holder's new sharing terms that
// may let it in. The error is the API server's (reading pools or the
// namespace): try again later.
func (m *IPAM) Allocate(ctx context.Context, svc *corev1.Service) (Allocation, error) {
	// A pool event may reach the Service controller before the pool
	// controller: apply it here, not after the other controller's turn.
	if err := m.SyncPools(ctx); err != nil {
		return Allocation{}, err
	}
	key := client.ObjectKeyFromObject(svc)
	before, _ := m.alloc.Lookup(key.String())

	// Wait-list the Service before asking: an address released while
	// Assign fails would otherwise wake nobody, and the Service would wait
	// for the next release. A spurious retry costs one no-op reconcile.
	m.wait(key)
	req, err := m.requestFor(ctx, svc, IngressIPs(svc))
	var got allocator.Assignment
	if err == nil {
		got, err = m.alloc.Assign(req.Request)
	}
	if err != nil && allocator.ReasonOf(err) == "" {
		return Allocation{}, err // the API server, not the Service, is at fault
	}
	wake := false
	if err != nil {
		// A failed request keeps whatever still-valid lease it held.
		got, _ = m.alloc.Lookup(key.String())
		m.refused(key, allocator.ReasonOf(err))
	} else {
		wake = m.granted(key, sharingTerms(&req.Request))
	}
	if before.Pool != got.Pool || !slices.Equal(before.IPs, got.IPs) {
		m.usage.raise(nonEmpty(before.Pool, got.Pool)...)
		wake = wake || len(before.IPs) > 0
	}
	if wake {
		m.wakeWaiting()
	}
	return Allocation{Assignment: got, Err: err, Aliases: req.Aliases}, nil
}

// Release frees whatever a Service held, for a Service that is gone or no
// longer ours, and stops tracking it. It returns what the Service held.
func (m *IPAM) Release(key types.NamespacedName) (allocator.Assignment, bool) {
	m.waitMu.Lock()
	delete(m.waiting, key)
	delete(m.terms, key)
	m.pending.clear(key)
	m.waitMu.Unlock()

	held, ok := m.alloc.Lookup(key.String())
	if !ok {
		return held, false
	}
	m.alloc.Release(key.String())
	m.usage.raise(held.Pool)
	m.wakeWaiting()
	return held, true
}

func (m *IPAM) wait(key types.NamespacedName) {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	m.waiting[key] = struct{}{}
}

// granted takes a Service off the wait-list and out of the pending counts,
// records the sharing terms it now holds its addresses under, and reports
// whether they differ from those last recorded. A change gives the waiting
// Services another try: a holder that now consents to their namespace, frees
// a port or adopts their key may let them share its address. Terms not known
// yet (the first grant since the start) are no change: the restore on start
// has read every Service's current terms, and waking the waiting Services
// for each Service then would be a storm of retries.
func (m *IPAM) granted(key types.NamespacedName, terms string) (changed bool) {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	delete(m.waiting, key)
	m.pending.clear(key)
	prev, known := m.terms[key]
	m.terms[key] = terms
	return known && prev != terms
}

// wakeWaiting gives every Service that could not get an address another
// try, now that one was released or a Service's sharing terms changed.
func (m *IPAM) wakeWaiting() {
	m.waitMu.Lock()
	keys := make([]types.NamespacedName, 0, len(m.waiting))
	for k := range m.waiting {
		keys = append(keys, k)
	}
	m.waitMu.Unlock()
	m.retry.raise(keys...)
}

// sharingTerms sums up what decides whether other Services may share a
// Service's addresses: its key, the namespaces it consents to, its ports
// and, under externalTrafficPolicy Local, its pods. Without a key nobody
// may, whatever the rest.
func sharingTerms(req *allocator.Request) string {
	if req.SharingKey == "" {
		return ""
	}
	local := ""
	if req.LocalSelector != nil {
		local = *req.LocalSelector
	}
	return fmt.Sprintf("%q %q %v %t %q", req.SharingKey, req.SharingNamespaces, req.Ports, req.LocalSelector != nil, local)
}

func nonEmpty(names ...string) []string {
	return slices.DeleteFunc(names, func(s string) bool { return s == "" })
}

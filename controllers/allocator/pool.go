package allocator

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/iprange"
)

// Pool is one IPAddressPool as the allocator sees it: already parsed, its
// label selectors already built.
type Pool struct {
	// Name identifies the pool; it is what Assignment.Pool and Request.Pool
	// carry.
	Name string
	// Ranges are the pool's addresses; IPv4 and IPv6 may be mixed. No two
	// ranges, of this pool or another, may overlap.
	Ranges []iprange.Range
	// AutoAssign lets the pool hand out addresses to Services that neither
	// name it nor ask for one of its addresses.
	AutoAssign bool
	// AvoidBuggyIPs keeps IPv4 addresses ending in .0 and .255 from being
	// handed out; they are not counted as available either.
	AvoidBuggyIPs bool
	// Priority orders pools for automatic assignment: lower first; pools
	// without one come after all pools with one; ties are broken by name.
	Priority *int32
	// Namespaces, if set, admit only Services in these namespaces.
	Namespaces []string
	// NamespaceSelectors, if set, admit only Services whose namespace's
	// labels match one of them.
	NamespaceSelectors []labels.Selector
	// ServiceSelectors, if set, admit only Services whose labels match one
	// of them.
	ServiceSelectors []labels.Selector
	// Closed marks a pool being deleted: Services keep the addresses they
	// hold in it (their lease, or the Current addresses they show), but it
	// hands out nothing else.
	Closed bool
}

// admits reports whether the pool's namespace and selector rules let the
// requesting Service draw from it. Every rule that is set must match.
func (p *Pool) admits(req *Request) bool {
	if len(p.Namespaces) > 0 && !slices.Contains(p.Namespaces, req.Namespace) {
		return false
	}
	if len(p.NamespaceSelectors) > 0 && !anyMatches(p.NamespaceSelectors, req.NamespaceLabels) {
		return false
	}
	if len(p.ServiceSelectors) > 0 && !anyMatches(p.ServiceSelectors, req.Labels) {
		return false
	}
	return true
}

func anyMatches(sels []labels.Selector, set map[string]string) bool {
	for _, s := range sels {
		if s.Matches(labels.Set(set)) {
			return true
		}
	}
	return false
}

// poolState is a pool and its bookkeeping.
type poolState struct {
	Pool
	ranges [2][]*rangeState // by famIndex, in the order the spec lists them
	users  int              // leases drawn from this pool
}

// comparePools orders pools for automatic assignment: by priority, pools
// without one last, then by name.
func comparePools(x, y *poolState) int {
	switch {
	case x.Priority != nil && y.Priority != nil:
		if c := cmp.Compare(*x.Priority, *y.Priority); c != 0 {
			return c
		}
	case x.Priority != nil:
		return -1
	case y.Priority != nil:
		return 1
	}
	return cmp.Compare(x.Name, y.Name)
}

// clonePool copies p so that later changes to the caller's slices do not
// reach the allocator.
func clonePool(p *Pool) Pool {
	c := *p
	c.Ranges = slices.Clone(p.Ranges)
	c.Namespaces = slices.Clone(p.Namespaces)
	c.NamespaceSelectors = slices.Clone(p.NamespaceSelectors)
	c.ServiceSelectors = slices.Clone(p.ServiceSelectors)
	if p.Priority != nil {
		prio := *p.Priority
		c.Priority = &prio
	}
	return c
}

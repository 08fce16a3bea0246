package allocator

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"sort"

	"github.com/ironlb/ironlb/api/iprange"

	"k8s.io/apimachinery/pkg/labels"
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

// PoolError is returned by [Allocator.SetPools] for a pool it cannot use.
// It wraps [ErrInvalidRange], [ErrOverlap] or [ErrInvalidPool].
type PoolError struct {
	// Pool is the pool at fault.
	Pool string
	// Other is, for an overlap, the other pool involved (it may be Pool
	// itself when two of its own ranges overlap).
	Other string
	Err   error
}

func (e *PoolError) Error() string { return fmt.Sprintf("pool %s: %v", e.Pool, e.Err) }
func (e *PoolError) Unwrap() error { return e.Err }

var (
	// ErrOverlap: two ranges, of one pool or two, share addresses.
	ErrOverlap = errors.New("address ranges overlap")
	// ErrInvalidPool: a pool has no name, a duplicate name or a nil selector.
	ErrInvalidPool = errors.New("invalid pool")
)

// poolState is a pool and its bookkeeping.
type poolState struct {
	Pool
	ranges [2][]*rangeState // by famIndex, in the order the spec lists them
	users  int              // leases drawn from this pool
}

func famIndex(f iprange.Family) int {
	if f == iprange.IPv4 {
		return 0
	}
	return 1
}

// rangeState hands out the addresses of one range without enumerating it.
//
// Invariant: every offset below the cursor (every offset, once done) that
// is free is on the free stack. Offsets at or above the cursor are free
// unless they are in Allocator.ips, which happens when a Service claims an
// exact address. Stack entries may be stale (claimed again since they were
// pushed); they are dropped when they reach the top. inFree keeps the stack
// free of duplicates, so it never holds more entries than the cursor has
// passed.
type rangeState struct {
	rng        iprange.Range
	fam        iprange.Family
	pool       *poolState
	base, span u128 // First, and Last-First
	avoidBuggy bool
	buggy      uint64 // .0/.255 addresses in the range when avoidBuggy
	held       uint64 // distinct addresses of the range held by Services

	cursor u128
	done   bool // the cursor has passed the end
	free   []u128
	inFree map[u128]struct{}
}

func newRangeState(r iprange.Range, p *poolState) *rangeState {
	rs := &rangeState{
		rng:        r,
		fam:        r.Family(),
		pool:       p,
		base:       u128Of(r.First),
		avoidBuggy: p.AvoidBuggyIPs && r.First.Is4(),
		inFree:     map[u128]struct{}{},
	}
	rs.span = u128Of(r.Last).sub(rs.base)
	if rs.avoidBuggy {
		rs.buggy = buggyBelow(u128Of(r.Last).lo+1) - buggyBelow(rs.base.lo)
	}
	return rs
}

// buggyBelow counts the IPv4 values in [0, n) ending in .0 or .255.
func buggyBelow(n uint64) uint64 { return (n+255)/256 + n/256 }

// isBuggy reports whether ip is an IPv4 address ending in .0 or .255, which
// some old client stacks mistake for network or broadcast addresses.
func isBuggy(ip netip.Addr) bool {
	if !ip.Is4() {
		return false
	}
	b := ip.As4()
	return b[3] == 0 || b[3] == 255
}

func (r *rangeState) at(off u128) netip.Addr { return r.base.add(off).addr(r.fam) }

// keyAt returns keyOf(r.at(off)) without building the address, and whether
// the address is one the range skips.
func (r *rangeState) keyAt(off u128) (key u128, skip bool) {
	v := r.base.add(off)
	if r.fam == iprange.IPv4 {
		last := v.lo & 0xff
		return u128{lo: 0xffff<<32 | v.lo}, r.avoidBuggy && (last == 0 || last == 0xff)
	}
	return v, false
}

func (r *rangeState) contains(v u128) bool {
	return v.cmp(r.base) >= 0 && v.sub(r.base).cmp(r.span) <= 0
}

// skips reports whether ip may never be handed out from this range.
func (r *rangeState) skips(ip netip.Addr) bool { return r.avoidBuggy && isBuggy(ip) }

// peek finds the next free address without taking it. It may drop stale
// stack entries and move the cursor past held or skipped addresses, which
// keeps the invariant; each such step happens once, so peek is amortised
// O(1). take must follow with the same values for the address to be used.
func (r *rangeState) peek(held map[u128]*ipEntry) (off u128, fromStack, ok bool) {
	for n := len(r.free); n > 0; n = len(r.free) {
		off = r.free[n-1]
		if k, skip := r.keyAt(off); !skip && held[k] == nil {
			return off, true, true
		}
		r.free = r.free[:n-1]
		delete(r.inFree, off)
	}
	for !r.done {
		if k, skip := r.keyAt(r.cursor); !skip && held[k] == nil {
			return r.cursor, false, true
		}
		r.advance()
	}
	return u128{}, false, false
}

// take consumes the address that peek returned.
func (r *rangeState) take(off u128, fromStack bool) {
	if fromStack {
		r.free = r.free[:len(r.free)-1]
		delete(r.inFree, off)
		return
	}
	r.advance()
}

func (r *rangeState) advance() {
	if r.cursor == r.span {
		r.done = true
		return
	}
	r.cursor = r.cursor.inc()
}

// freed records that ip, of this range, is no longer held.
func (r *rangeState) freed(ip netip.Addr) {
	r.held--
	off := u128Of(ip).sub(r.base)
	if !r.done && off.cmp(r.cursor) >= 0 {
		return
	}
	if _, ok := r.inFree[off]; ok {
		return
	}
	r.inFree[off] = struct{}{}
	r.free = append(r.free, off)
}

// size returns the number of addresses in the range as a big.Int.
func (r *rangeState) size() *big.Int {
	s := r.span.big()
	return s.Add(s, big.NewInt(1))
}

// available returns the addresses that may still be handed out.
func (r *rangeState) available() *big.Int {
	s := r.size()
	return s.Sub(s, new(big.Int).SetUint64(r.buggy+r.held))
}

// rangeIndex finds the range holding an address: per family, ranges sorted
// by first address.
type rangeIndex [2][]*rangeState

func (x *rangeIndex) lookup(ip netip.Addr) *rangeState {
	if !ip.IsValid() || ip.Zone() != "" {
		return nil
	}
	rs := x[famIndex(iprange.FamilyOf(ip))]
	v := u128Of(ip)
	i := sort.Search(len(rs), func(i int) bool { return rs[i].base.cmp(v) > 0 })
	if i == 0 || !rs[i-1].contains(v) {
		return nil
	}
	return rs[i-1]
}

// SetPools replaces the whole set of pools at once. On error nothing
// changes: the error is a [*PoolError] naming the first pool that has no
// name or a duplicate one, a nil selector, an invalid range, or a range
// overlapping another (of any pool).
//
// Leases survive when every address of the lease still lies in one pool,
// which need not be the pool it came from (a range may move between pools),
// and is not a .0/.255 address of a pool that avoids them. Other leases are
// dropped, all of the Service's addresses at once, and the Services are
// returned, sorted, so that the caller can handle them again; their Current
// addresses still count for that. Changes to admission (namespaces,
// selectors, autoAssign) never drop a lease here; they take effect at the
// Service's next Assign.
//
// A range that is unchanged in a pool of the same name, with the same
// AvoidBuggyIPs, keeps its allocation cursor, so the next Services get the
// addresses they would have got anyway. Cost: O(R log R + L) for R ranges
// and L leased addresses, independent of the pools' sizes.
func (a *Allocator) SetPools(pools []Pool) (evicted []string, err error) {
	type entry struct {
		pool        string
		r           iprange.Range
		first, last u128
	}
	var byFam [2][]entry
	seen := make(map[string]bool, len(pools))
	for i := range pools {
		p := &pools[i]
		switch {
		case p.Name == "":
			return nil, &PoolError{Pool: fmt.Sprintf("#%d", i), Err: fmt.Errorf("%w: the pool has no name", ErrInvalidPool)}
		case seen[p.Name]:
			return nil, &PoolError{Pool: p.Name, Err: fmt.Errorf("%w: two pools are named %s", ErrInvalidPool, p.Name)}
		case slices.Contains(p.NamespaceSelectors, nil) || slices.Contains(p.ServiceSelectors, nil):
			return nil, &PoolError{Pool: p.Name, Err: fmt.Errorf("%w: a selector is nil", ErrInvalidPool)}
		}
		seen[p.Name] = true
		for _, r := range p.Ranges {
			if err := r.Validate(); err != nil {
				return nil, &PoolError{Pool: p.Name, Err: err}
			}
			f := famIndex(r.Family())
			byFam[f] = append(byFam[f], entry{p.Name, r, u128Of(r.First), u128Of(r.Last)})
		}
	}
	for _, es := range byFam {
		slices.SortFunc(es, func(x, y entry) int { return x.first.cmp(y.first) })
		for i := 1; i < len(es); i++ {
			prev, cur := es[i-1], es[i]
			if prev.last.cmp(cur.first) >= 0 {
				what := fmt.Sprintf("%s of pool %s", prev.r, prev.pool)
				if prev.pool == cur.pool {
					what = prev.r.String()
				}
				return nil, &PoolError{Pool: cur.pool, Other: prev.pool,
					Err: fmt.Errorf("%w: %s overlaps %s", ErrOverlap, cur.r, what)}
			}
		}
	}

	// Valid: build the new state, reusing unchanged ranges' cursors.
	a.mu.Lock()
	defer a.mu.Unlock()
	type rangeKey struct {
		pool       string
		avoidBuggy bool
		r          iprange.Range
	}
	reusable := map[rangeKey]*rangeState{}
	for _, p := range a.pools {
		for _, rs := range slices.Concat(p.ranges[:]...) {
			reusable[rangeKey{p.Name, p.AvoidBuggyIPs, rs.rng}] = rs
		}
	}
	newPools := make(map[string]*poolState, len(pools))
	order := make([]*poolState, 0, len(pools))
	var index rangeIndex
	for i := range pools {
		ps := &poolState{Pool: clonePool(&pools[i])}
		for _, r := range ps.Ranges {
			rs := reusable[rangeKey{ps.Name, ps.AvoidBuggyIPs, r}]
			if rs != nil {
				rs.pool, rs.held = ps, 0
			} else {
				rs = newRangeState(r, ps)
			}
			f := famIndex(rs.fam)
			ps.ranges[f] = append(ps.ranges[f], rs)
			index[f] = append(index[f], rs)
		}
		newPools[ps.Name] = ps
		order = append(order, ps)
	}
	for f := range index {
		slices.SortFunc(index[f], func(x, y *rangeState) int { return x.base.cmp(y.base) })
	}
	slices.SortFunc(order, comparePools)

	// Rebind every held address to its new range; find the leases to drop.
	drop := map[*lease]bool{}
	for _, e := range a.ips {
		e.rng = index.lookup(e.ip)
		if e.rng == nil || e.rng.skips(e.ip) {
			e.rng = nil
			for _, l := range e.holders {
				drop[l] = true
			}
			continue
		}
		e.rng.held++
	}
	for _, l := range a.leases {
		first := a.ips[keyOf(l.ips[0])].rng
		for _, ip := range l.ips[1:] {
			// A Service's addresses come from one pool; a split lease is
			// dropped so that the Service is handled afresh.
			if r := a.ips[keyOf(ip)].rng; first == nil || r == nil || r.pool != first.pool {
				drop[l] = true
			}
		}
	}
	a.pools, a.order, a.index = newPools, order, index
	for l := range drop {
		a.dropLease(l)
		delete(a.leases, l.service)
		evicted = append(evicted, l.service)
	}
	for _, l := range a.leases {
		l.pool = a.ips[keyOf(l.ips[0])].rng.pool
		l.pool.users++
	}
	slices.Sort(evicted)
	return evicted, nil
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

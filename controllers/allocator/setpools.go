package allocator

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ironlb/ironlb/api/iprange"
)

// PoolError is returned by [Allocator.SetPools] for a pool it cannot use.
// It wraps [iprange.ErrInvalid] (a range that [iprange.Range.Validate]
// refuses), [ErrOverlap] or [ErrInvalidPool].
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
	if err := checkPools(pools); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pools, a.order, a.index = a.buildPools(pools)
	return a.rebindLeases(), nil
}

// checkPools refuses a set of pools the allocator cannot hold. Callers
// validate pools before (controllers/ipam, by api/v1beta1/validation), so
// an error here is a bug upstream, reported rather than trusted.
func checkPools(pools []Pool) error {
	type entry struct {
		pool string
		r    iprange.Range
	}
	var byFam [2][]entry
	seen := make(map[string]bool, len(pools))
	for i := range pools {
		p := &pools[i]
		switch {
		case p.Name == "":
			return &PoolError{Pool: fmt.Sprintf("#%d", i), Err: fmt.Errorf("%w: the pool has no name", ErrInvalidPool)}
		case seen[p.Name]:
			return &PoolError{Pool: p.Name, Err: fmt.Errorf("%w: two pools are named %s", ErrInvalidPool, p.Name)}
		case slices.Contains(p.NamespaceSelectors, nil) || slices.Contains(p.ServiceSelectors, nil):
			return &PoolError{Pool: p.Name, Err: fmt.Errorf("%w: a selector is nil", ErrInvalidPool)}
		}
		seen[p.Name] = true
		for _, r := range p.Ranges {
			if err := r.Validate(); err != nil {
				return &PoolError{Pool: p.Name, Err: err}
			}
			f := famIndex(r.Family())
			byFam[f] = append(byFam[f], entry{p.Name, r})
		}
	}
	// Sorted by first address, any overlap shows between neighbours: a
	// range overlapping a later one overlaps the next one too.
	for _, es := range byFam {
		slices.SortFunc(es, func(x, y entry) int { return x.r.First.Compare(y.r.First) })
		for i := 1; i < len(es); i++ {
			prev, cur := es[i-1], es[i]
			if prev.r.Overlaps(cur.r) {
				what := fmt.Sprintf("%s of pool %s", prev.r, prev.pool)
				if prev.pool == cur.pool {
					what = prev.r.String()
				}
				return &PoolError{Pool: cur.pool, Other: prev.pool,
					Err: fmt.Errorf("%w: %s overlaps %s", ErrOverlap, cur.r, what)}
			}
		}
	}
	return nil
}

// buildPools builds the state of pools, reusing the range states (and so
// the cursors) of ranges unchanged in a pool of the same name with the same
// AvoidBuggyIPs. Their held counts start again from zero: rebindLeases
// counts them anew.
func (a *Allocator) buildPools(pools []Pool) (map[string]*poolState, []*poolState, rangeIndex) {
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
	byName := make(map[string]*poolState, len(pools))
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
		byName[ps.Name] = ps
		order = append(order, ps)
	}
	for f := range index {
		slices.SortFunc(index[f], func(x, y *rangeState) int { return x.base.cmp(y.base) })
	}
	slices.SortFunc(order, comparePools)
	return byName, order, index
}

// rebindLeases binds every held address to its range in the pools just
// built, drops the leases that no longer fit (an address outside every
// pool or one its pool now avoids, or addresses now in two pools), and
// returns their Services, sorted.
func (a *Allocator) rebindLeases() (evicted []string) {
	drop := map[*lease]bool{}
	for _, e := range a.ips {
		e.rng = a.index.lookup(e.ip)
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
	return evicted
}

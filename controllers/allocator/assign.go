package allocator

import (
	"net/netip"
	"slices"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
)

// Assign gives the Service addresses that satisfy req, or explains why it
// cannot.
//
// Assign is all-or-nothing: on error the allocator is unchanged. A lease
// the Service already had is kept, even one that no longer fits req (say it
// now asks for an address someone else holds): the Service loses nothing
// while the request cannot be met, and the caller decides whether to keep
// showing the old addresses or to Release them.
//
// The pools allowed are the named pool (req.Pool); else the pool holding
// the requested IPs; else every pool with AutoAssign that admits the
// Service, by priority, then name. Within them, for each family:
//
//  1. the requested IP, if any, and nothing else;
//  2. the Service's own address, from its lease or else from Current, when
//     it is in an allowed pool, not a .0/.255 the pool avoids, and not held
//     by a Service that will not share it. This makes Assign idempotent and
//     keeps addresses stable across restarts and other Services coming and
//     going, even when a pool of better priority has room again;
//  3. with a SharingKey, an address already held under that key by
//     compatible Services, in any allowed pool: of its own namespace first,
//     then of the namespaces it consents to that consent back;
//  4. a fresh address from the first allowed pool with room.
//
// All of a Service's addresses come from one pool, and Assignment.IPs is
// ordered like Families. SingleStack gets one address of Families[0];
// RequireDualStack one of each family, or fails without allocating either.
// PreferDualStack looks for a pool that gives both families, then one for
// Families[0] alone, then Families[1] alone; but a plan that keeps one of
// the Service's own addresses wins over one at a better level, so an
// existing Service does not lose its address to gain a second family in
// another pool (it gains it in its own pool as soon as that pool can).
//
// A Closed pool, and a pool without AutoAssign that the Service does not
// name, only keep addresses of step 2. With NoNew, only step 2
// (and requested IPs the Service already holds or shows) may succeed;
// otherwise Assign returns the error that made the Service's own addresses
// unusable, or an error wrapping ErrNoNew.
//
// Failures are [*Error] values whose Reason, one of the ironlb.io/IPAllocated
// failure reasons of api/v1beta1 (documented there), says which case
// applies. Cost: O(pools + ranges of the pools tried), amortised; never the
// size of a pool.
func (a *Allocator) Assign(req Request) (Assignment, error) {
	rq, perr := prepare(req)
	if perr != nil {
		return Assignment{}, perr
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	a.bindLease(&rq)
	var poolBuf [8]*poolState
	pools, err := a.allowedPools(&rq, poolBuf[:0])
	if err != nil {
		return Assignment{}, err
	}
	var pl plan
	var fail failure
	if !a.choose(&rq, pools, &pl, &fail) {
		return Assignment{}, fail.result(&rq)
	}
	return a.commit(&rq, rq.old, &pl), nil
}

// bindLease fills in what the allocator knows of the requesting Service:
// its lease, whether it has addresses of its own to keep, and the addresses
// it could share under its key.
func (a *Allocator) bindLease(rq *prepared) {
	rq.old = a.leases[rq.Service]
	rq.hasSticky = rq.old != nil
	rq.candidates = a.shared.candidates(&rq.share)
	for _, ip := range rq.Current {
		if _, ok := ownAddr(ip); ok {
			rq.hasSticky = true
		}
	}
}

// choose sets out to the plan to commit, trying the family levels of rq
// best first and pools in order, and reports whether there is one; fail
// collects why each pool could not serve.
//
// The first plan keeping some of the Service's own addresses wins at once,
// even at a lower level, so that a PreferDualStack Service does not lose
// its address to gain a second family elsewhere. Otherwise the plan is the
// first of the best level that has one, preferring one that shares an
// address under the Service's key.
func (a *Allocator) choose(rq *prepared, pools []*poolState, out *plan, fail *failure) bool {
	var best, first, firstShared plan
	for _, fams := range rq.levels[:rq.nLevels] {
		first.pool, firstShared.pool = nil, nil
		for _, p := range pools {
			if err := a.plan(p, fams, rq, out); err != nil {
				fail.add(err, p)
				continue
			}
			if out.sticky {
				return true
			}
			if out.shared && firstShared.pool == nil {
				firstShared = *out
			}
			if first.pool == nil {
				first = *out
			}
			// Keep looking only for something better than the first fit:
			// the Service's own addresses, or a shared one.
			if !rq.hasSticky && (firstShared.pool != nil || len(rq.candidates) == 0) {
				break
			}
		}
		if best.pool == nil {
			best = first
			if firstShared.pool != nil {
				best = firstShared
			}
		}
		if best.pool != nil && !rq.hasSticky {
			break
		}
	}
	*out = best
	return best.pool != nil
}

// allowedPools appends to buf the pools req may draw from, in the order to
// try.
func (a *Allocator) allowedPools(rq *prepared, buf []*poolState) ([]*poolState, *Error) {
	svc := rq.Service
	switch {
	case rq.Pool != "":
		p := a.pools[rq.Pool]
		if p == nil {
			return nil, newError(v1beta1.ReasonNoMatchingPool, "pool %s, named by %s, does not exist", rq.Pool, svc)
		}
		if !p.admits(&rq.Request) {
			return nil, newError(v1beta1.ReasonNoMatchingPool, "pool %s, named by %s, does not admit it", p.Name, svc)
		}
		for _, ip := range rq.IPs {
			if r := a.index.lookup(ip); r == nil || r.pool != p {
				return nil, newError(v1beta1.ReasonInvalidRequest, "%s asks for %s, which is not in the pool it names, %s", svc, ip, p.Name)
			}
		}
		return append(buf, p), nil
	case rq.hasWant():
		var p *poolState
		for _, ip := range rq.IPs {
			r := a.index.lookup(ip)
			switch {
			case r == nil:
				return nil, newError(v1beta1.ReasonIPUnavailable, "%s, asked for by %s, is not in any address pool", ip, svc)
			case p != nil && r.pool != p:
				return nil, newError(v1beta1.ReasonInvalidRequest, "%s asks for %s of pool %s and %s of pool %s; a service's addresses must come from one pool", svc, rq.IPs[0], p.Name, ip, r.pool.Name)
			}
			p = r.pool
		}
		if !p.admits(&rq.Request) {
			return nil, newError(v1beta1.ReasonIPUnavailable, "%s, asked for by %s, is in pool %s, which does not admit it", rq.IPs[0], svc, p.Name)
		}
		return append(buf, p), nil
	}
	pools := buf
	for _, p := range a.order {
		// A pool without AutoAssign still keeps the Service's own
		// addresses (pickOne hands out nothing new from it): turning
		// autoAssign off must not move Services already using the pool.
		if (p.AutoAssign || a.holdsOwn(p, rq)) && p.admits(&rq.Request) {
			pools = append(pools, p)
		}
	}
	if len(pools) == 0 {
		if len(a.pools) == 0 {
			return nil, newError(v1beta1.ReasonNoMatchingPool, "no address pool exists for %s", svc)
		}
		return nil, newError(v1beta1.ReasonNoMatchingPool, "no address pool with automatic assignment admits %s", svc)
	}
	return pools, nil
}

// holdsOwn reports whether one of the Service's own addresses (lease or
// Current) lies in p.
func (a *Allocator) holdsOwn(p *poolState, rq *prepared) bool {
	for _, src := range rq.own() {
		for _, ip := range src {
			if ip, ok := ownAddr(ip); ok {
				if r := a.index.lookup(ip); r != nil && r.pool == p {
					return true
				}
			}
		}
	}
	return false
}

// pick is one address chosen for a plan. A fresh pick has been peeked from
// its range and must be taken on commit.
type pick struct {
	ip        netip.Addr
	rng       *rangeState
	entry     *ipEntry // the address's entry when it is held, else nil
	off       u128
	fresh     bool
	fromStack bool
}

// plan is a complete set of addresses from one pool; a nil pool means
// none.
type plan struct {
	pool   *poolState
	n      int     // picks used
	all    [2]pick // one per family, ordered like the level's families
	sticky bool    // some address is the Service's own
	shared bool    // some address is shared under the Service's key
}

// picks returns the chosen addresses. (A plan is copied by value, so it
// holds no slice into itself.)
func (pl *plan) picks() []pick { return pl.all[:pl.n] }

// plan chooses one address of each family in fams from p, changing nothing
// visible.
func (a *Allocator) plan(p *poolState, fams []iprange.Family, rq *prepared, pl *plan) *Error {
	*pl = plan{pool: p}
	for i, f := range fams {
		pk, err := a.pickOne(p, f, rq, pl)
		if err != nil {
			pl.pool = nil
			return err
		}
		pl.all[i] = pk
		pl.n = i + 1
	}
	return nil
}

func (a *Allocator) pickOne(p *poolState, f iprange.Family, rq *prepared, pl *plan) (pick, *Error) {
	fi := famIndex(f)
	if ip := rq.want[fi]; ip.IsValid() {
		r := a.index.lookup(ip)
		own := rq.isSticky(ip)
		switch {
		case p.Closed && !own:
			return pick{}, newError(v1beta1.ReasonIPUnavailable, "%s, asked for by %s, is in pool %s, which is being deleted", ip, rq.Service, p.Name)
		case rq.NoNew && !own:
			return pick{}, &Error{Reason: reasonNoNew}
		}
		e := a.ips[keyOf(ip)]
		if err := a.claimable(ip, r, e, rq); err != nil {
			return pick{}, err
		}
		pl.sticky = pl.sticky || own
		return pick{ip: ip, rng: r, entry: e}, nil
	}

	var stickyErr *Error
	for src, ips := range rq.own() {
		for i, ip := range ips {
			ip, ok := ownAddr(ip)
			if !ok || iprange.FamilyOf(ip) != f {
				continue
			}
			r := a.index.lookup(ip)
			if r == nil || r.pool != p {
				continue
			}
			var e *ipEntry
			if src == 0 {
				e = rq.old.entries[i] // saves a map lookup on the resync path
			} else {
				e = a.ips[keyOf(ip)]
			}
			if err := a.claimable(ip, r, e, rq); err != nil {
				stickyErr = moreTelling(stickyErr, err)
				continue
			}
			pl.sticky = true
			return pick{ip: ip, rng: r, entry: e}, nil
		}
	}
	switch {
	case len(p.ranges[fi]) == 0:
		return pick{}, newError(v1beta1.ReasonNoMatchingPool, "pool %s has no %s addresses for %s", p.Name, f, rq.Service)
	case rq.NoNew && stickyErr != nil:
		return pick{}, stickyErr
	case rq.NoNew:
		return pick{}, &Error{Reason: reasonNoNew}
	case p.Closed:
		return pick{}, newError(v1beta1.ReasonNoMatchingPool, "pool %s is being deleted and hands out no new addresses, so %s cannot get one from it", p.Name, rq.Service)
	case !p.AutoAssign && rq.Pool == "":
		return pick{}, newError(v1beta1.ReasonNoMatchingPool, "pool %s has autoAssign off and only keeps the addresses %s already has", p.Name, rq.Service)
	}

	for _, ip := range rq.candidates {
		if iprange.FamilyOf(ip) != f {
			continue
		}
		if e := a.ips[keyOf(ip)]; e.rng.pool == p && a.claimable(ip, e.rng, e, rq) == nil {
			pl.shared = true
			return pick{ip: ip, rng: e.rng, entry: e}, nil
		}
	}
	for _, r := range p.ranges[fi] {
		if off, fromStack, ok := r.peek(a.ips); ok {
			return pick{ip: r.at(off), rng: r, off: off, fresh: true, fromStack: fromStack}, nil
		}
	}
	return pick{}, newError(v1beta1.ReasonPoolExhausted, "pool %s has no free %s address for %s", p.Name, f, rq.Service)
}

// claimable checks that the Service may hold ip of range r beside whoever
// holds it now: e is the address's entry, nil if it is free.
func (a *Allocator) claimable(ip netip.Addr, r *rangeState, e *ipEntry, rq *prepared) *Error {
	if r.skips(ip) {
		return newError(v1beta1.ReasonIPUnavailable, "%s ends in .0 or .255, which pool %s avoids", ip, r.pool.Name)
	}
	if e == nil {
		return nil
	}
	// Every pair of holders must agree, not just the Service and the
	// first holder: consent between namespaces is not transitive.
	for _, h := range e.holders {
		if h.service == rq.Service {
			continue
		}
		if err := joinError(ip, h, rq); err != nil {
			return err
		}
	}
	return nil
}

// commit makes pl the Service's lease, replacing old (which may be nil).
func (a *Allocator) commit(rq *prepared, old *lease, pl *plan) Assignment {
	if old != nil && old.pool == pl.pool && sameAddrs(old.ips, pl.picks()) && old.share.id == rq.share.id {
		// Unchanged addresses and group, so the index stands: only the
		// sharing details may differ, and claimable has checked them
		// against the other holders.
		old.ports = slices.Clone(rq.Ports)
		old.local = cloneString(rq.LocalSelector)
		old.share.others = slices.Clone(rq.share.others)
		return old.assignment()
	}
	// Take fresh addresses before dropping the old lease, which may push
	// addresses onto the stacks these picks were peeked from.
	for _, pk := range pl.picks() {
		if pk.fresh {
			pk.rng.take(pk.off, pk.fromStack)
		}
	}
	if old != nil {
		a.dropLease(old)
	}
	l := &lease{
		service: rq.Service,
		pool:    pl.pool,
		share:   rq.share.clone(),
		ports:   slices.Clone(rq.Ports),
		local:   cloneString(rq.LocalSelector),
	}
	l.ips = l.ipBuf[:pl.n]
	for i, pk := range pl.picks() {
		l.ips[i] = pk.ip
		k := keyOf(pk.ip)
		e := pk.entry
		if e != nil && old != nil {
			// Dropping the old lease may have freed the entry.
			e = a.ips[k]
		}
		if e == nil {
			e = &ipEntry{ip: pk.ip, rng: pk.rng}
			e.holders = e.oneBuf[:0]
			a.ips[k] = e
			pk.rng.held++
		}
		a.join(e, l)
		l.entries[i] = e
	}
	a.leases[rq.Service] = l
	pl.pool.users++
	return l.assignment()
}

func sameAddrs(ips []netip.Addr, picks []pick) bool {
	if len(ips) != len(picks) {
		return false
	}
	for i := range ips {
		if ips[i] != picks[i].ip {
			return false
		}
	}
	return true
}

func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

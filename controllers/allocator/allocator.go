package allocator

import (
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/ironlb/ironlb/api/iprange"
)

// Port is one port of a Service, for deciding whether two Services may
// share an IP.
type Port struct {
	Protocol string // "TCP", "UDP" or "SCTP"
	Port     int32
}

// Request describes what one Service needs.
type Request struct {
	// Service is the owner key, "namespace/name".
	Service string
	// Namespace is the Service's namespace, matched against Pool.Namespaces.
	Namespace string
	// Labels are the Service's labels, for Pool.ServiceSelectors.
	Labels map[string]string
	// NamespaceLabels are the namespace's labels, for
	// Pool.NamespaceSelectors.
	NamespaceLabels map[string]string
	// Families is spec.ipFamilies: one or two distinct families in order of
	// preference.
	Families []iprange.Family
	// Policy is spec.ipFamilyPolicy.
	Policy FamilyPolicy
	// IPs are exact addresses asked for, at most one per family. When set,
	// the Service gets exactly these or nothing; Policy only decides which
	// families may be asked for (SingleStack: the first family only;
	// RequireDualStack: one address of each family).
	IPs []netip.Addr
	// Pool, when set, restricts the Service to that pool, which may have
	// AutoAssign false but must admit the Service.
	Pool string
	// SharingKey lets Services of one namespace with the same non-empty key
	// share an IP.
	SharingKey string
	// SharingNamespaces are the other namespaces, "*" for any, whose
	// Services may share an IP with this one under SharingKey. Consent
	// must be mutual: two Services of different namespaces share only when
	// each lists the other's namespace. It needs a SharingKey.
	SharingNamespaces []string
	// Ports are the Service's ports; Services sharing an IP may not both
	// use one Protocol and Port.
	Ports []Port
	// LocalSelector is nil under externalTrafficPolicy Cluster; under Local
	// it is the Service's canonical pod selector. Services sharing an IP
	// must both be Cluster, or both Local with equal selectors.
	LocalSelector *string
	// Current are the addresses the Service already shows in its status.
	// They are kept when they still fit the request, which keeps addresses
	// stable across controller restarts.
	Current []netip.Addr
	// NoNew forbids new addresses: only the Service's lease or Current may
	// be kept. It is meant for restoring state on start.
	NoNew bool
}

// Assignment is what a Service holds: its addresses, ordered like the
// request's Families, and the pool they come from.
type Assignment struct {
	IPs  []netip.Addr
	Pool string
}

// PoolStats are a pool's usage counts, exact for any pool size. Assigned
// counts distinct addresses (an address shared by several Services counts
// once). Available counts addresses not assigned and not skipped as .0/.255
// under AvoidBuggyIPs; it ignores Closed.
type PoolStats struct {
	AssignedIPv4  int64
	AvailableIPv4 int64
	AssignedIPv6  int64
	AvailableIPv6 *big.Int
}

// lease is what one Service holds.
type lease struct {
	service string
	ips     []netip.Addr // never changed once set: a change makes a new lease
	pool    *poolState
	share   sharing
	ports   []Port
	local   *string
	ipBuf   [2]netip.Addr // backs ips
	entries [2]*ipEntry   // the entry of each address in ips
}

func (l *lease) assignment() Assignment {
	return Assignment{IPs: slices.Clone(l.ips), Pool: l.pool.Name}
}

// ipEntry is one held address: its range and the Services holding it, all
// with the same sharing key, and pairwise of one namespace or consenting to
// each other's (see joinError).
type ipEntry struct {
	ip      netip.Addr
	rng     *rangeState
	holders []*lease
	oneBuf  [1]*lease // backs holders while the address is not shared
}

// Allocator hands out addresses from pools to Services. The zero value is
// not usable; call New.
type Allocator struct {
	mu     sync.Mutex
	pools  map[string]*poolState
	order  []*poolState // for automatic assignment, see comparePools
	index  rangeIndex
	leases map[string]*lease
	ips    map[u128]*ipEntry // by keyOf
	shared shareIndex
}

// New returns an Allocator without pools.
func New() *Allocator {
	return &Allocator{
		pools:  map[string]*poolState{},
		leases: map[string]*lease{},
		ips:    map[u128]*ipEntry{},
		shared: shareIndex{},
	}
}

// prepared is a validated Request.
//
// It lives on Assign's stack: it holds no slice into itself, which would
// move it to the heap.
type prepared struct {
	Request
	share      sharing
	levels     [3][]iprange.Family // family sets to try, best first
	nLevels    int                 // levels used
	want       [2]netip.Addr       // requested address per famIndex
	old        *lease              // the Service's lease, if any
	hasSticky  bool                // it has a lease or valid Current addresses
	candidates []netip.Addr        // addresses it might share, best first; see shareIndex.candidates
}

func (rq *prepared) hasWant() bool { return len(rq.IPs) > 0 }

// own returns the Service's own addresses: its lease's, then Current.
// Entries of Current may be invalid; see ownAddr.
func (rq *prepared) own() [2][]netip.Addr {
	var leased []netip.Addr
	if rq.old != nil {
		leased = rq.old.ips
	}
	return [2][]netip.Addr{leased, rq.Current}
}

// ownAddr normalises an address of own(), reporting false for one that
// cannot be used.
func ownAddr(ip netip.Addr) (netip.Addr, bool) {
	ip = ip.Unmap()
	return ip, ip.IsValid() && ip.Zone() == ""
}

func (rq *prepared) isSticky(ip netip.Addr) bool {
	for _, src := range rq.own() {
		for _, o := range src {
			if o, ok := ownAddr(o); ok && o == ip {
				return true
			}
		}
	}
	return false
}

// prepare checks that req is consistent on its own.
func prepare(req Request) (prepared, *Error) {
	var none prepared
	svc := req.Service
	if svc == "" {
		return none, newError(ReasonInvalidRequest, "the request names no service")
	}
	fams := req.Families
	switch {
	case len(fams) == 0:
		return none, newError(ReasonInvalidRequest, "%s lists no IP family", svc)
	case len(fams) > 2 || !fams[0].Valid() || (len(fams) == 2 && (!fams[1].Valid() || fams[0] == fams[1])):
		return none, newError(ReasonInvalidRequest, "%s lists the IP families %v; expected IPv4, IPv6 or both", svc, fams)
	}
	switch req.Policy {
	case SingleStack:
		fams = fams[:1]
	case PreferDualStack:
	case RequireDualStack:
		if len(fams) < 2 {
			return none, newError(ReasonInvalidRequest, "%s is RequireDualStack but lists only %s", svc, fams[0])
		}
	default:
		return none, newError(ReasonInvalidRequest, "%s has an unknown IP family policy %s", svc, req.Policy)
	}
	share, serr := newSharing(svc, req.Namespace, req.SharingKey, req.SharingNamespaces)
	if serr != nil {
		return none, serr
	}

	// Locals rather than fields of a prepared until the end: escape
	// analysis would otherwise move req to the heap.
	var want [2]netip.Addr
	var levels [3][]iprange.Family
	nLevels := 1
	if len(req.IPs) > 0 {
		ips := make([]netip.Addr, len(req.IPs))
		for i, ip := range req.IPs {
			if !ip.IsValid() || ip.Zone() != "" {
				return none, newError(ReasonInvalidRequest, "%s asks for an invalid IP address %q", svc, ip)
			}
			ip = ip.Unmap()
			f := iprange.FamilyOf(ip)
			if !slices.Contains(fams, f) {
				return none, newError(ReasonInvalidRequest, "%s asks for %s, an %s address, but its IP families under %s are %v", svc, ip, f, req.Policy, fams)
			}
			if prev := want[famIndex(f)]; prev.IsValid() {
				return none, newError(ReasonInvalidRequest, "%s asks for two %s addresses, %s and %s; at most one per family is allowed", svc, f, prev, ip)
			}
			want[famIndex(f)] = ip
			ips[i] = ip
		}
		req.IPs = ips
		level := fams
		switch {
		case len(req.IPs) == len(fams):
		case want[famIndex(fams[0])].IsValid():
			level = fams[:1]
		default:
			level = fams[1:]
		}
		if req.Policy == RequireDualStack && len(level) < 2 {
			return none, newError(ReasonInvalidRequest, "%s is RequireDualStack but asks for only %s; it must ask for one address of each family", svc, req.IPs[0])
		}
		levels[0] = level
	} else if len(fams) == 2 && req.Policy == PreferDualStack {
		levels, nLevels = [3][]iprange.Family{fams, fams[:1], fams[1:]}, 3
	} else {
		levels[0] = fams
	}
	return prepared{Request: req, share: share, levels: levels, nLevels: nLevels, want: want}, nil
}

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
// Failures are [*Error] values; see the Reason constants for which applies
// when. Cost: O(pools + ranges of the pools tried), amortised; never the
// size of a pool.
func (a *Allocator) Assign(req Request) (Assignment, error) {
	rq, perr := prepare(req)
	if perr != nil {
		return Assignment{}, perr
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	old := a.leases[req.Service]
	rq.old = old
	rq.hasSticky = old != nil
	rq.candidates = a.shared.candidates(&rq.share)
	for _, ip := range req.Current {
		if _, ok := ownAddr(ip); ok {
			rq.hasSticky = true
		}
	}

	var poolBuf [8]*poolState
	pools, err := a.allowedPools(&rq, poolBuf[:0])
	if err != nil {
		return Assignment{}, err
	}
	// best is the plan to use unless one keeps some of the Service's own
	// addresses: the first plan of the best family level, preferring one
	// that shares an address under the Service's key. A plan keeping own
	// addresses wins even at a lower level, so that a PreferDualStack
	// Service does not lose its address to gain a second family elsewhere.
	var best, first, firstShared, pl plan
	var fail failure
	for _, fams := range rq.levels[:rq.nLevels] {
		first.pool, firstShared.pool = nil, nil
		for _, p := range pools {
			if err := a.plan(p, fams, &rq, &pl); err != nil {
				fail.add(err, p)
				continue
			}
			if pl.sticky {
				return a.commit(&rq, old, &pl), nil
			}
			if pl.shared && firstShared.pool == nil {
				firstShared = pl
			}
			if first.pool == nil {
				first = pl
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
	if best.pool != nil {
		return a.commit(&rq, old, &best), nil
	}
	return Assignment{}, fail.result(&rq)
}

// allowedPools appends to buf the pools req may draw from, in the order to
// try.
func (a *Allocator) allowedPools(rq *prepared, buf []*poolState) ([]*poolState, *Error) {
	svc := rq.Service
	switch {
	case rq.Pool != "":
		p := a.pools[rq.Pool]
		if p == nil {
			return nil, newError(ReasonNoMatchingPool, "pool %s, named by %s, does not exist", rq.Pool, svc)
		}
		if !p.admits(&rq.Request) {
			return nil, newError(ReasonNoMatchingPool, "pool %s, named by %s, does not admit it", p.Name, svc)
		}
		for _, ip := range rq.IPs {
			if r := a.index.lookup(ip); r == nil || r.pool != p {
				return nil, newError(ReasonInvalidRequest, "%s asks for %s, which is not in the pool it names, %s", svc, ip, p.Name)
			}
		}
		return append(buf, p), nil
	case rq.hasWant():
		var p *poolState
		for _, ip := range rq.IPs {
			r := a.index.lookup(ip)
			switch {
			case r == nil:
				return nil, newError(ReasonIPUnavailable, "%s, asked for by %s, is not in any address pool", ip, svc)
			case p != nil && r.pool != p:
				return nil, newError(ReasonInvalidRequest, "%s asks for %s of pool %s and %s of pool %s; a service's addresses must come from one pool", svc, rq.IPs[0], p.Name, ip, r.pool.Name)
			}
			p = r.pool
		}
		if !p.admits(&rq.Request) {
			return nil, newError(ReasonIPUnavailable, "%s, asked for by %s, is in pool %s, which does not admit it", rq.IPs[0], svc, p.Name)
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
			return nil, newError(ReasonNoMatchingPool, "no address pool exists for %s", svc)
		}
		return nil, newError(ReasonNoMatchingPool, "no address pool with automatic assignment admits %s", svc)
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

const reasonNoNew = "noNew" // internal: NoNew forbade a fresh address

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
			return pick{}, newError(ReasonIPUnavailable, "%s, asked for by %s, is in pool %s, which is being deleted", ip, rq.Service, p.Name)
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
		return pick{}, newError(ReasonNoMatchingPool, "pool %s has no %s addresses for %s", p.Name, f, rq.Service)
	case rq.NoNew && stickyErr != nil:
		return pick{}, stickyErr
	case rq.NoNew:
		return pick{}, &Error{Reason: reasonNoNew}
	case p.Closed:
		return pick{}, newError(ReasonNoMatchingPool, "pool %s is being deleted and hands out no new addresses, so %s cannot get one from it", p.Name, rq.Service)
	case !p.AutoAssign && rq.Pool == "":
		return pick{}, newError(ReasonNoMatchingPool, "pool %s has autoAssign off and only keeps the addresses %s already has", p.Name, rq.Service)
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
	return pick{}, newError(ReasonPoolExhausted, "pool %s has no free %s address for %s", p.Name, f, rq.Service)
}

// claimable checks that the Service may hold ip of range r beside whoever
// holds it now: e is the address's entry, nil if it is free.
func (a *Allocator) claimable(ip netip.Addr, r *rangeState, e *ipEntry, rq *prepared) *Error {
	if r.skips(ip) {
		return newError(ReasonIPUnavailable, "%s ends in .0 or .255, which pool %s avoids", ip, r.pool.Name)
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

// join makes l a holder of e, listing e in the share index under l's group
// when l is the first holder of its namespace.
func (a *Allocator) join(e *ipEntry, l *lease) {
	if l.share.shares() && !e.heldFrom(l.share.id.namespace) {
		a.shared.add(l.share.id, e.ip)
	}
	e.holders = append(e.holders, l)
}

// leave removes l from e's holders, and e from the share index under l's
// group when l was the last holder of its namespace.
func (a *Allocator) leave(e *ipEntry, l *lease) {
	e.holders = slices.DeleteFunc(e.holders, func(h *lease) bool { return h == l })
	if l.share.shares() && !e.heldFrom(l.share.id.namespace) {
		a.shared.remove(l.share.id, e.ip)
	}
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

// dropLease frees the addresses of l that nobody else holds. The caller
// removes or replaces l in a.leases.
func (a *Allocator) dropLease(l *lease) {
	for i, ip := range l.ips {
		e := l.entries[i]
		a.leave(e, l)
		if len(e.holders) > 0 {
			continue
		}
		delete(a.ips, keyOf(ip))
		if e.rng != nil {
			e.rng.freed(ip)
		}
	}
	l.pool.users--
}

// failure collects why each pool could not serve a request and reports
// the most telling reason.
type failure struct {
	worst     *Error
	exhausted []string
	closed    []string
}

func rank(reason string) int {
	switch reason {
	case ReasonInvalidRequest:
		return 6
	case ReasonSharingConflict:
		return 5
	case ReasonIPUnavailable:
		return 4
	case reasonNoNew:
		return 3
	case ReasonPoolExhausted:
		return 2
	}
	return 1
}

// moreTelling returns the more telling of two errors, the first on a tie.
func moreTelling(cur, err *Error) *Error {
	if cur == nil || rank(err.Reason) > rank(cur.Reason) {
		return err
	}
	return cur
}

func (f *failure) add(err *Error, p *poolState) {
	switch {
	case err.Reason == ReasonPoolExhausted && !slices.Contains(f.exhausted, p.Name):
		f.exhausted = append(f.exhausted, p.Name)
	case err.Reason == ReasonNoMatchingPool && p.Closed && !slices.Contains(f.closed, p.Name):
		f.closed = append(f.closed, p.Name)
	}
	f.worst = moreTelling(f.worst, err)
}

func (f *failure) result(rq *prepared) error {
	svc := rq.Service
	if f.worst.Reason == reasonNoNew {
		return fmt.Errorf("%s holds no address it can keep: %w", svc, ErrNoNew)
	}
	if rq.Pool != "" || rq.hasWant() {
		return f.worst // one pool: its own message says it best
	}
	switch f.worst.Reason {
	case ReasonPoolExhausted:
		return newError(ReasonPoolExhausted, "no free address for %s in the pools that admit it (%s)", svc, strings.Join(f.exhausted, ", "))
	case ReasonNoMatchingPool:
		msg := fmt.Sprintf("no address pool that admits %s can give it %s", svc, describe(rq))
		if len(f.closed) > 0 {
			msg += fmt.Sprintf("; pools being deleted: %s", strings.Join(f.closed, ", "))
		}
		return newError(ReasonNoMatchingPool, "%s", msg)
	}
	return f.worst
}

// describe names the addresses a request needs.
func describe(rq *prepared) string {
	fams := rq.levels[0]
	switch {
	case len(fams) == 1:
		return "an " + fams[0].String() + " address"
	case rq.Policy == PreferDualStack:
		return "an " + fams[0].String() + " or an " + fams[1].String() + " address"
	}
	return "both an " + fams[0].String() + " and an " + fams[1].String() + " address"
}

// Release drops the Service's lease and returns the addresses it held
// (nil if none). An address shared with other Services stays theirs.
func (a *Allocator) Release(service string) (released []netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.leases[service]
	if l == nil {
		return nil
	}
	a.dropLease(l)
	delete(a.leases, service)
	return l.ips // the lease is gone, so its slice is the caller's
}

// Lookup returns the Service's lease.
func (a *Allocator) Lookup(service string) (Assignment, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.leases[service]
	if l == nil {
		return Assignment{}, false
	}
	return l.assignment(), true
}

// Stats returns the pool's usage counts, or false if no such pool is set.
// It costs O(ranges of the pool).
func (a *Allocator) Stats(pool string) (PoolStats, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pools[pool]
	if p == nil {
		return PoolStats{}, false
	}
	s := PoolStats{AvailableIPv6: new(big.Int)}
	for _, r := range p.ranges[famIndex(iprange.IPv4)] {
		s.AssignedIPv4 += int64(r.held)
		s.AvailableIPv4 += r.available().Int64() // at most 2^32
	}
	for _, r := range p.ranges[famIndex(iprange.IPv6)] {
		s.AssignedIPv6 += int64(r.held)
		s.AvailableIPv6.Add(s.AvailableIPv6, r.available())
	}
	return s, true
}

// Users returns how many Services hold an address from the pool; a pool
// being deleted may go once this is zero.
func (a *Allocator) Users(pool string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.pools[pool]; p != nil {
		return p.users
	}
	return 0
}

// PoolOf returns the pool whose ranges contain ip.
func (a *Allocator) PoolOf(ip netip.Addr) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.index.lookup(ip.Unmap()); r != nil {
		return r.pool.Name, true
	}
	return "", false
}

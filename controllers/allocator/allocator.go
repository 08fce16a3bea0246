package allocator

import (
	"net/netip"
	"slices"
	"sync"
)

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

// PoolOf returns the pool whose ranges contain ip.
func (a *Allocator) PoolOf(ip netip.Addr) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.index.lookup(ip.Unmap()); r != nil {
		return r.pool.Name, true
	}
	return "", false
}

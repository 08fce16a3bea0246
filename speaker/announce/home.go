package announce

import "net/netip"

// home is the pool an address belongs to and the entry of it holding the
// address (zero when none does: a pool edit is in flight).
type home struct {
	pool  *Pool
	entry Entry
}

// homeOf finds the pool ip belongs to, in this order:
//
//  1. the pool the controller recorded on its services, when that pool
//     contains ip: the controller allocated ip from it, and such a pool keeps
//     its services' addresses even while an edit made it invalid or while it
//     is being deleted;
//  2. else a Ready pool containing ip, the first by name: a pool that is not
//     Ready (overlapping another, unparseable, not validated yet) hands out
//     nothing, so it must never take a valid pool's address to an
//     advertisement of its own;
//  3. else the recorded pool, without an entry: ip is in none of its ranges
//     while a pool edit is in flight, and the controller will move it.
//
// users are sorted by key and c.pools by name, so every speaker finds the
// same pool. An address with no home is not announced.
func (c *computation) homeOf(ip netip.Addr, users []*Service) (home, bool) {
	for _, s := range users {
		if p := c.byName[s.Pool]; p != nil {
			if e, ok := p.entryOf(ip); ok {
				return home{pool: p, entry: e}, true
			}
		}
	}
	for i := range c.pools {
		if c.pools[i].NotReady {
			continue
		}
		if e, ok := c.pools[i].entryOf(ip); ok {
			return home{pool: &c.pools[i], entry: e}, true
		}
	}
	for _, s := range users {
		if p := c.byName[s.Pool]; p != nil {
			return home{pool: p}, true
		}
	}
	return home{}, false
}

// entryOf returns the entry of p that contains ip.
func (p *Pool) entryOf(ip netip.Addr) (Entry, bool) {
	for _, e := range p.Entries {
		if e.Contains(ip) {
			return e, true
		}
	}
	return Entry{}, false
}

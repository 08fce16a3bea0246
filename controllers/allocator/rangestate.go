package allocator

import (
	"math/big"
	"net/netip"
	"sort"

	"github.com/ironlb/ironlb/api/iprange"
)

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

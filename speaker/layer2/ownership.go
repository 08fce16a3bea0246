package layer2

import (
	"encoding/binary"
	"iter"
	"maps"
	"net/netip"
	"slices"
)

// addrSet is a set of addresses.
type addrSet map[netip.Addr]struct{}

func (s addrSet) has(ip netip.Addr) bool {
	_, ok := s[ip]
	return ok
}

// ownership is the owned set as given to SetOwned, normalised: addresses
// unmapped and without zone, interface names sorted and unique. Published
// values are never modified.
//
// The packet loops read it for every frame while UpdateOwned replaces it:
// it is split in ownShards maps by a hash of the address, so that a change
// copies the shards it touches (about owned/ownShards entries each) and the
// table of shards, not the whole set.
type ownership struct {
	shards [ownShards]*ownShard // nil: empty shard
	n      int
}

// ownShards: 64 keeps a shard near 80 entries at 5,000 owned addresses,
// and the table an update copies at 512 bytes.
const (
	ownShardBits = 6
	ownShards    = 1 << ownShardBits
)

type ownShard struct {
	m map[netip.Addr][]string
}

// shardOf spreads addresses over the shards whatever bits they differ in
// (Fibonacci hashing of the folded address).
func shardOf(ip netip.Addr) int {
	b := ip.As16()
	h := binary.BigEndian.Uint64(b[:8]) ^ binary.BigEndian.Uint64(b[8:])
	return int((h * 0x9e3779b97f4a7c15) >> (64 - ownShardBits))
}

// get returns the interfaces ip is to be announced on, and whether it is
// owned.
func (o *ownership) get(ip netip.Addr) ([]string, bool) {
	sh := o.shards[shardOf(ip)]
	if sh == nil {
		return nil, false
	}
	names, ok := sh.m[ip]
	return names, ok
}

func (o *ownership) len() int { return o.n }

// all yields every owned address with its interfaces, in no set order.
func (o *ownership) all() iter.Seq2[netip.Addr, []string] {
	return func(yield func(netip.Addr, []string) bool) {
		for _, sh := range o.shards {
			if sh == nil {
				continue
			}
			for ip, names := range sh.m {
				if !yield(ip, names) {
					return
				}
			}
		}
	}
}

func normalAddr(ip netip.Addr) netip.Addr {
	return ip.Unmap().WithZone("")
}

func newOwnership(in map[netip.Addr][]string) *ownership {
	out := &ownership{}
	w := (&ownership{}).writer(out)
	for ip, names := range in {
		w.set(ip, names)
	}
	return out
}

// ownWriter builds next from prev, copying a shard of prev the first time
// it is written to.
type ownWriter struct {
	prev, next *ownership
	copied     [ownShards]bool
}

func (o *ownership) writer(next *ownership) *ownWriter {
	return &ownWriter{prev: o, next: next}
}

func (w *ownWriter) shard(i int) map[netip.Addr][]string {
	if !w.copied[i] {
		w.copied[i] = true
		sh := &ownShard{m: make(map[netip.Addr][]string)}
		if old := w.prev.shards[i]; old != nil {
			sh.m = maps.Clone(old.m)
		}
		w.next.shards[i] = sh
	}
	return w.next.shards[i].m
}

// set owns ip (normalised) on names, unless no host may claim it.
func (w *ownWriter) set(ip netip.Addr, names []string) {
	if ip = normalAddr(ip); !announceable(ip) {
		return
	}
	m := w.shard(shardOf(ip))
	if _, ok := m[ip]; !ok {
		w.next.n++
	}
	m[ip] = normalNames(names)
}

func (w *ownWriter) drop(ip netip.Addr) {
	ip = normalAddr(ip)
	if _, ok := w.next.get(ip); !ok {
		return
	}
	delete(w.shard(shardOf(ip)), ip)
	w.next.n--
}

// normalNames returns names sorted, without repeats and empty names.
func normalNames(names []string) []string {
	clean := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "" })
	slices.Sort(clean)
	return slices.Compact(clean)
}

// updated returns o with the addresses of set owned (with their
// interfaces) and those of drop not, normalised as newOwnership does, and
// whether that differs from o. o itself is never modified: the shards
// changed are copied, O(len(set) + len(drop)) shards of about
// len(o)/ownShards entries.
func (o *ownership) updated(set map[netip.Addr][]string, drop []netip.Addr) (*ownership, bool) {
	changed := false
	for _, ip := range drop {
		if _, ok := o.get(normalAddr(ip)); ok {
			changed = true
			break
		}
	}
	if !changed {
		for ip, names := range set {
			ip = normalAddr(ip)
			if !announceable(ip) {
				continue
			}
			if have, ok := o.get(ip); !ok || !sameNames(have, names) {
				changed = true
				break
			}
		}
	}
	if !changed {
		return o, false
	}
	next := &ownership{shards: o.shards, n: o.n}
	w := o.writer(next)
	for _, ip := range drop {
		w.drop(ip)
	}
	for ip, names := range set {
		w.set(ip, names)
	}
	return next, true
}

// announceable rules out what no host can claim on a link.
func announceable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast()
}

// same reports whether in would normalise to o, without allocating: SetOwned
// is called on every resync with, most of the time, an unchanged set.
func (o *ownership) same(in map[netip.Addr][]string) bool {
	n := 0
	for ip, names := range in {
		ip = normalAddr(ip)
		if !announceable(ip) {
			continue
		}
		have, ok := o.get(ip)
		if !ok || !sameNames(have, names) {
			return false
		}
		n++
	}
	return n == o.n
}

// sameNames compares a normalised name list with a caller's, which may be in
// any order and hold duplicates.
func sameNames(have, in []string) bool {
	for _, n := range in {
		if n != "" && !slices.Contains(have, n) {
			return false
		}
	}
	for _, n := range have {
		if !slices.Contains(in, n) {
			return false
		}
	}
	return true
}

// diff returns the addresses owned in o or in p but not alike in both (on
// other interfaces): what changed from p to o. Shards o shares with p are
// skipped, so it costs O(entries of the shards that differ), O(owned) after
// SetOwned; no interface selection.
func (o *ownership) diff(p *ownership) addrSet {
	out := make(addrSet)
	for i := range o.shards {
		a, b := o.shards[i], p.shards[i]
		if a == b {
			continue
		}
		if a != nil {
			for ip, names := range a.m {
				if have, ok := p.get(ip); !ok || !slices.Equal(have, names) {
					out[ip] = struct{}{}
				}
			}
		}
		if b != nil {
			for ip := range b.m {
				if _, ok := o.get(ip); !ok {
					out[ip] = struct{}{}
				}
			}
		}
	}
	return out
}

// allows reports whether ip is owned and may be announced on the named
// interface.
func (o *ownership) allows(ip netip.Addr, ifname string) bool {
	names, ok := o.get(ip)
	return ok && (len(names) == 0 || slices.Contains(names, ifname))
}

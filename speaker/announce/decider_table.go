package announce

import (
	"encoding/binary"
	"iter"
	"maps"
	"net/netip"
)

// An addrTable is split into tableFanout × tableFanout leaf maps under a
// two-level index. A change to one address copies its leaf (at 50,000
// addresses about 12 entries), the middle index above it and the root
// index (64 pointers each): about 1 KiB and a small map instead of every
// address. One level of 4,096 would copy 32 KiB of pointers per change;
// one of 256 a leaf of 200 entries.
const (
	tableFanout = 64
	tableLeaves = tableFanout * tableFanout
)

type (
	tableLeaf[V any] = map[netip.Addr]V
	tableMid[V any]  = [tableFanout]tableLeaf[V]
	tableRoot[V any] = [tableFanout]*tableMid[V]
)

// addrTable maps addresses to V so that a Result made from a previous one
// shares every leaf whose addresses did not change: the Decider's
// copy-on-write of the Result. The zero value is empty. A table is never
// modified once a Result holds it.
type addrTable[V any] struct {
	root *tableRoot[V] // nil: empty; a nil middle or leaf: empty
	n    int           // entries
}

// leafOf spreads addresses over the leaves by a hash of all their bits,
// so that neighbouring addresses (a pool hands them out in order) land in
// different leaves. The hash only places entries: any spread would do.
func leafOf(ip netip.Addr) (int, int) {
	b := ip.As16()
	h := binary.BigEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^ binary.BigEndian.Uint64(b[8:])
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h >> 58), int(h>>52) & (tableFanout - 1)
}

func (t addrTable[V]) leaf(ip netip.Addr) tableLeaf[V] {
	if t.root == nil {
		return nil
	}
	i, j := leafOf(ip)
	if mid := t.root[i]; mid != nil {
		return mid[j]
	}
	return nil
}

func (t addrTable[V]) get(ip netip.Addr) (V, bool) {
	v, ok := t.leaf(ip)[ip]
	return v, ok
}

// all yields every entry, in no particular order.
func (t addrTable[V]) all() iter.Seq2[netip.Addr, V] {
	return func(yield func(netip.Addr, V) bool) {
		if t.root == nil {
			return
		}
		for _, mid := range t.root {
			if mid == nil {
				continue
			}
			for _, m := range mid {
				for ip, v := range m {
					if !yield(ip, v) {
						return
					}
				}
			}
		}
	}
}

func (t addrTable[V]) len() int { return t.n }

// tableWriter builds a new table from one, copying the root, a middle
// index and a leaf the first time one of their addresses changes, and
// leaving the original as it was.
type tableWriter[V any] struct {
	from     addrTable[V]
	to       *tableRoot[V] // nil until the first change
	n        int
	ownMid   [tableFanout]bool
	ownLeaf  [tableLeaves / 64]uint64 // a bit per leaf copied or made
	leafHint int                      // expected entries per leaf, to size new ones
}

func newTableWriter[V any](from addrTable[V], hint int) *tableWriter[V] {
	return &tableWriter[V]{from: from, n: from.n, leafHint: hint/tableLeaves + 1}
}

// writable returns the writable leaf of ip, made if need be.
func (w *tableWriter[V]) writable(ip netip.Addr) tableLeaf[V] {
	if w.to == nil {
		w.to = new(tableRoot[V])
		if w.from.root != nil {
			*w.to = *w.from.root
		}
	}
	i, j := leafOf(ip)
	if !w.ownMid[i] {
		mid := new(tableMid[V])
		if w.to[i] != nil {
			*mid = *w.to[i]
		}
		w.to[i], w.ownMid[i] = mid, true
	}
	if leaf := i*tableFanout + j; w.ownLeaf[leaf/64]&(1<<(leaf%64)) == 0 {
		if m := w.to[i][j]; m == nil {
			w.to[i][j] = make(tableLeaf[V], w.leafHint)
		} else {
			w.to[i][j] = maps.Clone(m)
		}
		w.ownLeaf[leaf/64] |= 1 << (leaf % 64)
	}
	return w.to[i][j]
}

func (w *tableWriter[V]) set(ip netip.Addr, v V) {
	m := w.writable(ip)
	if _, ok := m[ip]; !ok {
		w.n++
	}
	m[ip] = v
}

// delete removes ip. A leaf left empty becomes nil, and a middle index
// left without leaves too, as they would be in a table built from
// scratch.
func (w *tableWriter[V]) delete(ip netip.Addr) {
	if _, ok := w.current().get(ip); !ok {
		return
	}
	m := w.writable(ip)
	delete(m, ip)
	w.n--
	if len(m) > 0 {
		return
	}
	i, j := leafOf(ip)
	w.to[i][j] = nil
	leaf := i*tableFanout + j
	w.ownLeaf[leaf/64] &^= 1 << (leaf % 64)
	for _, l := range w.to[i] {
		if l != nil {
			return
		}
	}
	w.to[i], w.ownMid[i] = nil, false
}

func (w *tableWriter[V]) current() addrTable[V] {
	if w.to == nil {
		return w.from
	}
	return addrTable[V]{root: w.to, n: w.n}
}

// table returns the table built; the writer must not be used afterwards.
func (w *tableWriter[V]) table() addrTable[V] { return w.current() }

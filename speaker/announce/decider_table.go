package announce

import (
	"iter"
	"maps"
	"net/netip"
)

// tableShards is the number of maps an addrTable is split into. A change to
// one address copies one shard: at 50,000 addresses about 200 entries
// instead of 50,000, and the array of shard pointers (2 KiB).
const tableShards = 256

// addrTable maps addresses to V, split into shards so that a Result made
// from a previous one shares every shard whose addresses did not change:
// the Decider's copy-on-write of the Result's unexported parts. The zero
// value is empty. A table is never modified once a Result holds it.
type addrTable[V any] struct {
	shards *[tableShards]map[netip.Addr]V // nil: empty; a nil shard: empty
}

// shardOf spreads addresses over the shards with the election's address
// hash, so that neighbouring addresses (a pool hands them out in order)
// land in different shards.
func shardOf(ip netip.Addr) int { return int(addrKeyV2(ip) >> 56) }

func (t addrTable[V]) get(ip netip.Addr) (V, bool) {
	if t.shards == nil {
		var zero V
		return zero, false
	}
	v, ok := t.shards[shardOf(ip)][ip]
	return v, ok
}

// all yields every entry, in no particular order.
func (t addrTable[V]) all() iter.Seq2[netip.Addr, V] {
	return func(yield func(netip.Addr, V) bool) {
		if t.shards == nil {
			return
		}
		for _, m := range t.shards {
			for ip, v := range m {
				if !yield(ip, v) {
					return
				}
			}
		}
	}
}

func (t addrTable[V]) len() int {
	n := 0
	if t.shards != nil {
		for _, m := range t.shards {
			n += len(m)
		}
	}
	return n
}

// tableWriter builds a new table from one, copying a shard the first time
// one of its addresses changes and leaving the original as it was.
type tableWriter[V any] struct {
	from  addrTable[V]
	to    *[tableShards]map[netip.Addr]V // nil until the first change
	owned [tableShards]bool
	hint  int // expected entries in all, to size new shards
}

func newTableWriter[V any](from addrTable[V], hint int) *tableWriter[V] {
	return &tableWriter[V]{from: from, hint: hint}
}

// shard returns the writable shard of ip.
func (w *tableWriter[V]) shard(ip netip.Addr) map[netip.Addr]V {
	if w.to == nil {
		w.to = new([tableShards]map[netip.Addr]V)
		if w.from.shards != nil {
			*w.to = *w.from.shards
		}
	}
	i := shardOf(ip)
	if !w.owned[i] {
		if w.to[i] == nil {
			w.to[i] = make(map[netip.Addr]V, w.hint/tableShards+1)
		} else {
			w.to[i] = maps.Clone(w.to[i])
		}
		w.owned[i] = true
	}
	return w.to[i]
}

func (w *tableWriter[V]) set(ip netip.Addr, v V) {
	w.shard(ip)[ip] = v
}

// delete removes ip. A shard left empty becomes nil, as it would be in a
// table built from scratch.
func (w *tableWriter[V]) delete(ip netip.Addr) {
	if _, ok := w.current().get(ip); !ok {
		return
	}
	m := w.shard(ip)
	delete(m, ip)
	if len(m) == 0 {
		i := shardOf(ip)
		w.to[i], w.owned[i] = nil, false
	}
}

func (w *tableWriter[V]) current() addrTable[V] {
	if w.to == nil {
		return w.from
	}
	return addrTable[V]{shards: w.to}
}

// table returns the table built; the writer must not be used afterwards.
func (w *tableWriter[V]) table() addrTable[V] { return w.current() }

// mapWriter is copy-on-write for one of the Result's exported maps: the
// whole map is copied at the first change, as a Result handed out must
// never change.
type mapWriter[V any] struct {
	m     map[netip.Addr]V
	owned bool
}

func (w *mapWriter[V]) own() {
	if w.owned {
		return
	}
	if w.m == nil {
		w.m = map[netip.Addr]V{}
	} else {
		w.m = maps.Clone(w.m)
	}
	w.owned = true
}

func (w *mapWriter[V]) set(ip netip.Addr, v V) {
	w.own()
	w.m[ip] = v
}

func (w *mapWriter[V]) delete(ip netip.Addr) {
	if _, ok := w.m[ip]; !ok {
		return
	}
	w.own()
	delete(w.m, ip)
}

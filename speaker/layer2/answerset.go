package layer2

import (
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"
)

// answerSet is the set of addresses a link answers for. The packet loops
// and bursts read it for every frame, without a lock; the Run goroutine
// changes it. It is split like ownership, so a change copies the shards it
// touches (about answered/64 addresses each), not the whole set: copying
// the set on each change made every UpdateOwned cost O(owned).
type answerSet struct {
	shards [ownShards]atomic.Pointer[addrSet] // published shards are never modified
}

func (s *answerSet) has(ip netip.Addr) bool {
	m := s.shards[shardOf(ip)].Load()
	return m != nil && m.has(ip)
}

// update adds the addresses of add and removes those of remove, copying
// each shard they touch once. Only the Run goroutine calls it.
func (s *answerSet) update(add, remove []netip.Addr) {
	if len(add)+len(remove) == 0 {
		return
	}
	next := map[int]addrSet{}
	shard := func(ip netip.Addr) addrSet {
		i := shardOf(ip)
		m, ok := next[i]
		if !ok {
			m = addrSet{}
			if old := s.shards[i].Load(); old != nil {
				m = maps.Clone(*old)
			}
			next[i] = m
		}
		return m
	}
	for _, ip := range remove {
		delete(shard(ip), ip)
	}
	for _, ip := range add {
		shard(ip)[ip] = struct{}{}
	}
	for i, m := range next {
		s.shards[i].Store(&m)
	}
}

// clear empties the set: nothing is answered any more.
func (s *answerSet) clear() {
	for i := range s.shards {
		s.shards[i].Store(nil)
	}
}

// list returns the addresses in the set, sorted: for re-announcements and
// tests.
func (s *answerSet) list() []netip.Addr {
	var out []netip.Addr
	for i := range s.shards {
		if m := s.shards[i].Load(); m != nil {
			for ip := range *m {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

package allocator

import (
	"math/big"

	"github.com/ironlb/ironlb/api/iprange"
)

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

package allocator

import "net/netip"

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

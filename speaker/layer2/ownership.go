package layer2

import (
	"maps"
	"net/netip"
	"slices"
)

// addrSet is a set of addresses; published sets are never modified.
type addrSet map[netip.Addr]struct{}

func (s addrSet) has(ip netip.Addr) bool {
	_, ok := s[ip]
	return ok
}

// hasKind reports whether some address in s is announced with frames of kind.
func (s addrSet) hasKind(kind FrameKind) bool {
	for ip := range s {
		if kindOf(ip) == kind {
			return true
		}
	}
	return false
}

// ownership is the owned set as given to SetOwned, normalised: addresses
// unmapped and without zone, interface names sorted and unique. Published
// values are never modified.
type ownership map[netip.Addr][]string

func normalAddr(ip netip.Addr) netip.Addr {
	return ip.Unmap().WithZone("")
}

func newOwnership(in map[netip.Addr][]string) ownership {
	out := make(ownership, len(in))
	for ip, names := range in {
		ip = normalAddr(ip)
		if !announceable(ip) {
			continue
		}
		out[ip] = normalNames(names)
	}
	return out
}

// normalNames returns names sorted, without repeats and empty names.
func normalNames(names []string) []string {
	clean := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "" })
	slices.Sort(clean)
	return slices.Compact(clean)
}

// updated returns o with the addresses of set owned (with their
// interfaces) and those of drop not, normalised as newOwnership does, and
// whether that differs from o. o itself is never modified: a changed one
// is copied, O(len(o)).
func (o ownership) updated(set map[netip.Addr][]string, drop []netip.Addr) (ownership, bool) {
	changed := false
	for _, ip := range drop {
		if _, ok := o[normalAddr(ip)]; ok {
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
			if have, ok := o[ip]; !ok || !sameNames(have, names) {
				changed = true
				break
			}
		}
	}
	if !changed {
		return o, false
	}
	next := maps.Clone(o)
	if next == nil {
		next = ownership{}
	}
	for _, ip := range drop {
		delete(next, normalAddr(ip))
	}
	for ip, names := range set {
		if ip = normalAddr(ip); announceable(ip) {
			next[ip] = normalNames(names)
		}
	}
	return next, true
}

// announceable rules out what no host can claim on a link.
func announceable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast()
}

// same reports whether in would normalise to o, without allocating: SetOwned
// is called on every resync with, most of the time, an unchanged set.
func (o ownership) same(in map[netip.Addr][]string) bool {
	n := 0
	for ip, names := range in {
		ip = normalAddr(ip)
		if !announceable(ip) {
			continue
		}
		have, ok := o[ip]
		if !ok || !sameNames(have, names) {
			return false
		}
		n++
	}
	return n == len(o)
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

// allows reports whether ip is owned and may be announced on the named
// interface.
func (o ownership) allows(ip netip.Addr, ifname string) bool {
	names, ok := o[ip]
	return ok && (len(names) == 0 || slices.Contains(names, ifname))
}

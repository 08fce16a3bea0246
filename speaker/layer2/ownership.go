package layer2

import (
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
		clean := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "" })
		slices.Sort(clean)
		out[ip] = slices.Compact(clean)
	}
	return out
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

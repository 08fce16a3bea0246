package layer2

import (
	"fmt"
	"net/netip"

	"github.com/mdlayher/ndp"
)

// A link joins the solicited-node multicast group of each IPv6 address it
// answers for (RFC 4861 7.2.1), so that switches doing MLD snooping deliver
// the solicitations for it. Addresses differing only above their last 24
// bits share a group: it is joined with the first and left with the last.

// groupSocket returns the NDP socket's group methods, and the
// solicited-node group of ip, when ip needs one joined: an IPv6 address on a
// socket that has groups (solicitations reach one that has none anyway).
func (l *link) groupSocket(ip netip.Addr) (groupMember, netip.Addr, bool) {
	if !ip.Is6() {
		return nil, netip.Addr{}, false
	}
	s := l.nd.Load()
	if s == nil {
		return nil, netip.Addr{}, false
	}
	gm, ok := s.conn.(groupMember)
	if !ok {
		return nil, netip.Addr{}, false
	}
	g, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return nil, netip.Addr{}, false
	}
	return gm, g, true
}

// join makes sure the solicited-node group of ip is joined before ip is
// answered for; on error ip must not be answered for (it is retried on the
// next reconcile).
func (l *link) join(ip netip.Addr) error {
	gm, g, ok := l.groupSocket(ip)
	if !ok {
		return nil
	}
	if l.groups[g] == 0 {
		if err := gm.JoinGroup(g); err != nil {
			return fmt.Errorf("join %s on %s: %w", g, l.name, err)
		}
	}
	l.groups[g]++
	return nil
}

// leave leaves the group of ip, no longer answered for, when no other
// answered address is in it.
func (l *link) leave(ip netip.Addr) error {
	gm, g, ok := l.groupSocket(ip)
	if !ok || l.groups[g] == 0 {
		return nil
	}
	if l.groups[g]--; l.groups[g] > 0 {
		return nil
	}
	delete(l.groups, g)
	if err := gm.LeaveGroup(g); err != nil {
		return fmt.Errorf("leave %s on %s: %w", g, l.name, err)
	}
	return nil
}

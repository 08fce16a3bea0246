package layer2

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/mdlayher/ndp"
)

// link is one interface the Announcer serves: its sockets, the addresses it
// answers for there, and its counters.
//
// answer, arp and nd are read by the packet loops and bursts; everything else
// belongs to the Run goroutine.
type link struct {
	name  string
	index int
	mtu   int
	port  port
	ll    netip.Addr // link-local address the group socket is bound to
	arpM  counters
	ndpM  counters

	answer atomic.Pointer[addrSet]
	arp    atomic.Pointer[socket]
	nd     atomic.Pointer[socket]
	// broken is set by a packet loop that died on an unexpected read error;
	// the next reconcile reopens the link.
	broken atomic.Bool
	// done is closed when the link is torn down; bursts stop at once.
	done chan struct{}

	groups  addrSet // solicited-node groups joined on nd
	lastErr string
}

// socket is one open socket of a link; its packet loop ends when it is taken
// out of its slot (link.arp or link.nd) and closed.
type socket struct {
	conn net.PacketConn
	kind FrameKind
}

func newLink(ifc iface, m *metrics) *link {
	return &link{
		name:   ifc.name,
		index:  ifc.index,
		mtu:    ifc.mtu,
		port:   port{hw: ifc.hw},
		ll:     ifc.linkLocal,
		arpM:   m.bind(ARPFrames, ifc.name),
		ndpM:   m.bind(NDPFrames, ifc.name),
		done:   make(chan struct{}),
		groups: make(addrSet),
	}
}

// matches reports whether ifc is still the interface this link was opened on;
// a link deleted and re-created under the same name gets new sockets.
func (l *link) matches(ifc iface) bool {
	return l.index == ifc.index && l.mtu == ifc.mtu && bytes.Equal(l.port.hw, ifc.hw) && l.ll == ifc.linkLocal
}

func (l *link) netInterface() *net.Interface {
	return &net.Interface{Index: l.index, MTU: l.mtu, Name: l.name, HardwareAddr: l.port.hw}
}

// answers reports whether ip is in the set published for this link.
func (l *link) answers(ip netip.Addr) bool {
	set := l.answer.Load()
	return set != nil && set.has(ip)
}

// readBufferSize fits the largest frame the interface can deliver, with room
// for two VLAN tags, so no solicitation is truncated.
func (l *link) readBufferSize() int {
	return max(l.mtu, 1500) + ethHeaderLen + 8
}

// slot holds the link's socket for kind, or nil.
func (l *link) slot(kind FrameKind) *atomic.Pointer[socket] {
	if kind == NDPFrames {
		return &l.nd
	}
	return &l.arp
}

func (l *link) counters(kind FrameKind) counters {
	if kind == NDPFrames {
		return l.ndpM
	}
	return l.arpM
}

// open opens the socket for kind with listen if there is none yet, and
// returns it when it was opened now: it then needs a packet loop.
func (l *link) open(kind FrameKind, listen ListenFunc) (*socket, error) {
	slot := l.slot(kind)
	if slot.Load() != nil {
		return nil, nil
	}
	c, err := listen(l.netInterface(), kind)
	if err != nil {
		return nil, fmt.Errorf("open %s socket on %s: %w", kind, l.name, err)
	}
	s := &socket{conn: c, kind: kind}
	slot.Store(s)
	return s, nil
}

// closeSocket closes the socket for kind, after leaving its groups.
func (l *link) closeSocket(kind FrameKind) {
	s := l.slot(kind).Swap(nil)
	if s == nil {
		return
	}
	if kind == NDPFrames {
		if gm, ok := s.conn.(groupMember); ok {
			for g := range l.groups {
				_ = gm.LeaveGroup(g)
			}
		}
		l.groups = make(addrSet)
	}
	_ = s.conn.Close()
}

// syncGroups makes the memberships of the NDP socket match the IPv6
// addresses in serve, and removes from serve the addresses whose group could
// not be joined: they are retried on the next reconcile.
func (l *link) syncGroups(serve addrSet) error {
	s := l.nd.Load()
	if s == nil {
		return nil
	}
	gm, ok := s.conn.(groupMember)
	if !ok {
		return nil // nothing to join on: solicitations reach the socket anyway
	}
	want := make(addrSet)
	for ip := range serve {
		if g, err := ndp.SolicitedNodeMulticast(ip); err == nil {
			want[g] = struct{}{}
		}
	}
	var errs []error
	for g := range l.groups {
		if !want.has(g) {
			if err := gm.LeaveGroup(g); err != nil {
				errs = append(errs, fmt.Errorf("leave %s on %s: %w", g, l.name, err))
			}
			delete(l.groups, g)
		}
	}
	failed := make(addrSet)
	for g := range want {
		if l.groups.has(g) {
			continue
		}
		if err := gm.JoinGroup(g); err != nil {
			errs = append(errs, fmt.Errorf("join %s on %s: %w", g, l.name, err))
			failed[g] = struct{}{}
			continue
		}
		l.groups[g] = struct{}{}
	}
	for ip := range serve {
		if g, err := ndp.SolicitedNodeMulticast(ip); err == nil && failed.has(g) {
			delete(serve, ip)
		}
	}
	return errors.Join(errs...)
}

// close tears the link down: nothing is answered or announced on it any more.
func (l *link) close() {
	l.answer.Store(nil)
	close(l.done)
	l.closeSocket(ARPFrames)
	l.closeSocket(NDPFrames)
}

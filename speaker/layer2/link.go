package layer2

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
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

	answer answerSet
	arp    atomic.Pointer[socket]
	nd     atomic.Pointer[socket]
	// broken is set by a packet loop that died on an unexpected read error;
	// the next reconcile reopens the link.
	broken atomic.Bool
	// done is closed when the link is torn down; bursts stop at once.
	done chan struct{}

	// want: the addresses interface selection puts on this link, served or
	// not (a socket or a group may have failed); wantV6 counts the IPv6 ones,
	// so which sockets are needed is known without a walk over want.
	want   addrSet
	wantV6 int
	// groups: the solicited-node groups joined on nd, each with the number of
	// answered addresses in it (several addresses share a group).
	groups  map[netip.Addr]int
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
		want:   make(addrSet),
		groups: make(map[netip.Addr]int),
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

// answers reports whether ip is answered for on this link.
func (l *link) answers(ip netip.Addr) bool {
	return l.answer.has(ip)
}

// wants reports whether some address selected for this link is announced
// with frames of kind: the link then needs a socket for kind.
func (l *link) wants(kind FrameKind) bool {
	if kind == NDPFrames {
		return l.wantV6 > 0
	}
	return len(l.want) > l.wantV6
}

// selectAddr puts ip on this link, or takes it off; it reports whether that
// changed anything.
func (l *link) selectAddr(ip netip.Addr, on bool) bool {
	if l.want.has(ip) == on {
		return false
	}
	step := 1
	if on {
		l.want[ip] = struct{}{}
	} else {
		delete(l.want, ip)
		step = -1
	}
	if ip.Is6() {
		l.wantV6 += step
	}
	return true
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
		clear(l.groups)
	}
	_ = s.conn.Close()
}

// close tears the link down: nothing is answered or announced on it any more.
func (l *link) close() {
	l.answer.clear()
	close(l.done)
	l.closeSocket(ARPFrames)
	l.closeSocket(NDPFrames)
}

package layer2

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
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
	arp    atomic.Pointer[packet.Conn]
	nd     atomic.Pointer[packet.Conn]
	// broken is set by a packet loop that died on an unexpected read error;
	// the next reconcile reopens the link.
	broken atomic.Bool
	// done is closed when the link is torn down; bursts stop at once.
	done chan struct{}

	// ndc holds the solicited-node group memberships. Nothing is read from it:
	// solicitations are read on nd, a packet socket, which also sees the ones
	// unicast to an owned address (neighbour unreachability probes) that the
	// kernel, not owning the address, would never hand to an ICMPv6 socket.
	ndc     *ndp.Conn
	groups  addrSet
	lastErr string
}

func newLink(ifc iface, m *metrics) *link {
	return &link{
		name:   ifc.name,
		index:  ifc.index,
		mtu:    ifc.mtu,
		port:   port{hw: ifc.hw},
		ll:     ifc.linkLocal,
		arpM:   m.bind(protoARP, ifc.name),
		ndpM:   m.bind(protoNDP, ifc.name),
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
	if set == nil {
		return false
	}
	_, ok := (*set)[ip]
	return ok
}

// readBufferSize fits the largest frame the interface can deliver, with room
// for two VLAN tags, so no solicitation is truncated.
func (l *link) readBufferSize() int {
	return max(l.mtu, 1500) + ethHeaderLen + 8
}

// nsFilter passes only IPv6 frames carrying an ICMPv6 Neighbor Solicitation
// right after the fixed header, so the NDP socket is not woken for the rest of
// the IPv6 traffic on the link.
var nsFilter = mustAssemble([]bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2}, // EtherType
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.ETH_P_IPV6, SkipTrue: 5},
	bpf.LoadAbsolute{Off: ethHeaderLen + 6, Size: 1}, // IPv6 next header
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 3},
	bpf.LoadAbsolute{Off: ethHeaderLen + ipv6HeaderLen, Size: 1}, // ICMPv6 type
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(ipv6.ICMPTypeNeighborSolicitation), SkipTrue: 1},
	bpf.RetConstant{Val: 1 << 18},
	bpf.RetConstant{Val: 0},
})

func mustAssemble(prog []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(fmt.Sprintf("layer2: invalid BPF program: %v", err))
	}
	return raw
}

// openARP opens the ARP socket if there is none yet, and returns it when it
// was opened now: it then needs a packet loop.
func (l *link) openARP() (*packet.Conn, error) {
	if l.arp.Load() != nil {
		return nil, nil
	}
	c, err := packet.Listen(l.netInterface(), packet.Raw, unix.ETH_P_ARP, nil)
	if err != nil {
		return nil, fmt.Errorf("open ARP socket on %s: %w", l.name, err)
	}
	l.arp.Store(c)
	return c, nil
}

func (l *link) closeARP() {
	if c := l.arp.Swap(nil); c != nil {
		_ = c.Close()
	}
}

// openNDP opens the NDP packet socket and the ICMPv6 socket holding the group
// memberships if they are not open yet, and returns the packet socket when it
// was opened now: it then needs a packet loop.
func (l *link) openNDP() (*packet.Conn, error) {
	if l.nd.Load() != nil {
		return nil, nil
	}
	ndc, _, err := ndp.Listen(l.netInterface(), ndp.LinkLocal)
	if err != nil {
		return nil, fmt.Errorf("open ICMPv6 socket on %s: %w", l.name, err)
	}
	// Nothing is read from this socket: have the kernel queue nothing on it.
	var block ipv6.ICMPFilter
	block.SetAll(true)
	if err := ndc.SetICMPFilter(&block); err != nil {
		_ = ndc.Close()
		return nil, fmt.Errorf("filter ICMPv6 socket on %s: %w", l.name, err)
	}
	c, err := packet.Listen(l.netInterface(), packet.Raw, unix.ETH_P_IPV6, &packet.Config{Filter: nsFilter})
	if err != nil {
		_ = ndc.Close()
		return nil, fmt.Errorf("open NDP socket on %s: %w", l.name, err)
	}
	l.ndc = ndc
	l.nd.Store(c)
	return c, nil
}

// closeNDP leaves every group and closes both NDP sockets.
func (l *link) closeNDP() {
	if l.ndc != nil {
		for g := range l.groups {
			_ = l.ndc.LeaveGroup(g)
		}
		_ = l.ndc.Close()
		l.ndc = nil
	}
	l.groups = make(addrSet)
	if c := l.nd.Swap(nil); c != nil {
		_ = c.Close()
	}
}

// syncGroups makes the memberships match the IPv6 addresses in serve, and
// removes from serve the addresses whose group could not be joined: they are
// retried on the next reconcile.
func (l *link) syncGroups(serve addrSet) error {
	want := make(addrSet)
	for ip := range serve {
		if g, err := ndp.SolicitedNodeMulticast(ip); err == nil {
			want[g] = struct{}{}
		}
	}
	var errs []error
	for g := range l.groups {
		if _, ok := want[g]; !ok {
			if err := l.ndc.LeaveGroup(g); err != nil {
				errs = append(errs, fmt.Errorf("leave %s on %s: %w", g, l.name, err))
			}
			delete(l.groups, g)
		}
	}
	failed := make(addrSet)
	for g := range want {
		if _, ok := l.groups[g]; ok {
			continue
		}
		if err := l.ndc.JoinGroup(g); err != nil {
			errs = append(errs, fmt.Errorf("join %s on %s: %w", g, l.name, err))
			failed[g] = struct{}{}
			continue
		}
		l.groups[g] = struct{}{}
	}
	for ip := range serve {
		if g, err := ndp.SolicitedNodeMulticast(ip); err == nil {
			if _, bad := failed[g]; bad {
				delete(serve, ip)
			}
		}
	}
	return errors.Join(errs...)
}

// close tears the link down: nothing is answered or announced on it any more.
func (l *link) close() {
	l.answer.Store(nil)
	close(l.done)
	l.closeARP()
	l.closeNDP()
}

// isTransient reports read errors after which the socket keeps working: the
// kernel reports ENETDOWN once on a packet socket whose interface went down,
// and delivers again when it comes back up.
func isTransient(err error) bool {
	return errors.Is(err, syscall.ENETDOWN)
}

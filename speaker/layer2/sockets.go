package layer2

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// FrameKind says which frames a socket carries. Its value is the "protocol"
// label of the layer-2 metrics.
type FrameKind string

const (
	// ARPFrames are untagged Ethernet frames of EtherType ARP (0x0806).
	ARPFrames FrameKind = "arp"
	// NDPFrames are untagged Ethernet frames of EtherType IPv6 (0x86dd). Only
	// Neighbor Solicitations are answered; the rest is ignored, so a socket
	// may filter it out.
	NDPFrames FrameKind = "ndp"
)

// kindOf is the kind of frame that announces ip.
func kindOf(ip netip.Addr) FrameKind {
	if ip.Is4() {
		return ARPFrames
	}
	return NDPFrames
}

// ListenFunc opens the socket that frames of kind are read from and sent on
// for interface ifi. The Announcer makes every decision; the socket only
// carries bytes, so any net.PacketConn that keeps to the rules below will do.
//
// ReadFrom must return whole Ethernet frames received on ifi, header
// included; WriteTo gets whole Ethernet frames to send as they are, with a
// *packet.Addr holding the destination MAC. Closing the socket must make a
// blocked ReadFrom return. An NDPFrames socket that also has the methods
//
//	JoinGroup(group netip.Addr) error
//	LeaveGroup(group netip.Addr) error
//
// is made to join the solicited-node group of each IPv6 address announced on
// ifi (the default one sends MLD reports, so switches doing MLD snooping
// deliver the solicitations); without them no group is joined.
type ListenFunc func(ifi *net.Interface, kind FrameKind) (net.PacketConn, error)

// groupMember is the optional side of an NDPFrames socket that ListenFunc
// describes.
type groupMember interface {
	JoinGroup(group netip.Addr) error
	LeaveGroup(group netip.Addr) error
}

// listenRaw is the default ListenFunc: AF_PACKET sockets, which need
// CAP_NET_RAW.
func listenRaw(ifi *net.Interface, kind FrameKind) (net.PacketConn, error) {
	switch kind {
	case ARPFrames:
		c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ARP, nil)
		if err != nil {
			return nil, err
		}
		return c, nil
	case NDPFrames:
		s, err := listenNDP(ifi)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown frame kind %q", kind)
}

// ndpSocket is the default NDPFrames socket: a packet socket reading and
// sending the frames, and an ICMPv6 socket holding the group memberships.
// Nothing is read from the latter: solicitations are read on the packet
// socket, which also sees the ones unicast to an owned address (neighbour
// unreachability probes) that the kernel, not owning the address, would
// never hand to an ICMPv6 socket.
type ndpSocket struct {
	*packet.Conn
	groups *ndp.Conn
}

func (s *ndpSocket) JoinGroup(g netip.Addr) error  { return s.groups.JoinGroup(g) }
func (s *ndpSocket) LeaveGroup(g netip.Addr) error { return s.groups.LeaveGroup(g) }

// Close closes both sockets; the kernel leaves the groups with the second.
func (s *ndpSocket) Close() error {
	return errors.Join(s.Conn.Close(), s.groups.Close())
}

func listenNDP(ifi *net.Interface) (*ndpSocket, error) {
	groups, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return nil, fmt.Errorf("open ICMPv6 socket: %w", err)
	}
	// Nothing is read from this socket: have the kernel queue nothing on it.
	var block ipv6.ICMPFilter
	block.SetAll(true)
	if err := groups.SetICMPFilter(&block); err != nil {
		_ = groups.Close()
		return nil, fmt.Errorf("filter ICMPv6 socket: %w", err)
	}
	c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_IPV6, &packet.Config{Filter: nsFilter})
	if err != nil {
		_ = groups.Close()
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	return &ndpSocket{Conn: c, groups: groups}, nil
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

// checkPacketSockets fails fast, at start, when packet sockets are not allowed,
// instead of when the first address is owned.
func checkPacketSockets() error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return nil // no loopback to try on; the first real socket will tell
	}
	c, err := packet.Listen(lo, packet.Raw, unix.ETH_P_ARP, nil)
	if err != nil {
		return fmt.Errorf("layer2: cannot open packet sockets (CAP_NET_RAW needed): %w", err)
	}
	return c.Close()
}

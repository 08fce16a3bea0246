package layer2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

const (
	ipv6HeaderLen = 40
	protoICMPv6   = 58
	// ndpHopLimit is the only hop limit a valid NDP message carries (RFC 4861
	// 7.1.1): it proves the sender is on this link.
	ndpHopLimit = 255
)

var allNodes = netip.MustParseAddr("ff02::1")

// answerNDP decides what to do with one Ethernet frame received on the NDP
// socket and, for a Neighbor Solicitation whose target this node owns, builds
// the Neighbor Advertisement.
//
// Validation follows RFC 4861 7.1.1 (hop limit 255, code 0, valid checksum,
// target not multicast, a DAD probe sent to the solicited-node group without a
// source link-layer option). Solicitations from a host are answered to it with
// Solicited and Override set; DAD probes (unspecified source) for an owned
// address are answered to all-nodes with Solicited clear (RFC 4861 7.2.4),
// which makes the prober give the address up.
//
// Advertisements are sent from the owned address itself, as Linux does for
// its own addresses: the address is this node's while it owns it, and tools
// such as ndisc6 only accept an answer for a global target from a source
// without a link scope.
func answerNDP(frame []byte, p port, owns owner) ([]byte, verdict) {
	et, ok := etherType(frame)
	if !ok {
		return nil, malformed
	}
	if et != ethernet.EtherTypeIPv6 {
		return nil, ignored
	}
	src, dst, body, v := parseICMPv6(frame[ethHeaderLen:])
	if v != answered {
		return nil, v
	}
	if ipv6.ICMPType(body[0]) != ipv6.ICMPTypeNeighborSolicitation {
		return nil, ignored
	}
	hopLimit := frame[ethHeaderLen+7]
	if hopLimit != ndpHopLimit || body[1] != 0 || !icmpv6ChecksumValid(src, dst, body) {
		return nil, malformed
	}
	if bytes.Equal(frame[6:12], p.hw) {
		return nil, ignored
	}
	msg, err := ndp.ParseMessage(body)
	if err != nil {
		return nil, malformed
	}
	ns, ok := msg.(*ndp.NeighborSolicitation)
	if !ok || ns.TargetAddress.IsMulticast() || src.IsMulticast() {
		return nil, malformed
	}
	sll := sourceLinkLayer(ns.Options)
	if isGroupMAC(sll) || isGroupMAC(frame[6:12]) {
		return nil, malformed
	}
	dad := src.IsUnspecified()
	if dad {
		snm, err := ndp.SolicitedNodeMulticast(ns.TargetAddress)
		if err != nil || dst != snm || sll != nil {
			return nil, malformed
		}
	}
	if !owns(ns.TargetAddress) {
		return nil, ignored
	}

	na := &ndp.NeighborAdvertisement{
		Solicited:     !dad,
		Override:      true,
		TargetAddress: ns.TargetAddress,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: p.hw}},
	}
	to, toHW := allNodes, multicastMAC(allNodes)
	if !dad {
		to, toHW = src, sll
		if toHW == nil {
			toHW = net.HardwareAddr(frame[6:12])
		}
	}
	out, err := ipv6Frame(p.hw, toHW, ns.TargetAddress, to, na)
	if err != nil {
		return nil, malformed
	}
	return out, answered
}

// unsolicitedNA builds the advertisement sent to all nodes on takeover:
// Override set so neighbours replace the previous owner's MAC (RFC 4861 7.2.6).
func unsolicitedNA(p port, ip netip.Addr) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: p.hw}},
	}
	return ipv6Frame(p.hw, multicastMAC(allNodes), ip, allNodes, na)
}

// parseICMPv6 checks an IPv6 header and returns the ICMPv6 message it carries.
// The verdict is answered when there is an ICMPv6 message of at least its
// 4-byte header, ignored for other protocols, malformed for broken headers.
// Extension headers are not followed: NDP messages never carry them in practice
// and a solicitation we miss is retried by the requester.
func parseICMPv6(pkt []byte) (src, dst netip.Addr, body []byte, v verdict) {
	if len(pkt) < ipv6HeaderLen || pkt[0]>>4 != 6 {
		return src, dst, nil, malformed
	}
	payloadLen := int(binary.BigEndian.Uint16(pkt[4:6]))
	// Ethernet pads short frames, so the frame may be longer than the packet, never shorter.
	if ipv6HeaderLen+payloadLen > len(pkt) {
		return src, dst, nil, malformed
	}
	if pkt[6] != protoICMPv6 {
		return src, dst, nil, ignored
	}
	if payloadLen < 4 {
		return src, dst, nil, malformed
	}
	src = netip.AddrFrom16([16]byte(pkt[8:24]))
	dst = netip.AddrFrom16([16]byte(pkt[24:40]))
	return src, dst, pkt[ipv6HeaderLen : ipv6HeaderLen+payloadLen], answered
}

// ipv6Frame wraps an NDP message into IPv6 and Ethernet headers, with the
// ICMPv6 checksum filled in: the frame goes out on a packet socket, so neither
// the kernel nor its neighbour cache is involved in sending it.
func ipv6Frame(srcHW, dstHW net.HardwareAddr, src, dst netip.Addr, m ndp.Message) ([]byte, error) {
	body, err := ndp.MarshalMessageChecksum(m, src, dst)
	if err != nil {
		return nil, err
	}
	if len(dstHW) != ethAddrLen || len(srcHW) != ethAddrLen {
		return nil, errors.New("hardware address is not Ethernet")
	}
	b := make([]byte, ethHeaderLen+ipv6HeaderLen+len(body))
	copy(b[0:6], dstHW)
	copy(b[6:12], srcHW)
	binary.BigEndian.PutUint16(b[12:14], uint16(ethernet.EtherTypeIPv6))
	h := b[ethHeaderLen:]
	h[0] = 6 << 4
	binary.BigEndian.PutUint16(h[4:6], uint16(len(body)))
	h[6] = protoICMPv6
	h[7] = ndpHopLimit
	s, d := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
	copy(h[ipv6HeaderLen:], body)
	return b, nil
}

// icmpv6ChecksumValid verifies the ICMPv6 checksum over the pseudo-header
// (RFC 8200 8.1). Raw ICMPv6 sockets have the kernel do this; packet sockets
// do not.
func icmpv6ChecksumValid(src, dst netip.Addr, body []byte) bool {
	s, d := src.As16(), dst.As16()
	sum := sum16(0, s[:])
	sum = sum16(sum, d[:])
	sum += uint32(len(body)>>16) + uint32(len(body)&0xffff) + protoICMPv6
	sum = sum16(sum, body)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

func sum16(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func sourceLinkLayer(opts []ndp.Option) net.HardwareAddr {
	for _, o := range opts {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Source {
			return lla.Addr
		}
	}
	return nil
}

// multicastMAC maps an IPv6 multicast address to its Ethernet group (RFC 2464 7).
func multicastMAC(ip netip.Addr) net.HardwareAddr {
	a := ip.As16()
	return net.HardwareAddr{0x33, 0x33, a[12], a[13], a[14], a[15]}
}

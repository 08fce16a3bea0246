package layer2

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

const (
	arpHardwareEthernet = 1
	arpIPv4Len          = 4
)

// answerARP decides what to do with one Ethernet frame received on an ARP
// socket and, for a request whose target this node owns, builds the reply.
//
// The reply goes to the requester's ARP sender hardware address, which is what
// it asked to be told at; probes (RFC 5227, sender IP 0.0.0.0) are answered
// too, which is how the owner defends its address. Gratuitous announcements
// (sender IP == target IP) are statements, not questions, and are left alone,
// as are frames carrying our own MAC: they are our own announcements.
func answerARP(frame []byte, p port, owns owner) ([]byte, verdict) {
	et, ok := etherType(frame)
	if !ok {
		return nil, malformed
	}
	if et != ethernet.EtherTypeARP {
		// VLAN-tagged frames belong to the VLAN interface, which has its own socket.
		return nil, ignored
	}
	var req arp.Packet
	if err := req.UnmarshalBinary(frame[ethHeaderLen:]); err != nil {
		return nil, malformed
	}
	if req.HardwareType != arpHardwareEthernet || req.ProtocolType != uint16(ethernet.EtherTypeIPv4) ||
		req.HardwareAddrLength != ethAddrLen || req.IPLength != arpIPv4Len {
		return nil, malformed
	}
	if isGroupMAC(req.SenderHardwareAddr) {
		return nil, malformed
	}
	if req.Operation != arp.OperationRequest {
		return nil, ignored
	}
	if bytes.Equal(req.SenderHardwareAddr, p.hw) || req.SenderIP == req.TargetIP || !owns(req.TargetIP) {
		return nil, ignored
	}
	reply, err := arp.NewPacket(arp.OperationReply, p.hw, req.TargetIP, req.SenderHardwareAddr, req.SenderIP)
	if err != nil {
		return nil, malformed
	}
	out, err := arpFrame(reply, req.SenderHardwareAddr)
	if err != nil {
		return nil, malformed
	}
	return out, answered
}

// gratuitousARP builds the announcement sent on takeover. It is a request whose
// sender and target IP are both the address (RFC 5227 "ARP Announcement"),
// broadcast: Linux treats exactly that form as gratuitous and overrides an
// existing cache entry at once, whereas a reply-form announcement is only
// honoured after the entry's locktime (1 s by default) has passed.
func gratuitousARP(hw net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	pkt, err := arp.NewPacket(arp.OperationRequest, hw, ip, make(net.HardwareAddr, ethAddrLen), ip)
	if err != nil {
		return nil, err
	}
	return arpFrame(pkt, ethernet.Broadcast)
}

func arpFrame(pkt *arp.Packet, to net.HardwareAddr) ([]byte, error) {
	payload, err := pkt.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := ethernet.Frame{
		Destination: to,
		Source:      pkt.SenderHardwareAddr,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     payload,
	}
	return f.MarshalBinary()
}

package layer2

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

var (
	nodeMAC   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x11}
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x64}
	otherMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}

	vip4      = netip.MustParseAddr("192.0.2.50")
	notOwned4 = netip.MustParseAddr("192.0.2.51")
	client4   = netip.MustParseAddr("192.0.2.100")

	testPort = port{hw: nodeMAC}
)

// ownsOnly is an owner that owns exactly the given addresses.
func ownsOnly(ips ...netip.Addr) owner {
	return func(ip netip.Addr) bool {
		for _, o := range ips {
			if o == ip {
				return true
			}
		}
		return false
	}
}

func arpRequestFrame(t testing.TB, op arp.Operation, senderHW net.HardwareAddr, senderIP, targetIP netip.Addr) []byte {
	t.Helper()
	pkt, err := arp.NewPacket(op, senderHW, senderIP, ethernet.Broadcast, targetIP)
	if err != nil {
		t.Fatalf("build ARP packet: %v", err)
	}
	f, err := arpFrame(pkt, ethernet.Broadcast)
	if err != nil {
		t.Fatalf("build ARP frame: %v", err)
	}
	return f
}

// mutate returns a copy of frame with fn applied.
func mutate(frame []byte, fn func(b []byte) []byte) []byte {
	return fn(append([]byte(nil), frame...))
}

// arpView is a readable form of an ARP frame for diffs.
type arpView struct {
	EthDst, EthSrc       string
	Op                   arp.Operation
	SenderHW, SenderIP   string
	TargetHW, TargetIP   string
	HWType, ProtoType    uint16
	HWLen, ProtoLen      uint8
	ShortFramesArePadded bool
}

func viewARP(t *testing.T, frame []byte) *arpView {
	t.Helper()
	if frame == nil {
		return nil
	}
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil {
		t.Fatalf("reply is not an Ethernet frame: %v", err)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatalf("reply is not ARP: %v", err)
	}
	return &arpView{
		EthDst: f.Destination.String(), EthSrc: f.Source.String(),
		Op:       p.Operation,
		SenderHW: p.SenderHardwareAddr.String(), SenderIP: p.SenderIP.String(),
		TargetHW: p.TargetHardwareAddr.String(), TargetIP: p.TargetIP.String(),
		HWType: p.HardwareType, ProtoType: p.ProtocolType,
		HWLen: p.HardwareAddrLength, ProtoLen: p.IPLength,
		ShortFramesArePadded: len(frame) >= 60,
	}
}

func replyView(to net.HardwareAddr, senderIP, targetIP netip.Addr) *arpView {
	return &arpView{
		EthDst: to.String(), EthSrc: nodeMAC.String(),
		Op:       arp.OperationReply,
		SenderHW: nodeMAC.String(), SenderIP: senderIP.String(),
		TargetHW: to.String(), TargetIP: targetIP.String(),
		HWType: 1, ProtoType: 0x0800, HWLen: 6, ProtoLen: 4,
		ShortFramesArePadded: true,
	}
}

func TestAnswerARP(t *testing.T) {
	request := arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4)
	tests := []struct {
		name        string
		frame       []byte
		wantVerdict verdict
		want        *arpView
	}{
		{
			name:        "request for an owned address is answered to the sender's MAC",
			frame:       request,
			wantVerdict: answered,
			want:        replyView(clientMAC, vip4, client4),
		},
		{
			name: "reply goes to the ARP sender address even when the Ethernet source differs",
			frame: mutate(request, func(b []byte) []byte {
				copy(b[6:12], otherMAC)
				return b
			}),
			wantVerdict: answered,
			want:        replyView(clientMAC, vip4, client4),
		},
		{
			name:        "probe from an address-less host (RFC 5227) is answered, defending the address",
			frame:       arpRequestFrame(t, arp.OperationRequest, clientMAC, netip.IPv4Unspecified(), vip4),
			wantVerdict: answered,
			want:        replyView(clientMAC, vip4, netip.IPv4Unspecified()),
		},
		{
			name:        "request for an address not owned is ignored",
			frame:       arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, notOwned4),
			wantVerdict: ignored,
		},
		{
			name:        "reply for an owned address is ignored",
			frame:       arpRequestFrame(t, arp.OperationReply, clientMAC, client4, vip4),
			wantVerdict: ignored,
		},
		{
			name:        "another host's gratuitous ARP for an owned address is ignored",
			frame:       arpRequestFrame(t, arp.OperationRequest, otherMAC, vip4, vip4),
			wantVerdict: ignored,
		},
		{
			name:        "our own gratuitous ARP is ignored",
			frame:       mustGratuitous(t, nodeMAC, vip4),
			wantVerdict: ignored,
		},
		{
			name:        "a request sent from our own MAC is ignored",
			frame:       arpRequestFrame(t, arp.OperationRequest, nodeMAC, netip.MustParseAddr("192.0.2.11"), vip4),
			wantVerdict: ignored,
		},
		{
			name: "IPv6 frame on the ARP socket is ignored",
			frame: mutate(request, func(b []byte) []byte {
				binary.BigEndian.PutUint16(b[12:14], 0x86dd)
				return b
			}),
			wantVerdict: ignored,
		},
		{
			name: "VLAN-tagged frame is left to the VLAN interface",
			frame: mutate(request, func(b []byte) []byte {
				binary.BigEndian.PutUint16(b[12:14], 0x8100)
				return b
			}),
			wantVerdict: ignored,
		},
		{
			name:        "frame shorter than an Ethernet header is malformed",
			frame:       request[:10],
			wantVerdict: malformed,
		},
		{
			name:        "truncated ARP payload is malformed",
			frame:       request[:ethHeaderLen+20],
			wantVerdict: malformed,
		},
		{
			name: "hardware type other than Ethernet is malformed",
			frame: mutate(request, func(b []byte) []byte {
				binary.BigEndian.PutUint16(b[14:16], 6)
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "protocol type other than IPv4 is malformed",
			frame: mutate(request, func(b []byte) []byte {
				binary.BigEndian.PutUint16(b[16:18], 0x86dd)
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "hardware address length 8 is malformed",
			frame: mutate(request, func(b []byte) []byte {
				b[18] = 8
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "protocol address length 16 is malformed",
			frame: mutate(request, func(b []byte) []byte {
				b[19] = 16
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "protocol address length 5 is malformed",
			frame: mutate(request, func(b []byte) []byte {
				b[19] = 5
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name:        "broadcast sender hardware address is malformed",
			frame:       arpRequestFrame(t, arp.OperationRequest, ethernet.Broadcast, client4, vip4),
			wantVerdict: malformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, v := answerARP(tt.frame, testPort, ownsOnly(vip4))
			if v != tt.wantVerdict {
				t.Fatalf("verdict = %s, want %s", v, tt.wantVerdict)
			}
			if diff := cmp.Diff(tt.want, viewARP(t, reply)); diff != "" {
				t.Errorf("unexpected reply (-want +got):\n%s", diff)
			}
		})
	}
}

func mustGratuitous(t testing.TB, hw net.HardwareAddr, ip netip.Addr) []byte {
	t.Helper()
	f, err := gratuitousARP(hw, ip)
	if err != nil {
		t.Fatalf("gratuitousARP: %v", err)
	}
	return f
}

func TestGratuitousARP(t *testing.T) {
	got := viewARP(t, mustGratuitous(t, nodeMAC, vip4))
	want := &arpView{
		EthDst: "ff:ff:ff:ff:ff:ff", EthSrc: nodeMAC.String(),
		Op:       arp.OperationRequest,
		SenderHW: nodeMAC.String(), SenderIP: vip4.String(),
		TargetHW: "00:00:00:00:00:00", TargetIP: vip4.String(),
		HWType: 1, ProtoType: 0x0800, HWLen: 6, ProtoLen: 4,
		ShortFramesArePadded: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected gratuitous ARP (-want +got):\n%s", diff)
	}
}

// FuzzAnswerARP checks that no frame makes the responder panic, and that
// whatever it answers is a reply for an owned address.
func FuzzAnswerARP(f *testing.F) {
	f.Add(arpRequestFrame(f, arp.OperationRequest, clientMAC, client4, vip4))
	f.Add(mustGratuitous(f, otherMAC, vip4))
	f.Fuzz(func(t *testing.T, frame []byte) {
		reply, v := answerARP(frame, testPort, ownsOnly(vip4))
		if (v == answered) != (reply != nil) {
			t.Fatalf("verdict %s with reply %x", v, reply)
		}
		if reply != nil {
			if got := viewARP(t, reply); got.SenderIP != vip4.String() || got.Op != arp.OperationReply {
				t.Fatalf("answered with %+v", got)
			}
		}
	})
}

package layer2

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ndp"
)

var (
	vip6      = netip.MustParseAddr("2001:db8::50")
	notOwned6 = netip.MustParseAddr("2001:db8::51")
	client6   = netip.MustParseAddr("2001:db8::100")
)

func solicitedNode(t testing.TB, ip netip.Addr) netip.Addr {
	t.Helper()
	g, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// nsFrame builds a Neighbor Solicitation as a host would put it on the wire.
func nsFrame(t testing.TB, srcHW, dstHW net.HardwareAddr, src, dst, target netip.Addr, sll net.HardwareAddr) []byte {
	t.Helper()
	ns := &ndp.NeighborSolicitation{TargetAddress: target}
	if sll != nil {
		ns.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: sll}}
	}
	f, err := ipv6Frame(srcHW, dstHW, src, dst, ns)
	if err != nil {
		t.Fatalf("build NS frame: %v", err)
	}
	return f
}

// multicastNS is the usual address resolution: to the target's solicited-node group.
func multicastNS(t testing.TB, target netip.Addr) []byte {
	t.Helper()
	g := solicitedNode(t, target)
	return nsFrame(t, clientMAC, multicastMAC(g), client6, g, target, clientMAC)
}

// withBody replaces the ICMPv6 message of an IPv6 frame and fixes payload
// length and checksum, so only the intended defect remains.
func withBody(frame []byte, body []byte) []byte {
	b := append(append([]byte(nil), frame[:ethHeaderLen+ipv6HeaderLen]...), body...)
	binary.BigEndian.PutUint16(b[ethHeaderLen+4:], uint16(len(body)))
	fixChecksum(b)
	return b
}

func fixChecksum(frame []byte) {
	h := frame[ethHeaderLen:]
	body := h[ipv6HeaderLen:]
	body[2], body[3] = 0, 0
	src := netip.AddrFrom16([16]byte(h[8:24]))
	dst := netip.AddrFrom16([16]byte(h[24:40]))
	s, d := src.As16(), dst.As16()
	sum := sum16(0, s[:])
	sum = sum16(sum, d[:])
	sum += uint32(len(body)) + protoICMPv6
	sum = sum16(sum, body)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(body[2:4], ^uint16(sum))
}

func icmpBody(frame []byte) []byte { return frame[ethHeaderLen+ipv6HeaderLen:] }

// naView is a readable form of a Neighbor Advertisement frame for diffs.
type naView struct {
	EthDst, EthSrc              string
	IPSrc, IPDst                string
	HopLimit                    uint8
	ChecksumValid               bool
	Router, Solicited, Override bool
	Target, TargetLinkLayer     string
}

func viewNA(t *testing.T, frame []byte) *naView {
	t.Helper()
	if frame == nil {
		return nil
	}
	src, dst, body, v := parseICMPv6(frame[ethHeaderLen:])
	if v != answered {
		t.Fatalf("reply is not ICMPv6: %s", v)
	}
	m, err := ndp.ParseMessage(body)
	if err != nil {
		t.Fatalf("reply is not NDP: %v", err)
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		t.Fatalf("reply is %T, not a neighbor advertisement", m)
	}
	view := &naView{
		EthDst: net.HardwareAddr(frame[0:6]).String(), EthSrc: net.HardwareAddr(frame[6:12]).String(),
		IPSrc: src.String(), IPDst: dst.String(),
		HopLimit:      frame[ethHeaderLen+7],
		ChecksumValid: icmpv6ChecksumValid(src, dst, body),
		Router:        na.Router, Solicited: na.Solicited, Override: na.Override,
		Target: na.TargetAddress.String(),
	}
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			view.TargetLinkLayer = lla.Addr.String()
		}
	}
	return view
}

func solicitedNA(ethDst net.HardwareAddr, ipDst netip.Addr) *naView {
	return &naView{
		EthDst: ethDst.String(), EthSrc: nodeMAC.String(),
		IPSrc: vip6.String(), IPDst: ipDst.String(),
		HopLimit: 255, ChecksumValid: true,
		Solicited: true, Override: true,
		Target: vip6.String(), TargetLinkLayer: nodeMAC.String(),
	}
}

func TestAnswerNDP(t *testing.T) {
	request := multicastNS(t, vip6)
	dadProbe := nsFrame(t, clientMAC, multicastMAC(solicitedNode(t, vip6)), netip.IPv6Unspecified(), solicitedNode(t, vip6), vip6, nil)
	tests := []struct {
		name        string
		frame       []byte
		wantVerdict verdict
		want        *naView
	}{
		{
			name:        "solicitation to the solicited-node group is answered to the requester",
			frame:       request,
			wantVerdict: answered,
			want:        solicitedNA(clientMAC, client6),
		},
		{
			name:        "unicast solicitation (unreachability probe) is answered",
			frame:       nsFrame(t, clientMAC, nodeMAC, client6, vip6, vip6, clientMAC),
			wantVerdict: answered,
			want:        solicitedNA(clientMAC, client6),
		},
		{
			name:        "reply goes to the source link-layer option rather than the Ethernet source",
			frame:       nsFrame(t, otherMAC, nodeMAC, client6, vip6, vip6, clientMAC),
			wantVerdict: answered,
			want:        solicitedNA(clientMAC, client6),
		},
		{
			name:        "without source link-layer option the reply goes to the Ethernet source",
			frame:       nsFrame(t, clientMAC, nodeMAC, client6, vip6, vip6, nil),
			wantVerdict: answered,
			want:        solicitedNA(clientMAC, client6),
		},
		{
			name:        "duplicate address detection probe is answered to all nodes, not solicited",
			frame:       dadProbe,
			wantVerdict: answered,
			want: &naView{
				EthDst: "33:33:00:00:00:01", EthSrc: nodeMAC.String(),
				IPSrc: vip6.String(), IPDst: "ff02::1",
				HopLimit: 255, ChecksumValid: true,
				Override: true,
				Target:   vip6.String(), TargetLinkLayer: nodeMAC.String(),
			},
		},
		{
			name:        "solicitation for an address not owned is ignored",
			frame:       multicastNS(t, notOwned6),
			wantVerdict: ignored,
		},
		{
			name: "solicitation sent from our own MAC is ignored",
			frame: nsFrame(t, nodeMAC, multicastMAC(solicitedNode(t, vip6)),
				netip.MustParseAddr("2001:db8::11"), solicitedNode(t, vip6), vip6, nodeMAC),
			wantVerdict: ignored,
		},
		{
			name: "neighbor advertisement is ignored",
			frame: func() []byte {
				f, err := unsolicitedNA(port{hw: otherMAC}, vip6)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}(),
			wantVerdict: ignored,
		},
		{
			name: "IPv6 packet that is not ICMPv6 is ignored",
			frame: mutate(request, func(b []byte) []byte {
				b[ethHeaderLen+6] = 17
				return b
			}),
			wantVerdict: ignored,
		},
		{
			name: "ARP frame on the NDP socket is ignored",
			frame: mutate(request, func(b []byte) []byte {
				binary.BigEndian.PutUint16(b[12:14], 0x0806)
				return b
			}),
			wantVerdict: ignored,
		},
		{
			name:        "frame shorter than an Ethernet header is malformed",
			frame:       request[:12],
			wantVerdict: malformed,
		},
		{
			name:        "truncated IPv6 header is malformed",
			frame:       request[:ethHeaderLen+30],
			wantVerdict: malformed,
		},
		{
			name: "IP version 4 in an IPv6 frame is malformed",
			frame: mutate(request, func(b []byte) []byte {
				b[ethHeaderLen] = 0x45
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "payload length beyond the frame is malformed",
			frame: mutate(request, func(b []byte) []byte {
				binary.BigEndian.PutUint16(b[ethHeaderLen+4:], 400)
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "hop limit below 255 (routed from elsewhere) is malformed",
			frame: mutate(request, func(b []byte) []byte {
				b[ethHeaderLen+7] = 64
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "bad checksum is malformed",
			frame: mutate(request, func(b []byte) []byte {
				b[ethHeaderLen+ipv6HeaderLen+2] ^= 0xff
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name: "ICMPv6 code other than 0 is malformed",
			frame: mutate(request, func(b []byte) []byte {
				b[ethHeaderLen+ipv6HeaderLen+1] = 1
				fixChecksum(b)
				return b
			}),
			wantVerdict: malformed,
		},
		{
			name:        "solicitation too short for a target is malformed",
			frame:       withBody(request, icmpBody(request)[:12]),
			wantVerdict: malformed,
		},
		{
			name:        "option of length zero is malformed",
			frame:       withBody(request, append(append([]byte(nil), icmpBody(request)[:24]...), 1, 0, 0, 0, 0, 0, 0, 0)),
			wantVerdict: malformed,
		},
		{
			name:        "multicast target is malformed",
			frame:       multicastNS(t, netip.MustParseAddr("ff02::1")),
			wantVerdict: malformed,
		},
		{
			name: "multicast source address is malformed",
			frame: nsFrame(t, clientMAC, multicastMAC(solicitedNode(t, vip6)),
				netip.MustParseAddr("ff02::2"), solicitedNode(t, vip6), vip6, clientMAC),
			wantVerdict: malformed,
		},
		{
			name:        "multicast source link-layer option is malformed",
			frame:       nsFrame(t, clientMAC, nodeMAC, client6, vip6, vip6, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}),
			wantVerdict: malformed,
		},
		{
			name: "duplicate address detection probe with a source link-layer option is malformed",
			frame: nsFrame(t, clientMAC, multicastMAC(solicitedNode(t, vip6)),
				netip.IPv6Unspecified(), solicitedNode(t, vip6), vip6, clientMAC),
			wantVerdict: malformed,
		},
		{
			name:        "duplicate address detection probe not sent to the solicited-node group is malformed",
			frame:       nsFrame(t, clientMAC, nodeMAC, netip.IPv6Unspecified(), vip6, vip6, nil),
			wantVerdict: malformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, v := answerNDP(tt.frame, testPort, ownsOnly(vip6))
			if v != tt.wantVerdict {
				t.Fatalf("verdict = %s, want %s", v, tt.wantVerdict)
			}
			if diff := cmp.Diff(tt.want, viewNA(t, reply)); diff != "" {
				t.Errorf("unexpected reply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnsolicitedNA(t *testing.T) {
	frame, err := unsolicitedNA(testPort, vip6)
	if err != nil {
		t.Fatal(err)
	}
	want := &naView{
		EthDst: "33:33:00:00:00:01", EthSrc: nodeMAC.String(),
		IPSrc: vip6.String(), IPDst: "ff02::1",
		HopLimit: 255, ChecksumValid: true,
		Override: true,
		Target:   vip6.String(), TargetLinkLayer: nodeMAC.String(),
	}
	if diff := cmp.Diff(want, viewNA(t, frame)); diff != "" {
		t.Errorf("unexpected unsolicited NA (-want +got):\n%s", diff)
	}
}

// FuzzAnswerNDP checks that no frame makes the responder panic, and that
// whatever it answers is an advertisement for an owned address.
func FuzzAnswerNDP(f *testing.F) {
	f.Add(multicastNS(f, vip6))
	f.Add(nsFrame(f, clientMAC, nodeMAC, client6, vip6, vip6, nil))
	f.Fuzz(func(t *testing.T, frame []byte) {
		reply, v := answerNDP(frame, testPort, ownsOnly(vip6))
		if (v == answered) != (reply != nil) {
			t.Fatalf("verdict %s with reply %x", v, reply)
		}
		if reply != nil {
			if got := viewNA(t, reply); got.Target != vip6.String() || !got.ChecksumValid {
				t.Fatalf("answered with %+v", got)
			}
		}
	})
}

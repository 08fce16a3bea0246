package layer2

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
)

// The fuzz targets of this file check the pure responders, answerARP and
// answerNDP, against oracles that decode frames by hand from RFC 826 and
// RFC 4861 (7.1.1 validation, 7.2.4 answers) rather than through the
// libraries the responders use. The serve loop counts a malformed verdict
// in ironlb_layer2_malformed_packets_total and sends exactly the returned
// frame for an answered one, so the verdict and the frame are what matter.
// Run one with
//
//	go test -run '^$' -fuzz '^FuzzARPResponder$' -fuzztime 20s ./speaker/layer2/

var (
	fzVIP4 = netip.MustParseAddr("192.0.2.50")
	fzVIP6 = netip.MustParseAddr("2001:db8::50")
	fzHost = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x64}
	fzNode = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x11}
)

// fzHW makes an interface MAC of fuzzed bytes: six of them, unicast.
func fzHW(b []byte) net.HardwareAddr {
	hw := make(net.HardwareAddr, ethAddrLen)
	copy(hw, b)
	hw[0] &^= 1
	return hw
}

// fzOwns is the ownership under test, by mode: 0 nothing, 1 the two VIPs,
// 2 every address, 3 addresses whose last byte is even.
func fzOwns(mode uint8, ip netip.Addr) bool {
	switch mode % 4 {
	case 1:
		return ip == fzVIP4 || ip == fzVIP6
	case 2:
		return true
	case 3:
		s := ip.AsSlice()
		return len(s) > 0 && s[len(s)-1]%2 == 0
	}
	return false
}

// fzSpy is an owner that records what the responder asked it.
func fzSpy(mode uint8, asked *[]netip.Addr) owner {
	return func(ip netip.Addr) bool {
		*asked = append(*asked, ip)
		return fzOwns(mode, ip)
	}
}

// fzARPOracle decodes an ARP frame by hand: the verdict RFC 826 and
// answerARP's contract give it, and the request's addresses.
func fzARPOracle(frame []byte, hw net.HardwareAddr, mode uint8) (v verdict, sha []byte, spa, tpa netip.Addr) {
	if len(frame) < ethHeaderLen {
		return malformed, nil, spa, tpa
	}
	if binary.BigEndian.Uint16(frame[12:14]) != 0x0806 {
		return ignored, nil, spa, tpa
	}
	p := frame[ethHeaderLen:]
	if len(p) < 8 {
		return malformed, nil, spa, tpa
	}
	htype, ptype := binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4])
	hlen, plen, op := int(p[4]), int(p[5]), binary.BigEndian.Uint16(p[6:8])
	if len(p) < 8+2*hlen+2*plen || htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4 {
		return malformed, nil, spa, tpa
	}
	sha = p[8:14]
	spa, tpa = netip.AddrFrom4([4]byte(p[14:18])), netip.AddrFrom4([4]byte(p[24:28]))
	switch {
	case sha[0]&1 != 0: // a group MAC owns nothing
		return malformed, sha, spa, tpa
	case op != 1, bytes.Equal(sha, hw), spa == tpa, !fzOwns(mode, tpa):
		// not a request; our own frame; a gratuitous announcement; not ours
		return ignored, sha, spa, tpa
	}
	return answered, sha, spa, tpa
}

// fzCheckARPReply checks a reply frame field by field: a unicast ARP reply
// from hw, telling the requester (sha, spa) that tpa is at hw, padded to the
// Ethernet minimum with zeros.
func fzCheckARPReply(t *testing.T, reply []byte, hw net.HardwareAddr, sha []byte, spa, tpa netip.Addr) {
	t.Helper()
	if len(reply) != 60 {
		t.Fatalf("reply of %d bytes, want 60 (42 padded to the Ethernet minimum): %x", len(reply), reply)
	}
	p := reply[ethHeaderLen:]
	want := slices.Concat(
		sha, hw, []byte{0x08, 0x06}, // Ethernet: to the requester, from us, ARP
		[]byte{0, 1, 0x08, 0x00, 6, 4, 0, 2}, // Ethernet/IPv4, reply
		hw, tpa.AsSlice(), sha, spa.AsSlice(),
		make([]byte, 60-42),
	)
	if !bytes.Equal(reply, want) {
		t.Fatalf("reply\n got %x\nwant %x", reply, want)
	}
	if isGroupMAC(reply[0:6]) || !bytes.Equal(p[8:14], hw) {
		t.Fatalf("reply to a group MAC or not from the port: %x", reply)
	}
}

// FuzzARPResponder feeds answerARP arbitrary frames, on a port with a
// fuzzed MAC and a fuzzed ownership, and checks:
//   - its verdict is the hand decoder's: malformed for a frame too short,
//     truncated, not Ethernet/IPv4 with 6/4-byte addresses, or from a group
//     sender MAC; ignored for other EtherTypes, replies, our own frames,
//     gratuitous announcements and targets not owned; answered otherwise;
//   - a reply comes exactly with answered, and only for an owned target:
//     the owner is asked about the target IPv4 address only, at most once;
//   - the reply is a well-formed ARP reply, byte for byte, which the
//     responder itself would ignore, never count as malformed;
//   - the frame is not modified and the answer is deterministic.
func FuzzARPResponder(f *testing.F) {
	req := func(op arp.Operation, sha net.HardwareAddr, spa, tpa netip.Addr) []byte {
		pkt, err := arp.NewPacket(op, sha, spa, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, tpa)
		if err != nil {
			f.Fatal(err)
		}
		b, err := arpFrame(pkt, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	client := netip.MustParseAddr("192.0.2.100")
	request := req(arp.OperationRequest, fzHost, client, fzVIP4)
	edit := func(at int, b ...byte) []byte {
		c := slices.Clone(request)
		copy(c[at:], b)
		return c
	}
	for _, s := range []struct {
		frame []byte
		mode  uint8
	}{
		{request, 1},
		{request, 0},
		{request[:42], 2}, // unpadded
		{req(arp.OperationRequest, fzHost, netip.IPv4Unspecified(), fzVIP4), 1}, // probe
		{req(arp.OperationReply, fzHost, client, fzVIP4), 1},
		{req(arp.OperationRequest, fzHost, fzVIP4, fzVIP4), 1}, // gratuitous
		{req(arp.OperationRequest, fzNode, client, fzVIP4), 1}, // our own
		{req(arp.OperationRequest, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, client, fzVIP4), 2},
		{edit(12, 0x86, 0xdd), 2},
		{edit(12, 0x81, 0x00), 2},
		{request[:10], 2},
		{request[:ethHeaderLen+20], 2},
		{edit(14, 0, 6), 2},
		{edit(16, 0x86, 0xdd), 2},
		{edit(18, 8), 2},
		{edit(19, 16), 2},
		{edit(19, 5), 2},
		{edit(18, 0, 0), 2},
		{edit(20, 0, 3), 2},
	} {
		f.Add(s.frame, []byte(fzNode), s.mode)
	}
	f.Fuzz(func(t *testing.T, frame, hwBytes []byte, mode uint8) {
		hw := fzHW(hwBytes)
		orig := slices.Clone(frame)
		var asked []netip.Addr
		reply, v := answerARP(frame, port{hw: hw}, fzSpy(mode, &asked))

		wantV, sha, spa, tpa := fzARPOracle(orig, hw, mode)
		if v != wantV {
			t.Fatalf("verdict %s, want %s, for %x", v, wantV, orig)
		}
		if (v == answered) != (reply != nil) {
			t.Fatalf("verdict %s with reply %x", v, reply)
		}
		if !bytes.Equal(frame, orig) {
			t.Fatalf("the responder modified the frame")
		}
		if len(asked) > 1 || (len(asked) == 1 && (asked[0] != tpa || !asked[0].Is4())) {
			t.Fatalf("owner asked about %v; the request's target is %v", asked, tpa)
		}
		if v == answered && (len(asked) != 1 || !fzOwns(mode, tpa)) {
			t.Fatalf("answered for %v, which the owner was not asked about or does not own (asked %v)", tpa, asked)
		}
		again, v2 := answerARP(slices.Clone(orig), port{hw: hw}, func(ip netip.Addr) bool { return fzOwns(mode, ip) })
		if v2 != v || !bytes.Equal(again, reply) {
			t.Fatalf("not deterministic: %s %x, then %s %x", v, reply, v2, again)
		}
		if v != answered {
			return
		}
		fzCheckARPReply(t, reply, hw, sha, spa, tpa)
		for _, other := range []net.HardwareAddr{hw, fzHW(sha)} {
			if back, v := answerARP(reply, port{hw: other}, func(netip.Addr) bool { return true }); v != ignored || back != nil {
				t.Fatalf("our reply, received by %v, is %s", other, v)
			}
		}
	})
}

// fzICMPv6Sum is the ones' complement sum of the ICMPv6 pseudo-header
// (RFC 8200 8.1) and body; a valid checksum makes it 0xffff.
func fzICMPv6Sum(src, dst netip.Addr, body []byte) uint16 {
	s, d := src.As16(), dst.As16()
	buf := slices.Concat(s[:], d[:], binary.BigEndian.AppendUint32(nil, uint32(len(body))), []byte{0, 0, 0, 58}, body)
	if len(buf)%2 == 1 {
		buf = append(buf, 0)
	}
	var sum uint64
	for i := 0; i < len(buf); i += 2 {
		sum += uint64(buf[i])<<8 | uint64(buf[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// Knobs of FuzzNDPResponder, applied to the frame before it is answered so
// that mutations reach past the checks random bytes rarely pass.
const (
	fzFixLength   = 1 << iota // payload length := what the frame holds
	fzFixHopLimit             // hop limit := 255
	fzFixChecksum             // a valid ICMPv6 checksum
)

func fzApplyKnobs(frame []byte, knobs uint8) {
	if len(frame) < ethHeaderLen+ipv6HeaderLen {
		return
	}
	h := frame[ethHeaderLen:]
	if knobs&fzFixLength != 0 && len(h)-ipv6HeaderLen <= 0xffff {
		binary.BigEndian.PutUint16(h[4:6], uint16(len(h)-ipv6HeaderLen))
	}
	if knobs&fzFixHopLimit != 0 {
		h[7] = ndpHopLimit
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	if knobs&fzFixChecksum != 0 && n >= 4 && ipv6HeaderLen+n <= len(h) {
		body := h[ipv6HeaderLen : ipv6HeaderLen+n]
		body[2], body[3] = 0, 0
		src, dst := netip.AddrFrom16([16]byte(h[8:24])), netip.AddrFrom16([16]byte(h[24:40]))
		binary.BigEndian.PutUint16(body[2:4], ^fzICMPv6Sum(src, dst, body))
	}
}

// fzNS is what the NDP oracle makes of a Neighbor Solicitation.
type fzNS struct {
	src, dst, target netip.Addr
	ethSrc, sll      []byte // sll: the first source link-layer option, or nil
	dad              bool
	// lenient: an option the decoding library validates by its own rules
	// (one meant for router advertisements, or of 256 bytes or more), which
	// RFC 4861 says to skip; the library may refuse the frame as malformed.
	lenient bool
}

// fzNDPOracle decodes a frame by hand and returns the verdict RFC 4861
// 7.1.1 and answerNDP's contract give it.
func fzNDPOracle(frame []byte, hw net.HardwareAddr, mode uint8) (verdict, fzNS) {
	var ns fzNS
	if len(frame) < ethHeaderLen {
		return malformed, ns
	}
	if binary.BigEndian.Uint16(frame[12:14]) != 0x86dd {
		return ignored, ns
	}
	h := frame[ethHeaderLen:]
	if len(h) < ipv6HeaderLen || h[0]>>4 != 6 {
		return malformed, ns
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	switch {
	case ipv6HeaderLen+n > len(h): // Ethernet may pad; never truncate
		return malformed, ns
	case h[6] != 58: // not ICMPv6 (extension headers are not followed)
		return ignored, ns
	case n < 4:
		return malformed, ns
	}
	ns.src, ns.dst = netip.AddrFrom16([16]byte(h[8:24])), netip.AddrFrom16([16]byte(h[24:40]))
	body := h[ipv6HeaderLen : ipv6HeaderLen+n]
	switch {
	case body[0] != 135:
		return ignored, ns
	case h[7] != 255, body[1] != 0, fzICMPv6Sum(ns.src, ns.dst, body) != 0xffff:
		return malformed, ns
	}
	ns.ethSrc = frame[6:12]
	if bytes.Equal(ns.ethSrc, hw) {
		return ignored, ns
	}
	if len(body) < 24 {
		return malformed, ns
	}
	ns.target = netip.AddrFrom16([16]byte(body[8:24]))
	if ns.target.Is4In6() {
		return malformed, ns
	}
	for opts := body[24:]; len(opts) > 0; {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			return malformed, ns // RFC 4861 7.1.1: every option has a length > 0
		}
		typ, l := opts[0], int(opts[1])*8
		switch {
		case typ == 1 || typ == 2:
			if l != 8 {
				return malformed, ns // an Ethernet link-layer address takes 8 bytes
			}
			if typ == 1 && ns.sll == nil {
				ns.sll = opts[2:8]
			}
		case l >= 256 || slices.Contains([]byte{3, 5, 24, 25, 26, 31, 37, 38}, typ):
			ns.lenient = true
		}
		opts = opts[l:]
	}
	if ns.target.IsMulticast() || ns.src.IsMulticast() || isGroupMAC(ns.sll) || isGroupMAC(ns.ethSrc) {
		return malformed, ns
	}
	ns.dad = ns.src.IsUnspecified()
	if ns.dad {
		t := ns.target.As16()
		snm := netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 1, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
		if ns.dst != snm || ns.sll != nil {
			return malformed, ns
		}
	}
	if !fzOwns(mode, ns.target) {
		return ignored, ns
	}
	return answered, ns
}

// fzCheckNA checks an advertisement field by field: from hw and the target
// itself, Override set, Solicited unless it answers a DAD probe, to the
// requester (its link-layer option, else its Ethernet source) or, for a
// DAD probe, to all nodes; hop limit 255, a valid checksum and the target
// link-layer option hw.
func fzCheckNA(t *testing.T, reply []byte, hw net.HardwareAddr, ns fzNS) {
	t.Helper()
	toHW, to, flags := net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, netip.MustParseAddr("ff02::1"), byte(0x20)
	if !ns.dad {
		toHW, to, flags = ns.sll, ns.src, 0x60
		if toHW == nil {
			toHW = ns.ethSrc
		}
	}
	src, dst := ns.target.As16(), to.As16()
	want := slices.Concat(
		toHW, hw, []byte{0x86, 0xdd},
		[]byte{0x60, 0, 0, 0, 0, 32, 58, 255}, src[:], dst[:], // IPv6, 32 bytes of ICMPv6
		[]byte{136, 0, 0, 0, flags, 0, 0, 0}, src[:], // NA, checksum checked below
		[]byte{2, 1}, hw, // target link-layer address
	)
	if len(reply) != len(want) {
		t.Fatalf("reply of %d bytes, want %d: %x", len(reply), len(want), reply)
	}
	copy(want[ethHeaderLen+ipv6HeaderLen+2:], reply[ethHeaderLen+ipv6HeaderLen+2:][:2])
	if !bytes.Equal(reply, want) {
		t.Fatalf("reply\n got %x\nwant %x", reply, want)
	}
	if fzICMPv6Sum(ns.target, to, reply[ethHeaderLen+ipv6HeaderLen:]) != 0xffff {
		t.Fatalf("reply checksum is wrong: %x", reply)
	}
	if isGroupMAC(reply[6:12]) || (!ns.dad && isGroupMAC(reply[0:6])) {
		t.Fatalf("reply from or to a group MAC: %x", reply)
	}
}

// FuzzNDPResponder feeds answerNDP arbitrary frames (optionally with the
// payload length, hop limit and checksum fixed up, so that mutations get
// past them), on a port with a fuzzed MAC and a fuzzed ownership, and
// checks:
//   - its verdict is the hand decoder's (RFC 4861 7.1.1: hop limit 255,
//     code 0, valid checksum, length >= 24, options of non-zero length, a
//     target that is not multicast, a DAD probe only to the solicited-node
//     group and without a source link-layer option; no multicast source and
//     no group MAC; frames from our MAC and targets not owned ignored), save
//     that an option the library validates itself may make it malformed;
//   - a reply comes exactly with answered, and only for an owned target:
//     the owner is asked about the target only, at most once, and never
//     about a multicast or IPv4-mapped address;
//   - the reply is a well-formed Neighbor Advertisement, byte for byte,
//     with a valid checksum, that the responder itself would ignore;
//   - the frame is not modified and the answer is deterministic.
func FuzzNDPResponder(f *testing.F) {
	build := func(srcHW, dstHW net.HardwareAddr, src, dst, target netip.Addr, opts ...ndp.Option) []byte {
		b, err := ipv6Frame(srcHW, dstHW, src, dst, &ndp.NeighborSolicitation{TargetAddress: target, Options: opts})
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	snm := func(ip netip.Addr) netip.Addr {
		g, err := ndp.SolicitedNodeMulticast(ip)
		if err != nil {
			f.Fatal(err)
		}
		return g
	}
	client := netip.MustParseAddr("2001:db8::100")
	sll := &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: fzHost}
	nonce := &ndp.RawOption{Type: 14, Length: 1, Value: []byte{1, 2, 3, 4, 5, 6}}
	unknown := &ndp.RawOption{Type: 200, Length: 2, Value: make([]byte, 14)}
	mtu := ndp.NewMTU(1500)
	multicastNS := build(fzHost, multicastMAC(snm(fzVIP6)), client, snm(fzVIP6), fzVIP6, sll)
	dad := build(fzHost, multicastMAC(snm(fzVIP6)), netip.IPv6Unspecified(), snm(fzVIP6), fzVIP6)
	na, err := unsolicitedNA(port{hw: fzHost}, fzVIP6)
	if err != nil {
		f.Fatal(err)
	}
	const all = fzFixLength | fzFixHopLimit | fzFixChecksum
	for _, s := range []struct {
		frame       []byte
		knobs, mode uint8
	}{
		{multicastNS, 0, 1},
		{multicastNS, 0, 0},
		{multicastNS, all, 2},
		{append(slices.Clone(multicastNS), make([]byte, 10)...), 0, 1}, // padded
		{build(fzHost, fzNode, client, fzVIP6, fzVIP6), 0, 1},
		{build(fzHost, fzNode, client, fzVIP6, fzVIP6, sll, sll), 0, 1},
		{build(net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}, fzNode, client, fzVIP6, fzVIP6, sll), 0, 1},
		{dad, 0, 1},
		{build(fzHost, multicastMAC(snm(fzVIP6)), netip.IPv6Unspecified(), snm(fzVIP6), fzVIP6, nonce), 0, 1}, // Linux enhanced DAD
		{build(fzHost, multicastMAC(snm(fzVIP6)), netip.IPv6Unspecified(), snm(fzVIP6), fzVIP6, sll), 0, 1},
		{build(fzHost, fzNode, netip.IPv6Unspecified(), fzVIP6, fzVIP6), 0, 1},
		{build(fzHost, fzNode, client, fzVIP6, fzVIP6, unknown, sll), 0, 1},
		{build(fzHost, fzNode, client, fzVIP6, fzVIP6, mtu), 0, 1},
		{build(fzHost, fzNode, client, fzVIP6, fzVIP6, &ndp.LinkLayerAddress{Direction: ndp.Target, Addr: fzHost}), 0, 1},
		{build(fzNode, fzNode, client, fzVIP6, fzVIP6, sll), 0, 1},
		{build(fzHost, fzNode, netip.MustParseAddr("ff02::2"), fzVIP6, fzVIP6, sll), 0, 1},
		{build(fzHost, fzNode, client, fzVIP6, fzVIP6, &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}}), 0, 1},
		{build(fzHost, fzNode, client, netip.MustParseAddr("ff02::1"), netip.MustParseAddr("ff02::1")), 0, 2},
		{build(fzHost, fzNode, client, fzVIP6, netip.MustParseAddr("fe80::1")), 0, 2},
		{na, 0, 2},
		{multicastNS[:12], 0, 2},
		{multicastNS[:ethHeaderLen+30], 0, 2},
		{multicastNS[:ethHeaderLen+ipv6HeaderLen+12], fzFixLength | fzFixChecksum, 2}, // too short for a target
		{append(slices.Clone(multicastNS[:ethHeaderLen+ipv6HeaderLen+24]), 1, 0, 0, 0, 0, 0, 0, 0), fzFixLength | fzFixChecksum, 2},
		{append(slices.Clone(multicastNS[:ethHeaderLen+ipv6HeaderLen+24]), 1, 2, 0, 0, 0, 0, 0, 0), fzFixLength | fzFixChecksum, 2},
	} {
		f.Add(s.frame, s.knobs, []byte(fzNode), s.mode)
	}
	// Single-byte edits of a valid solicitation, checksum fixed up.
	for _, e := range []struct{ at, b int }{
		{12, 0x08}, {ethHeaderLen, 0x45}, {ethHeaderLen + 6, 17}, {ethHeaderLen + 7, 64},
		{ethHeaderLen + ipv6HeaderLen, 136}, {ethHeaderLen + ipv6HeaderLen + 1, 1},
		{ethHeaderLen + ipv6HeaderLen + 8, 0xff}, // multicast target
	} {
		c := slices.Clone(multicastNS)
		c[e.at] = byte(e.b)
		f.Add(c, uint8(fzFixChecksum), []byte(fzNode), uint8(2))
	}
	badSum := slices.Clone(multicastNS)
	badSum[ethHeaderLen+ipv6HeaderLen+2] ^= 0xff
	f.Add(badSum, uint8(0), []byte(fzNode), uint8(2))
	mapped := slices.Clone(multicastNS)
	copy(mapped[ethHeaderLen+ipv6HeaderLen+8:], netip.MustParseAddr("::ffff:192.0.2.50").AsSlice())
	f.Add(mapped, uint8(fzFixChecksum), []byte(fzNode), uint8(2))

	f.Fuzz(func(t *testing.T, frame []byte, knobs uint8, hwBytes []byte, mode uint8) {
		hw := fzHW(hwBytes)
		fzApplyKnobs(frame, knobs)
		orig := slices.Clone(frame)
		var asked []netip.Addr
		reply, v := answerNDP(frame, port{hw: hw}, fzSpy(mode, &asked))

		wantV, ns := fzNDPOracle(orig, hw, mode)
		if v != wantV && !(ns.lenient && v == malformed) {
			t.Fatalf("verdict %s, want %s, for %x", v, wantV, orig)
		}
		if (v == answered) != (reply != nil) {
			t.Fatalf("verdict %s with reply %x", v, reply)
		}
		if !bytes.Equal(frame, orig) {
			t.Fatalf("the responder modified the frame")
		}
		if len(asked) > 1 || (len(asked) == 1 && (asked[0] != ns.target || !asked[0].Is6() || asked[0].Is4In6() || asked[0].IsMulticast())) {
			t.Fatalf("owner asked about %v; the solicitation's target is %v", asked, ns.target)
		}
		if v == answered && (len(asked) != 1 || !fzOwns(mode, ns.target)) {
			t.Fatalf("answered for %v, which the owner was not asked about or does not own (asked %v)", ns.target, asked)
		}
		again, v2 := answerNDP(slices.Clone(orig), port{hw: hw}, func(ip netip.Addr) bool { return fzOwns(mode, ip) })
		if v2 != v || !bytes.Equal(again, reply) {
			t.Fatalf("not deterministic: %s %x, then %s %x", v, reply, v2, again)
		}
		if v != answered {
			return
		}
		fzCheckNA(t, reply, hw, ns)
		for _, other := range []net.HardwareAddr{hw, fzHW(ns.ethSrc)} {
			if back, v := answerNDP(reply, port{hw: other}, func(netip.Addr) bool { return true }); v != ignored || back != nil {
				t.Fatalf("our advertisement, received by %v, is %s", other, v)
			}
		}
	})
}

// FuzzAnnouncements checks the takeover frames for any interface MAC and
// address: the gratuitous ARP is an RFC 5227 announcement (a broadcast
// request whose sender and target are the address, target MAC zero), the
// unsolicited advertisement an Override NA to all nodes with a valid
// checksum; neither is answered or counted as malformed by a responder,
// ours or another node's, even one owning every address.
func FuzzAnnouncements(f *testing.F) {
	f.Add([]byte(fzNode), fzVIP4.AsSlice(), fzVIP6.AsSlice())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{0, 0, 0, 0}, []byte{})
	f.Add([]byte{}, []byte{255, 255, 255, 255}, netip.MustParseAddr("::ffff:192.0.2.1").AsSlice())
	f.Add([]byte{2}, []byte{10}, netip.MustParseAddr("fe80::1").AsSlice())
	f.Fuzz(func(t *testing.T, hwBytes, ip4Bytes, ip6Bytes []byte) {
		hw := fzHW(hwBytes)
		var a4 [4]byte
		var a6 [16]byte
		copy(a4[:], ip4Bytes)
		copy(a6[:], ip6Bytes)
		ip4, ip6 := netip.AddrFrom4(a4), netip.AddrFrom16(a6)
		everything := func(netip.Addr) bool { return true }
		others := []port{{hw: hw}, {hw: fzHW([]byte{0x02, 0xee, 0xee, 0xee, 0xee, 0xee})}}

		g, err := gratuitousARP(hw, ip4)
		if err != nil {
			t.Fatalf("gratuitousARP(%v, %v): %v", hw, ip4, err)
		}
		want := slices.Concat(
			[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, hw, []byte{0x08, 0x06},
			[]byte{0, 1, 0x08, 0x00, 6, 4, 0, 1}, hw, ip4.AsSlice(), make([]byte, 6), ip4.AsSlice(),
			make([]byte, 60-42),
		)
		if !bytes.Equal(g, want) {
			t.Fatalf("gratuitous ARP\n got %x\nwant %x", g, want)
		}
		for _, p := range others {
			if r, v := answerARP(g, p, everything); v != ignored || r != nil {
				t.Fatalf("gratuitous ARP of %v received by %v is %s", hw, p.hw, v)
			}
		}

		n, err := unsolicitedNA(port{hw: hw}, ip6)
		if ip6.Is4In6() {
			if err == nil {
				t.Fatalf("unsolicitedNA built an advertisement for the IPv4-mapped %v", ip6)
			}
			return
		}
		if err != nil {
			t.Fatalf("unsolicitedNA(%v, %v): %v", hw, ip6, err)
		}
		// Checked like the answer to a DAD probe, which it equals.
		fzCheckNA(t, n, hw, fzNS{target: ip6, dad: true})
		for _, p := range others {
			if r, v := answerNDP(n, p, everything); v != ignored || r != nil {
				t.Fatalf("unsolicited NA of %v received by %v is %s", hw, p.hw, v)
			}
		}
	})
}

package layer2

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
)

// A responder is the pure decision about one received frame: answerARP or
// answerNDP. It reads bytes and an ownership test and returns bytes, so every
// RFC case is tested without a socket.
type responder func(frame []byte, p port, owns owner) ([]byte, verdict)

func responderFor(kind FrameKind) responder {
	if kind == NDPFrames {
		return answerNDP
	}
	return answerARP
}

// verdict is what a responder made of one received frame.
type verdict int

const (
	// ignored: well formed, but asks nothing of this node (another target, a
	// reply, someone's announcement, a frame we sent ourselves).
	ignored verdict = iota
	// malformed: fails validation; dropped and counted.
	malformed
	// answered: a request for an owned address; the reply frame is returned.
	answered
)

func (v verdict) String() string {
	switch v {
	case ignored:
		return "ignored"
	case malformed:
		return "malformed"
	case answered:
		return "answered"
	}
	return "unknown"
}

// port is what the pure responders need to know about the interface a frame
// arrived on.
type port struct {
	hw net.HardwareAddr // source MAC of every frame sent on the interface
}

// owner reports whether an address is announced on the port being served.
type owner func(netip.Addr) bool

const (
	ethHeaderLen = 14
	ethAddrLen   = 6
)

// etherType returns the EtherType of an untagged Ethernet frame, and false
// for a frame too short to carry one.
func etherType(frame []byte) (ethernet.EtherType, bool) {
	if len(frame) < ethHeaderLen {
		return 0, false
	}
	return ethernet.EtherType(binary.BigEndian.Uint16(frame[12:14])), true
}

// isGroupMAC reports a multicast or broadcast MAC, which no host can own.
func isGroupMAC(hw net.HardwareAddr) bool {
	return len(hw) > 0 && hw[0]&1 == 1
}

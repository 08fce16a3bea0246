package member

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	// maxDatagram holds the largest UDP payload (65,507 bytes over IPv4,
	// 65,527 over IPv6), so no packet is ever cut short.
	maxDatagram = 64 << 10

	// receiveBuffer is the socket receive buffer asked of the kernel (as
	// NetTransport does): room for a burst of gossip to queue while the
	// handler is busy rather than be dropped. The kernel caps it at
	// net.core.rmem_max without an error.
	receiveBuffer = 2 << 20
)

// sizeReceiveBuffer asks for receiveBuffer, halving the request until the
// kernel accepts one.
func sizeReceiveBuffer(c *net.UDPConn) error {
	var err error
	for size := receiveBuffer; size > 0; size /= 2 {
		if err = c.SetReadBuffer(size); err == nil {
			return nil
		}
	}
	return err
}

// receivePackets reads UDP packets into one buffer and hands each to
// memberlist as a copy of its exact size: memberlist may keep Packet.Buf
// (a queued broadcast, a user message) after the next packet arrives.
func (t *transport) receivePackets() {
	defer t.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := t.udp.ReadFromUDPAddrPort(buf)
		at := time.Now() // as close to the arrival as possible: RTT of probes
		if err != nil {
			if t.stopping() {
				return
			}
			t.logger.Printf("[ERR] member: read a UDP packet: %v", err)
			continue
		}
		if n == 0 {
			continue // not even a message type: nothing memberlist can read
		}
		p := &memberlist.Packet{Buf: bytes.Clone(buf[:n]), From: net.UDPAddrFromAddrPort(from), Timestamp: at}
		select {
		case t.packets <- p:
		case <-t.done:
			return
		}
	}
}

// PacketCh delivers the UDP packets received.
func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// WriteTo sends one UDP packet to addr ("ip:port").
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends one UDP packet to a.Addr and returns when it was
// handed to the kernel, for the RTT of probes.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	to, err := udpAddr(a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteToUDPAddrPort(b, to)
	return time.Now(), err
}

// udpAddr parses "ip:port" without allocating, as memberlist always writes
// it; a host name, which only a caller's Join could bring, is resolved.
func udpAddr(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("member: resolve %s: %w", addr, err)
	}
	return ua.AddrPort(), nil
}

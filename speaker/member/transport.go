package member

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"sync"

	"github.com/hashicorp/memberlist"
)

// transport carries memberlist's packets over UDP and its streams over TCP,
// on one address and port, as memberlist's own NetTransport does, with two
// differences that matter to a speaker:
//
//   - Each UDP packet is read into one buffer kept for the life of the
//     socket and handed on as a copy of its exact size. NetTransport reads
//     each packet into a fresh 64 KiB buffer: at rest (tens of ~100-byte
//     probes, acks and gossip packets a second) that was about 1.3 MiB of
//     garbage a second per speaker, and in a speaker every collection it
//     brings marks the whole informer cache.
//   - Every TCP dial's error is kept per address (dialLog), so that a
//     failed join can tell "nothing listens" from "a speaker listens but
//     does not share the key" (classify).
//
// memberlist wraps it to add the label header, so packets and streams here
// are exactly what goes on the wire.
type transport struct {
	tcp    *net.TCPListener
	udp    *net.UDPConn
	bound  netip.AddrPort // the address and the port TCP and UDP are bound to
	logger *log.Logger

	packets chan *memberlist.Packet
	streams chan net.Conn
	dials   dialLog

	done     chan struct{} // closed by Shutdown: the loops stop
	stopOnce sync.Once
	stopErr  error
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

// bindTries is how many ports are tried when the port is 0 (tests): the
// kernel's free TCP port may be taken for UDP by another process between
// the two binds.
const bindTries = 10

// newTransport binds TCP and UDP on bind (port 0: a port free for both) and
// starts reading from them.
func newTransport(bind netip.AddrPort, logger *log.Logger) (*transport, error) {
	tries := 1
	if bind.Port() == 0 {
		tries = bindTries
	}
	var err error
	for range tries {
		var t *transport
		if t, err = listen(bind); err == nil {
			t.logger = logger
			t.wg.Add(2)
			go t.receivePackets()
			go t.acceptStreams()
			return t, nil
		}
	}
	return nil, err
}

// listen binds TCP first, for a port picked by the kernel when bind's is 0,
// then UDP on the same port.
func listen(bind netip.AddrPort) (*transport, error) {
	tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(bind))
	if err != nil {
		return nil, fmt.Errorf("listen on TCP %s: %w", bind, err)
	}
	bound := netip.AddrPortFrom(bind.Addr(), uint16(tcp.Addr().(*net.TCPAddr).Port))
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(bound))
	if err != nil {
		_ = tcp.Close()
		return nil, fmt.Errorf("listen on UDP %s: %w", bound, err)
	}
	if err := sizeReceiveBuffer(udp); err != nil {
		_ = tcp.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("size the UDP receive buffer on %s: %w", bound, err)
	}
	return &transport{
		tcp: tcp, udp: udp, bound: bound,
		packets: make(chan *memberlist.Packet), streams: make(chan net.Conn),
		dials: dialLog{last: map[string]error{}}, done: make(chan struct{}),
	}, nil
}

// port is the port TCP and UDP are bound to.
func (t *transport) port() int { return int(t.bound.Port()) }

// FinalAdvertiseAddr is the address and port the other members are told to
// reach this one at: the configured ones, else the bound ones.
func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	addr := t.bound.Addr()
	if ip != "" {
		var err error
		if addr, err = netip.ParseAddr(ip); err != nil {
			return nil, 0, fmt.Errorf("member: advertise address: %w", err)
		}
	}
	if port == 0 {
		port = t.port()
	}
	// An IPv4 address as 4 bytes: memberlist sends it to the others as is.
	return net.IP(addr.Unmap().AsSlice()), port, nil
}

// Shutdown closes both sockets, so that the port can be bound again at
// once, and returns when the loops reading them have stopped. Safe to call
// more than once.
func (t *transport) Shutdown() error {
	t.stopOnce.Do(func() {
		close(t.done)
		t.stopErr = errors.Join(t.tcp.Close(), t.udp.Close())
		t.wg.Wait()
	})
	return t.stopErr
}

// stopping says whether Shutdown has begun: a read error is then the
// socket being closed, not something to log.
func (t *transport) stopping() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

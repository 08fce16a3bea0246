package bfd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Port is the UDP destination port of single-hop control packets (RFC 5881 §4).
const Port = 3784

// Source ports of control packets: RFC 5881 §4 asks for 49152–65535, and a
// different one for each session.
const (
	MinSourcePort = 49152
	MaxSourcePort = 65535
)

// dscpCS6 is the traffic class of our packets: CS6, network control, so
// queues under load do not drop liveness packets before data.
const dscpCS6 = 0xc0

// sourcePortTries bounds the random draws for a free source port: with 16384
// ports, failing this often means the range is exhausted.
const sourcePortTries = 64

// UDPTransport is the Transport of RFC 5881: listeners on port 3784 of every
// address of each family, and one socket per session sending with TTL (Hop
// Limit) 255 from a port of its own. Its sockets live in the network
// namespace of the thread that opened them.
type UDPTransport struct {
	listeners []*net.UDPConn
	packets   chan received
	closing   chan struct{}
	closeOnce sync.Once
	readers   sync.WaitGroup

	mu    sync.Mutex
	ports map[uint16]bool // source ports of open senders, unique across families and addresses
}

type received struct {
	d   Datagram
	err error
}

// ListenUDP listens on UDP port 3784 for IPv4 and IPv6. A family the host
// lacks is left out; it fails only if neither listens.
func ListenUDP() (*UDPTransport, error) {
	t := &UDPTransport{packets: make(chan received, rxBacklog), closing: make(chan struct{}), ports: map[uint16]bool{}}
	var errs []error
	if c, err := listen4(); err == nil {
		t.listeners = append(t.listeners, c.conn)
		t.start(c)
	} else {
		errs = append(errs, err)
	}
	if c, err := listen6(); err == nil {
		t.listeners = append(t.listeners, c.conn)
		t.start(c)
	} else {
		errs = append(errs, err)
	}
	if len(t.listeners) == 0 {
		return nil, fmt.Errorf("bfd: listen on UDP port %d: %w", Port, errors.Join(errs...))
	}
	return t, nil
}

// listener reads one family: read returns the payload length, source,
// interface index and TTL or Hop Limit (-1 when the kernel gave none).
type listener struct {
	conn *net.UDPConn
	read func(b []byte) (n int, src net.Addr, ifIndex, ttl int, err error)
}

func listen4() (listener, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: Port})
	if err != nil {
		return listener{}, err
	}
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagInterface, true); err != nil {
		c.Close()
		return listener{}, fmt.Errorf("IP_RECVTTL: %w", err)
	}
	return listener{conn: c, read: func(b []byte) (int, net.Addr, int, int, error) {
		n, cm, src, err := pc.ReadFrom(b)
		if cm == nil {
			return n, src, 0, -1, err
		}
		return n, src, cm.IfIndex, cm.TTL, err
	}}, nil
}

func listen6() (listener, error) {
	// "udp6" on the wildcard sets IPV6_V6ONLY, so both families can bind
	// port 3784.
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified, Port: Port})
	if err != nil {
		return listener{}, err
	}
	pc := ipv6.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagInterface, true); err != nil {
		c.Close()
		return listener{}, fmt.Errorf("IPV6_RECVHOPLIMIT: %w", err)
	}
	return listener{conn: c, read: func(b []byte) (int, net.Addr, int, int, error) {
		n, cm, src, err := pc.ReadFrom(b)
		if cm == nil {
			return n, src, 0, -1, err
		}
		return n, src, cm.IfIndex, cm.HopLimit, err
	}}, nil
}

func (t *UDPTransport) start(l listener) {
	t.readers.Add(1)
	go func() {
		defer t.readers.Done()
		t.read(l)
	}()
}

// read passes the datagrams of one listener to Recv until Close.
func (t *UDPTransport) read(l listener) {
	// Larger than any control packet, so an oversized one shows its size.
	buf := make([]byte, 1500)
	for {
		n, src, ifIndex, ttl, err := l.read(buf)
		var r received
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case err != nil:
			r.err = err
		default:
			ua, _ := src.(*net.UDPAddr)
			r.d = Datagram{
				Payload:   append([]byte(nil), buf[:n]...),
				Src:       ua.AddrPort().Addr().Unmap().WithZone(""),
				Interface: interfaceName(l.conn, ifIndex),
				TTL:       ttl,
			}
		}
		select {
		case t.packets <- r:
		case <-t.closing:
			return
		}
	}
}

// interfaceName names interface index by asking the kernel through conn, so
// the name comes from conn's network namespace, whatever thread runs this.
func interfaceName(conn *net.UDPConn, index int) string {
	if index <= 0 {
		return ""
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return ""
	}
	var name string
	_ = rc.Control(func(fd uintptr) {
		ifr, err := unix.NewIfreq("")
		if err != nil {
			return
		}
		ifr.SetUint32(uint32(index))
		if unix.IoctlIfreq(int(fd), unix.SIOCGIFNAME, ifr) == nil {
			name = ifr.Name()
		}
	})
	return name
}

// Recv returns the next datagram from either listener.
func (t *UDPTransport) Recv() (Datagram, error) {
	select {
	case r := <-t.packets:
		return r.d, r.err
	case <-t.closing:
		return Datagram{}, net.ErrClosed
	}
}

// Close closes the listeners and waits for their readers.
func (t *UDPTransport) Close() error {
	var err error
	t.closeOnce.Do(func() {
		close(t.closing)
		for _, c := range t.listeners {
			err = errors.Join(err, c.Close())
		}
		t.readers.Wait()
	})
	return err
}

// Dial opens the sending socket of a session: bound to p.LocalAddr (or any
// address) on a free random port in 49152–65535, to p.Interface when set,
// sending with TTL or Hop Limit 255 and traffic class CS6.
func (t *UDPTransport) Dial(p Peer) (Sender, error) {
	key := p.Key()
	is4 := key.Addr.Is4()
	network, local := "udp6", netip.IPv6Unspecified()
	if is4 {
		network, local = "udp4", netip.IPv4Unspecified()
	}
	if p.LocalAddr.IsValid() {
		local = p.LocalAddr.Unmap()
	}
	dst := key.Addr
	if dst.Is6() && dst.IsLinkLocalUnicast() {
		dst = dst.WithZone(key.Interface)
	}
	if local.Is6() && local.IsLinkLocalUnicast() && local.Zone() == "" {
		local = local.WithZone(key.Interface)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = senderOptions(int(fd), is4, key.Interface) })
		return errors.Join(err, serr)
	}}
	t.mu.Lock()
	defer t.mu.Unlock()
	err := errors.New("every port tried is taken")
	for range sourcePortTries {
		port := uint16(MinSourcePort + rand.IntN(MaxSourcePort-MinSourcePort+1))
		if t.ports[port] {
			continue
		}
		var c net.PacketConn
		c, err = lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(local, port).String())
		if err == nil {
			t.ports[port] = true
			return &udpSender{t: t, port: port, conn: c.(*net.UDPConn), dst: netip.AddrPortFrom(dst, Port)}, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("opening a source port for %s: %w", key, err)
}

// senderOptions sets what RFC 5881 asks of a sending socket.
func senderOptions(fd int, is4 bool, iface string) error {
	var errs []error
	if is4 {
		errs = append(errs,
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, singleHopTTL),
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, dscpCS6))
	} else {
		errs = append(errs,
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, singleHopTTL),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, dscpCS6))
	}
	if iface != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface); err != nil {
			errs = append(errs, fmt.Errorf("binding to interface %s: %w", iface, err))
		}
	}
	return errors.Join(errs...)
}

type udpSender struct {
	t    *UDPTransport
	port uint16
	conn *net.UDPConn
	dst  netip.AddrPort
}

func (s *udpSender) Send(b []byte) error {
	_, err := s.conn.WriteToUDPAddrPort(b, s.dst)
	return err
}

func (s *udpSender) Close() error {
	s.t.mu.Lock()
	delete(s.t.ports, s.port)
	s.t.mu.Unlock()
	return s.conn.Close()
}

package bfd

import "net/netip"

// Transport carries control packets for a Manager. ListenUDP gives the real
// one (RFC 5881 sockets); tests give an in-memory one, so the protocol is
// tested without root, sockets or sleeping.
type Transport interface {
	// Recv blocks until a packet arrives. After Close it returns an error
	// wrapping net.ErrClosed; other errors are logged and Recv is called
	// again.
	Recv() (Datagram, error)
	// Dial opens the sending side of one session. Each session has its own
	// Sender, so its own source port (RFC 5881 §4).
	Dial(p Peer) (Sender, error)
	// Close ends Recv and releases the listeners. Senders are closed by
	// their sessions.
	Close() error
}

// Sender sends the packets of one session to its peer.
type Sender interface {
	Send(packet []byte) error
	Close() error
}

// Datagram is one received UDP payload and what the kernel told about it.
type Datagram struct {
	Payload []byte
	// Src is the sender's address, without zone.
	Src netip.Addr
	// Interface is the name of the interface the packet arrived on.
	Interface string
	// TTL is the IPv4 TTL or IPv6 Hop Limit it arrived with, or -1 if the
	// kernel did not say (then it is dropped: RFC 5881 §5 needs 255).
	TTL int
}

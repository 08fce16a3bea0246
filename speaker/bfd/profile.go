package bfd

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Defaults of a Profile's zero fields: FRR's defaults, so a router left at
// its own defaults negotiates the same timers.
const (
	DefaultReceiveInterval  = 300 * time.Millisecond
	DefaultTransmitInterval = 300 * time.Millisecond
	DefaultDetectMultiplier = 3
)

// Bounds of a Profile's intervals. Below 10 ms a userspace daemon cannot keep
// its promises on a loaded node; above 60 s BFD is slower than BGP's own hold
// timer and pointless.
const (
	MinInterval = 10 * time.Millisecond
	MaxInterval = 60 * time.Second
)

// singleHopTTL is the only TTL (IPv4) or Hop Limit (IPv6) a single-hop
// session sends and accepts (RFC 5881 §5, the Generalized TTL Security
// Mechanism): a packet with 255 left cannot have crossed a router.
const singleHopTTL = 255

// ErrInvalidProfile is wrapped by the errors of Profile.Validate.
var ErrInvalidProfile = errors.New("bfd: invalid profile")

// Profile holds a session's timers and options. Zero fields take the
// defaults above.
type Profile struct {
	// ReceiveInterval is the shortest interval between received control
	// packets this system can handle (bfd.RequiredMinRxInterval).
	ReceiveInterval time.Duration
	// TransmitInterval is the interval at which this system would like to
	// send (bfd.DesiredMinTxInterval). The interval used is the larger of it
	// and the peer's ReceiveInterval. While the session is not Up it is at
	// least one second (RFC 5880 §6.8.3).
	TransmitInterval time.Duration
	// DetectMultiplier: the peer declares the session down after this many
	// of our transmit intervals pass without a packet from us (and we after
	// its multiplier times its interval).
	DetectMultiplier uint8
	// EchoMode must be false: the echo function is not implemented. The
	// field exists so a profile that asks for it is refused, not silently
	// run without.
	EchoMode bool
	// PassiveMode: send nothing until the peer has sent a packet (RFC 5880
	// §6.1, the Passive role).
	PassiveMode bool
	// MinimumTTL must be 0 or 255: single-hop sessions (RFC 5881) require
	// TTL 255 on every received packet. Multihop (RFC 5883), where a lower
	// minimum makes sense, is not implemented.
	MinimumTTL uint8
}

// WithDefaults returns p with its zero fields set to the defaults.
func (p Profile) WithDefaults() Profile {
	if p.ReceiveInterval == 0 {
		p.ReceiveInterval = DefaultReceiveInterval
	}
	if p.TransmitInterval == 0 {
		p.TransmitInterval = DefaultTransmitInterval
	}
	if p.DetectMultiplier == 0 {
		p.DetectMultiplier = DefaultDetectMultiplier
	}
	return p
}

// Validate reports why p (after defaults) cannot run. Errors wrap
// ErrInvalidProfile.
func (p Profile) Validate() error {
	p = p.WithDefaults()
	var errs []error
	for _, iv := range []struct {
		name string
		d    time.Duration
	}{{"receive interval", p.ReceiveInterval}, {"transmit interval", p.TransmitInterval}} {
		if iv.d < MinInterval || iv.d > MaxInterval {
			errs = append(errs, fmt.Errorf("%w: %s %v outside [%v, %v]", ErrInvalidProfile, iv.name, iv.d, MinInterval, MaxInterval))
		}
	}
	if p.EchoMode {
		errs = append(errs, fmt.Errorf("%w: echo mode is not supported", ErrInvalidProfile))
	}
	if p.MinimumTTL != 0 && p.MinimumTTL != singleHopTTL {
		errs = append(errs, fmt.Errorf("%w: minimum TTL %d: single-hop sessions accept only TTL 255", ErrInvalidProfile, p.MinimumTTL))
	}
	return errors.Join(errs...)
}

// Peer is one BFD session to set up: the neighbour, how to reach it and the
// profile to run.
type Peer struct {
	// Addr is the neighbour's address. An IPv6 link-local address needs
	// Interface (or a zone, which then stands for Interface).
	Addr netip.Addr
	// LocalAddr, when valid, is the source address of our packets; else the
	// kernel picks one by route.
	LocalAddr netip.Addr
	// Interface, when set, binds the session to that interface: packets go
	// out of it (SO_BINDTODEVICE) and only packets received on it count.
	Interface string
	Profile   Profile
}

// SessionKey names a session: RFC 5881 §3 allows one single-hop session per
// pair of neighbour address and interface.
type SessionKey struct {
	Addr netip.Addr // no zone: the zone is Interface
	// Interface is empty for a session not bound to an interface.
	Interface string
}

func (k SessionKey) String() string {
	if k.Interface == "" {
		return k.Addr.String()
	}
	return k.Addr.String() + "%" + k.Interface
}

// Key returns the session key of p: its address without zone, and its
// interface, taken from the zone when Interface is empty.
func (p Peer) Key() SessionKey {
	iface := p.Interface
	if iface == "" {
		iface = p.Addr.Zone()
	}
	return SessionKey{Addr: p.Addr.Unmap().WithZone(""), Interface: iface}
}

// validate reports why p cannot become a session.
func (p Peer) validate() error {
	key := p.Key()
	switch {
	case !key.Addr.IsValid() || key.Addr.IsUnspecified() || key.Addr.IsMulticast():
		return fmt.Errorf("bfd: peer address %v is not a unicast address", p.Addr)
	case key.Addr.IsLinkLocalUnicast() && key.Interface == "":
		return fmt.Errorf("bfd: link-local peer %v needs an interface", p.Addr)
	case p.Interface != "" && p.Addr.Zone() != "" && p.Addr.Zone() != p.Interface:
		return fmt.Errorf("bfd: peer %v: zone and interface %q differ", p.Addr, p.Interface)
	case p.LocalAddr.IsValid() && p.LocalAddr.Unmap().Is4() != key.Addr.Is4():
		return fmt.Errorf("bfd: local address %v and peer %v are of different families", p.LocalAddr, p.Addr)
	}
	return p.Profile.Validate()
}

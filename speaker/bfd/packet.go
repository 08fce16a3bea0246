package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// State is a session state as carried in the Sta field (RFC 5880 §4.1).
type State uint8

// Session states, with their wire values.
const (
	StateAdminDown State = 0
	StateDown      State = 1
	StateInit      State = 2
	StateUp        State = 3
)

// String returns the RFC name of the state.
func (s State) String() string {
	switch s {
	case StateAdminDown:
		return "AdminDown"
	case StateDown:
		return "Down"
	case StateInit:
		return "Init"
	case StateUp:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Diag is a diagnostic code: why the sender's session last changed state
// (RFC 5880 §4.1). It is five bits on the wire.
type Diag uint8

// Diagnostic codes of RFC 5880 §4.1.
const (
	DiagNone                        Diag = 0
	DiagControlDetectionTimeExpired Diag = 1
	DiagEchoFunctionFailed          Diag = 2
	DiagNeighborSignaledSessionDown Diag = 3
	DiagForwardingPlaneReset        Diag = 4
	DiagPathDown                    Diag = 5
	DiagConcatenatedPathDown        Diag = 6
	DiagAdministrativelyDown        Diag = 7
	DiagReverseConcatenatedPathDown Diag = 8
)

var diagNames = [...]string{
	DiagNone:                        "No Diagnostic",
	DiagControlDetectionTimeExpired: "Control Detection Time Expired",
	DiagEchoFunctionFailed:          "Echo Function Failed",
	DiagNeighborSignaledSessionDown: "Neighbor Signaled Session Down",
	DiagForwardingPlaneReset:        "Forwarding Plane Reset",
	DiagPathDown:                    "Path Down",
	DiagConcatenatedPathDown:        "Concatenated Path Down",
	DiagAdministrativelyDown:        "Administratively Down",
	DiagReverseConcatenatedPathDown: "Reverse Concatenated Path Down",
}

// String returns the RFC name of the diagnostic, such as "Control Detection
// Time Expired".
func (d Diag) String() string {
	if int(d) < len(diagNames) {
		return diagNames[d]
	}
	return fmt.Sprintf("Diag(%d)", uint8(d))
}

// Wire layout of a control packet (RFC 5880 §4.1).
const (
	// version is the only protocol version; packets of any other are dropped.
	version = 1
	// headerLen is the mandatory section: everything up to and including
	// Required Min Echo RX Interval.
	headerLen = 24
	// authHeaderLen is Auth Type plus Auth Len, the least an authentication
	// section holds.
	authHeaderLen = 2
	// MaxPacketLen is the largest control packet: Length is one byte.
	MaxPacketLen = 255

	flagPoll       = 0x20
	flagFinal      = 0x10
	flagCPI        = 0x08
	flagAuth       = 0x04
	flagDemand     = 0x02
	flagMultipoint = 0x01
)

// ControlPacket is a decoded BFD control packet (RFC 5880 §4.1). The version
// is always 1 and the Multipoint bit always clear: Decode refuses anything
// else, as §6.8.6 requires, so neither has a field.
type ControlPacket struct {
	Diag  Diag
	State State
	// Poll asks the receiver to answer at once with Final (§6.5).
	Poll bool
	// Final answers a Poll.
	Final bool
	// ControlPlaneIndependent is the C bit: the sender's BFD survives a
	// control-plane restart. Always clear from this package, which runs in
	// the control plane.
	ControlPlaneIndependent bool
	// Demand asks the receiver to stop periodic transmission (§6.6).
	Demand bool
	// DetectMult is the sender's detection time multiplier; never zero.
	DetectMult uint8
	// MyDiscriminator is the sender's nonzero session identifier.
	MyDiscriminator uint32
	// YourDiscriminator echoes the receiver's discriminator, or zero while
	// the sender has not learned it.
	YourDiscriminator uint32
	// Intervals in microseconds, as on the wire.
	DesiredMinTxInterval      uint32
	RequiredMinRxInterval     uint32
	RequiredMinEchoRxInterval uint32
	// Auth is the authentication section, present exactly when the A bit is
	// set. This package decodes it but authenticates nothing: a Manager
	// drops every packet that carries one (§6.8.6: A bit set while no
	// authentication is in use).
	Auth *AuthSection
}

// AuthSection is the optional authentication section of a control packet.
type AuthSection struct {
	Type uint8
	// Data is everything after Auth Type and Auth Len (at most 229 bytes: Length is one byte).
	Data []byte
}

// ErrMalformed is wrapped by every error Decode and Encode return.
var ErrMalformed = errors.New("bfd: malformed control packet")

// Reasons a packet is malformed, as carried by DecodeError and the reason
// label of ironlb_bfd_dropped_packets_total.
const (
	ReasonShort             = "short"              // fewer bytes than 24, or than the Length field says
	ReasonVersion           = "version"            // version is not 1
	ReasonLength            = "length"             // Length below 24, or not 24 plus the authentication section
	ReasonDetectMult        = "detect_mult"        // Detect Mult is zero
	ReasonMultipoint        = "multipoint"         // M bit set
	ReasonMyDiscriminator   = "my_discriminator"   // My Discriminator is zero
	ReasonYourDiscriminator = "your_discriminator" // Your Discriminator zero in a packet not Down or AdminDown
	ReasonDiag              = "diag"               // Encode only: Diag does not fit in five bits
	ReasonState             = "state"              // Encode only: State above Up
	ReasonAuthLength        = "auth_length"        // Encode only: Auth.Data longer than 229 bytes
)

// DecodeError says which rule of RFC 5880 §6.8.6 a packet broke.
type DecodeError struct {
	Reason string // one of the Reason constants
	Detail string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("bfd: malformed control packet: %s: %s", e.Reason, e.Detail)
}

// Unwrap makes errors.Is(err, ErrMalformed) hold.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

func malformed(reason, format string, args ...any) error {
	return &DecodeError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Decode parses a control packet and applies the checks of RFC 5880 §6.8.6
// that need no session: version 1, Length at least 24 (26 with the A bit)
// and no more than len(b), a nonzero Detect Mult, the Multipoint bit clear, a
// nonzero My Discriminator, and a nonzero Your Discriminator unless the
// sender is Down or AdminDown. Bytes beyond Length are ignored. An
// authentication section must fill the packet exactly (Length = 24 + Auth
// Len). Errors are *DecodeError and wrap ErrMalformed.
func Decode(b []byte) (ControlPacket, error) {
	var p ControlPacket
	if len(b) < headerLen {
		return p, malformed(ReasonShort, "%d bytes", len(b))
	}
	if v := b[0] >> 5; v != version {
		return p, malformed(ReasonVersion, "version %d", v)
	}
	flags := b[1]
	length := int(b[3])
	hasAuth := flags&flagAuth != 0
	minLen := headerLen
	if hasAuth {
		minLen += authHeaderLen
	}
	if length < minLen {
		return p, malformed(ReasonLength, "length %d, want at least %d", length, minLen)
	}
	if length > len(b) {
		return p, malformed(ReasonShort, "length %d but %d bytes", length, len(b))
	}
	if b[2] == 0 {
		return p, malformed(ReasonDetectMult, "detect multiplier 0")
	}
	if flags&flagMultipoint != 0 {
		return p, malformed(ReasonMultipoint, "multipoint bit set")
	}
	p = ControlPacket{
		Diag:                      Diag(b[0] & 0x1f),
		State:                     State(flags >> 6),
		Poll:                      flags&flagPoll != 0,
		Final:                     flags&flagFinal != 0,
		ControlPlaneIndependent:   flags&flagCPI != 0,
		Demand:                    flags&flagDemand != 0,
		DetectMult:                b[2],
		MyDiscriminator:           binary.BigEndian.Uint32(b[4:]),
		YourDiscriminator:         binary.BigEndian.Uint32(b[8:]),
		DesiredMinTxInterval:      binary.BigEndian.Uint32(b[12:]),
		RequiredMinRxInterval:     binary.BigEndian.Uint32(b[16:]),
		RequiredMinEchoRxInterval: binary.BigEndian.Uint32(b[20:]),
	}
	if p.MyDiscriminator == 0 {
		return ControlPacket{}, malformed(ReasonMyDiscriminator, "my discriminator 0")
	}
	if p.YourDiscriminator == 0 && p.State != StateDown && p.State != StateAdminDown {
		return ControlPacket{}, malformed(ReasonYourDiscriminator, "your discriminator 0 in state %s", p.State)
	}
	if !hasAuth {
		if length != headerLen {
			// Without authentication the mandatory section is the whole packet.
			return ControlPacket{}, malformed(ReasonLength, "length %d without authentication", length)
		}
		return p, nil
	}
	authLen := int(b[headerLen+1])
	if authLen < authHeaderLen || headerLen+authLen != length {
		return ControlPacket{}, malformed(ReasonLength, "auth len %d in a packet of length %d", authLen, length)
	}
	p.Auth = &AuthSection{
		Type: b[headerLen],
		Data: append([]byte(nil), b[headerLen+authHeaderLen:length]...),
	}
	return p, nil
}

// Encode returns the wire form of p, checked by the same rules as Decode so
// that Decode(Encode(p)) gives p back.
func (p ControlPacket) Encode() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	length := headerLen
	if p.Auth != nil {
		length += authHeaderLen + len(p.Auth.Data)
	}
	b := make([]byte, length)
	b[0] = version<<5 | uint8(p.Diag)
	b[1] = uint8(p.State) << 6
	for _, f := range []struct {
		set bool
		bit byte
	}{
		{p.Poll, flagPoll}, {p.Final, flagFinal}, {p.ControlPlaneIndependent, flagCPI},
		{p.Auth != nil, flagAuth}, {p.Demand, flagDemand},
	} {
		if f.set {
			b[1] |= f.bit
		}
	}
	b[2] = p.DetectMult
	b[3] = byte(length)
	binary.BigEndian.PutUint32(b[4:], p.MyDiscriminator)
	binary.BigEndian.PutUint32(b[8:], p.YourDiscriminator)
	binary.BigEndian.PutUint32(b[12:], p.DesiredMinTxInterval)
	binary.BigEndian.PutUint32(b[16:], p.RequiredMinRxInterval)
	binary.BigEndian.PutUint32(b[20:], p.RequiredMinEchoRxInterval)
	if p.Auth != nil {
		b[headerLen] = p.Auth.Type
		b[headerLen+1] = byte(authHeaderLen + len(p.Auth.Data))
		copy(b[headerLen+authHeaderLen:], p.Auth.Data)
	}
	return b, nil
}

// validate holds p to what Decode accepts, plus what the wire can carry.
func (p ControlPacket) validate() error {
	switch {
	case p.Diag > 0x1f:
		return malformed(ReasonDiag, "diag %d does not fit in 5 bits", p.Diag)
	case p.State > StateUp:
		return malformed(ReasonState, "state %d", p.State)
	case p.DetectMult == 0:
		return malformed(ReasonDetectMult, "detect multiplier 0")
	case p.MyDiscriminator == 0:
		return malformed(ReasonMyDiscriminator, "my discriminator 0")
	case p.YourDiscriminator == 0 && p.State != StateDown && p.State != StateAdminDown:
		return malformed(ReasonYourDiscriminator, "your discriminator 0 in state %s", p.State)
	case p.Auth != nil && headerLen+authHeaderLen+len(p.Auth.Data) > MaxPacketLen:
		return malformed(ReasonAuthLength, "%d bytes of authentication data", len(p.Auth.Data))
	}
	return nil
}

package bfd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// upPacket is a valid packet of a session that is Up.
func upPacket() ControlPacket {
	return ControlPacket{
		State:                 StateUp,
		DetectMult:            3,
		MyDiscriminator:       0x01020304,
		YourDiscriminator:     0x05060708,
		DesiredMinTxInterval:  300000,
		RequiredMinRxInterval: 300000,
	}
}

func mustEncode(t testing.TB, p ControlPacket) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatalf("Encode(%+v): %v", p, err)
	}
	return b
}

// TestEncodeLayout pins the wire layout of RFC 5880 §4.1 byte by byte.
func TestEncodeLayout(t *testing.T) {
	p := upPacket()
	p.Diag = DiagControlDetectionTimeExpired
	p.Poll = true
	p.RequiredMinEchoRxInterval = 50000
	want := "21" + // version 1, diag 1
		"e0" + // state Up (3), P
		"03" + "18" + // detect mult 3, length 24
		"01020304" + "05060708" +
		"000493e0" + "000493e0" + // 300 000 µs twice
		"0000c350" // 50 000 µs
	if got := hex.EncodeToString(mustEncode(t, p)); got != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
}

// withBytes returns the encoding of upPacket with edit applied to its bytes.
func withBytes(t *testing.T, p ControlPacket, edit func(b []byte) []byte) []byte {
	t.Helper()
	return edit(mustEncode(t, p))
}

func TestDecodeValidation(t *testing.T) {
	down := upPacket()
	down.State, down.YourDiscriminator = StateDown, 0
	adminDown := down
	adminDown.State = StateAdminDown
	withAuth := upPacket()
	withAuth.Auth = &AuthSection{Type: 1, Data: []byte{5, 's', 'e', 'c', 'r', 'e', 't'}}

	tests := []struct {
		name   string
		packet []byte
		want   *ControlPacket // nil: must fail
		reason string
	}{
		{name: "up", packet: mustEncode(t, upPacket()), want: new(upPacket())},
		{name: "down before the peer is known", packet: mustEncode(t, down), want: &down},
		{name: "admin down before the peer is known", packet: mustEncode(t, adminDown), want: &adminDown},
		{name: "authentication section decodes", packet: mustEncode(t, withAuth), want: &withAuth},
		{
			name:   "bytes after Length are ignored",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { return append(b, 0xde, 0xad) }),
			want:   new(upPacket()),
		},
		{name: "empty", packet: nil, reason: ReasonShort},
		{
			name:   "23 bytes",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { return b[:23] }),
			reason: ReasonShort,
		},
		{
			name:   "version 0",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[0] &= 0x1f; return b }),
			reason: ReasonVersion,
		},
		{
			name:   "version 2",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[0] = 2<<5 | b[0]&0x1f; return b }),
			reason: ReasonVersion,
		},
		{
			name:   "Length below 24",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[3] = 23; return b }),
			reason: ReasonLength,
		},
		{
			name:   "Length beyond the datagram",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[3] = 28; return b }),
			reason: ReasonShort,
		},
		{
			name:   "Length 28 without A bit",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[3] = 28; return append(b, 0, 0, 0, 0) }),
			reason: ReasonLength,
		},
		{
			name:   "A bit with Length 24",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[1] |= flagAuth; return append(b, 1, 2) }),
			reason: ReasonLength,
		},
		{
			name: "Auth Len disagrees with Length",
			packet: withBytes(t, withAuth, func(b []byte) []byte {
				b[headerLen+1]--
				return b
			}),
			reason: ReasonLength,
		},
		{
			name:   "Auth Len below 2",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[1] |= flagAuth; b[3] = 26; return append(b, 1, 1) }),
			reason: ReasonLength,
		},
		{
			name:   "Detect Mult zero",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[2] = 0; return b }),
			reason: ReasonDetectMult,
		},
		{
			name:   "Multipoint bit",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { b[1] |= flagMultipoint; return b }),
			reason: ReasonMultipoint,
		},
		{
			name:   "My Discriminator zero",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { copy(b[4:8], []byte{0, 0, 0, 0}); return b }),
			reason: ReasonMyDiscriminator,
		},
		{
			name:   "Your Discriminator zero while Up",
			packet: withBytes(t, upPacket(), func(b []byte) []byte { copy(b[8:12], []byte{0, 0, 0, 0}); return b }),
			reason: ReasonYourDiscriminator,
		},
		{
			name: "Your Discriminator zero while Init",
			packet: withBytes(t, upPacket(), func(b []byte) []byte {
				b[1] = byte(StateInit) << 6
				copy(b[8:12], []byte{0, 0, 0, 0})
				return b
			}),
			reason: ReasonYourDiscriminator,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.packet)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(*tc.want, got); diff != "" {
					t.Fatalf("Decode (-want +got):\n%s", diff)
				}
				return
			}
			var de *DecodeError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &de) {
				t.Fatalf("Decode error = %v, want a *DecodeError wrapping ErrMalformed", err)
			}
			if de.Reason != tc.reason {
				t.Fatalf("reason = %q, want %q (%v)", de.Reason, tc.reason, err)
			}
		})
	}
}

func TestEncodeRoundTripsEveryField(t *testing.T) {
	p := ControlPacket{
		Diag:                      DiagReverseConcatenatedPathDown,
		State:                     StateInit,
		Final:                     true,
		ControlPlaneIndependent:   true,
		Demand:                    true,
		DetectMult:                255,
		MyDiscriminator:           0xffffffff,
		YourDiscriminator:         1,
		DesiredMinTxInterval:      0xffffffff,
		RequiredMinRxInterval:     0,
		RequiredMinEchoRxInterval: 1,
		Auth:                      &AuthSection{Type: 2, Data: bytes.Repeat([]byte{7}, MaxPacketLen-headerLen-authHeaderLen)},
	}
	b := mustEncode(t, p)
	if len(b) != MaxPacketLen {
		t.Fatalf("len = %d, want %d", len(b), MaxPacketLen)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestEncodeRefusesWhatDecodeRefuses(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*ControlPacket)
		reason string
	}{
		{"diag beyond 5 bits", func(p *ControlPacket) { p.Diag = 32 }, ReasonDiag},
		{"state beyond Up", func(p *ControlPacket) { p.State = 4 }, ReasonState},
		{"detect mult zero", func(p *ControlPacket) { p.DetectMult = 0 }, ReasonDetectMult},
		{"my discriminator zero", func(p *ControlPacket) { p.MyDiscriminator = 0 }, ReasonMyDiscriminator},
		{"your discriminator zero while Up", func(p *ControlPacket) { p.YourDiscriminator = 0 }, ReasonYourDiscriminator},
		{"auth data too long", func(p *ControlPacket) {
			p.Auth = &AuthSection{Data: make([]byte, MaxPacketLen-headerLen-authHeaderLen+1)}
		}, ReasonAuthLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := upPacket()
			tc.edit(&p)
			_, err := p.Encode()
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != tc.reason {
				t.Fatalf("Encode error = %v, want reason %q", err, tc.reason)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{StateAdminDown.String(), "AdminDown"},
		{StateUp.String(), "Up"},
		{State(9).String(), "State(9)"},
		{DiagControlDetectionTimeExpired.String(), "Control Detection Time Expired"},
		{DiagNeighborSignaledSessionDown.String(), "Neighbor Signaled Session Down"},
		{DiagAdministrativelyDown.String(), "Administratively Down"},
		{Diag(31).String(), "Diag(31)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

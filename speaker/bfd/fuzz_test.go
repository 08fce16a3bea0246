package bfd

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode checks that Decode never panics, that its errors are
// ErrMalformed, and that whatever it accepts encodes back to the same bytes
// (up to Length) and decodes to the same packet.
func FuzzDecode(f *testing.F) {
	down := upPacket()
	down.State, down.YourDiscriminator = StateDown, 0
	auth := upPacket()
	auth.Auth = &AuthSection{Type: 1, Data: []byte{3, 'k', 'e', 'y'}}
	for _, p := range []ControlPacket{upPacket(), down, auth} {
		f.Add(mustEncode(f, p))
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 30))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded packet: %v", err)
		}
		if !bytes.Equal(enc, b[:b[3]]) {
			t.Fatalf("Encode(Decode(%x)) = %x", b[:b[3]], enc)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("Decode(Encode(p)) (-p +again):\n%s", diff)
		}
	})
}

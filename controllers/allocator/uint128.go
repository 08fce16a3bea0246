package allocator

import (
	"encoding/binary"
	"math/big"
	"math/bits"
	"net/netip"

	"github.com/ironlb/ironlb/api/iprange"
)

// u128 is an unsigned 128-bit integer used for address arithmetic: an IPv6
// address, an IPv4 address (in the low 32 bits) or an offset into a range.
type u128 struct{ hi, lo uint64 }

// u128Of returns the numeric value of ip: the 32-bit value of an IPv4
// address or the 128-bit value of an IPv6 address.
func u128Of(ip netip.Addr) u128 {
	if ip.Is4() {
		b := ip.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := ip.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// addr converts u back to an address of family f. For IPv4 only the low 32
// bits are used.
func (u u128) addr(f iprange.Family) netip.Addr {
	if f == iprange.IPv4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(u.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b)
}

// keyOf returns the key of ip in the allocator's maps: its 16-byte form,
// IPv4 as ::ffff:a.b.c.d, so that the families never collide. Unlike
// netip.Addr it holds no pointer, which keeps the big maps compact.
func keyOf(ip netip.Addr) u128 {
	b := ip.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func (u u128) add(v u128) u128 {
	lo, carry := bits.Add64(u.lo, v.lo, 0)
	hi, _ := bits.Add64(u.hi, v.hi, carry)
	return u128{hi, lo}
}

func (u u128) sub(v u128) u128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return u128{hi, lo}
}

func (u u128) inc() u128 { return u.add(u128{lo: 1}) }

func (u u128) and(v u128) u128 { return u128{u.hi & v.hi, u.lo & v.lo} }

func (u u128) isZero() bool { return u.hi == 0 && u.lo == 0 }

func (u u128) cmp(v u128) int {
	switch {
	case u.hi < v.hi:
		return -1
	case u.hi > v.hi:
		return 1
	case u.lo < v.lo:
		return -1
	case u.lo > v.lo:
		return 1
	}
	return 0
}

func (u u128) onesCount() int { return bits.OnesCount64(u.hi) + bits.OnesCount64(u.lo) }

// big returns u as a new big.Int.
func (u u128) big() *big.Int {
	b := new(big.Int).SetUint64(u.hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(u.lo))
}

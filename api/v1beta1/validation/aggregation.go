package validation

import (
	"fmt"
	"net/netip"
)

// AggregateOutside is the rule that keeps an aggregated route inside the
// pool entry its address comes from: it returns the prefix of length bits
// that an address of the entry [first, last] would be announced under when
// that prefix covers an address outside the entry, and true; false when
// every such prefix stays inside. A length of the address size or more means
// one route per address, which always stays inside.
//
// Only the aggregates of the entry's two ends need checking: the ones in
// between are whole blocks between them.
func AggregateOutside(first, last netip.Addr, bits int) (netip.Prefix, bool) {
	if bits >= first.BitLen() {
		return netip.Prefix{}, false
	}
	bits = max(bits, 0) // no shorter prefix than /0 exists
	low, _ := first.Prefix(bits)
	if low.Addr() != first {
		return low, true
	}
	high, _ := last.Prefix(bits)
	if lastAddr(high) != last {
		return high, true
	}
	return netip.Prefix{}, false
}

// shortestInside is the shortest aggregation length that keeps the entry's
// aggregates inside it. A length that stays inside stays inside when made
// longer, so counting down from the address size finds it.
func shortestInside(first, last netip.Addr) int {
	bits := first.BitLen()
	for bits > 0 {
		if _, outside := AggregateOutside(first, last, bits-1); outside {
			break
		}
		bits--
	}
	return bits
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// AggregationError says which pool entry an aggregation length reaches out
// of and what it would announce.
type AggregationError struct {
	Field  string // "aggregationLength" or "aggregationLengthV6"
	Length int
	Pool   string
	Entry  string
	// Prefix is what would be announced, covering addresses outside Entry.
	Prefix netip.Prefix
	// Shortest is the shortest length that stays inside Entry.
	Shortest int
}

// Detail is the message without the field and its value, as field.Invalid
// wants it.
func (e *AggregationError) Detail() string {
	return fmt.Sprintf("would announce %s for entry %q of IPAddressPool %q, covering addresses outside it; "+
		"the shortest length that stays inside the entry is %d", e.Prefix, e.Entry, e.Pool, e.Shortest)
}

func (e *AggregationError) Error() string {
	return fmt.Sprintf("%s %d %s", e.Field, e.Length, e.Detail())
}

// CheckAggregation applies AggregateOutside to every entry of pools with the
// length of its family: v4 (spec.aggregationLength) for IPv4 entries, v6
// (spec.aggregationLengthV6) for IPv6 ones; nil means one route per address.
// It returns at most one error per field, for the first entry in the order
// given that the length reaches out of.
func CheckAggregation(v4, v6 *int32, pools []PoolEntries) []*AggregationError {
	var errs []*AggregationError
	for _, f := range []struct {
		name   string
		length *int32
		is4    bool
	}{{"aggregationLength", v4, true}, {"aggregationLengthV6", v6, false}} {
		if f.length == nil {
			continue
		}
		if err := firstOutside(f.name, int(*f.length), f.is4, pools); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func firstOutside(fieldName string, length int, is4 bool, pools []PoolEntries) *AggregationError {
	for _, p := range pools {
		for _, e := range p.Entries {
			if e.First.Is4() != is4 {
				continue
			}
			if prefix, outside := AggregateOutside(e.First, e.Last, length); outside {
				return &AggregationError{
					Field: fieldName, Length: length, Pool: p.Name, Entry: e.Text,
					Prefix: prefix, Shortest: shortestInside(e.First, e.Last),
				}
			}
		}
	}
	return nil
}

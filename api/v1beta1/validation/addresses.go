package validation

import (
	"errors"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/iprange"
)

// addressesPath is where a pool's entries live; every message names it.
var addressesPath = field.NewPath("spec", "addresses")

// Entry is one parsed entry of an IPAddressPool's spec.addresses: a CIDR or
// an inclusive range, from First to Last.
type Entry struct {
	Text        string // as written in the spec, for messages
	First, Last netip.Addr
	// Index is the entry's position in spec.addresses, for messages that
	// name the field.
	Index int
}

// Range returns the entry's addresses.
func (e Entry) Range() iprange.Range { return iprange.Range{First: e.First, Last: e.Last} }

// PoolEntries is a pool's name and the entries of it that parse.
type PoolEntries struct {
	Name    string
	Entries []Entry
}

// PoolAddresses is the rule on one IPAddressPool's spec.addresses: there is
// at least one entry, every entry parses ([iprange.Parse]: syntax, one
// family, no special addresses), and no two entries share an address.
//
// It returns every entry that parses, in spec order (overlapping ones
// included: they still count when other pools are checked against this
// one), and the problems in the order of the entries at fault: for an
// entry, either why it does not parse or one problem per earlier entry it
// overlaps, those in spec order. Admission reports them all; the
// controller's pool validation reports the first.
func PoolAddresses(addrs []string) ([]Entry, []*AddressError) {
	if len(addrs) == 0 {
		return nil, []*AddressError{{Index: -1}}
	}
	var entries []Entry
	var problems []*AddressError
	for i, s := range addrs {
		r, err := iprange.Parse(s)
		if err != nil {
			problems = append(problems, &AddressError{Index: i, Entry: s, Reason: parseReason(err)})
			continue
		}
		e := Entry{Text: s, First: r.First, Last: r.Last, Index: i}
		for _, earlier := range entries {
			if r.Overlaps(earlier.Range()) {
				problems = append(problems, &AddressError{Index: i, Entry: s, Earlier: &earlier})
			}
		}
		entries = append(entries, e)
	}
	return entries, problems
}

// parseReason is why iprange.Parse refused an entry, without the entry:
// every message here quotes it already.
func parseReason(err error) string {
	if pe, ok := errors.AsType[*iprange.ParseError](err); ok {
		return pe.Reason
	}
	return err.Error()
}

// AddressError is one thing wrong with an IPAddressPool's spec.addresses
// (see [PoolAddresses]): no entry at all, an entry that does not parse, or
// one sharing addresses with an earlier entry of the same pool.
//
// Field words it for admission, Error for the pool's Ready condition: both
// name the entry by its index and quote it.
type AddressError struct {
	// Index is the entry at fault in spec.addresses; -1 when there is no
	// entry at all.
	Index int
	// Entry is that entry as written.
	Entry string
	// Reason, for an entry that does not parse, says why.
	Reason string
	// Earlier, for an entry overlapping an earlier entry of the same pool,
	// is that entry; nil otherwise.
	Earlier *Entry
}

// Field is the problem as admission reports it.
func (e *AddressError) Field() *field.Error {
	switch {
	case e.Index < 0:
		return field.Required(addressesPath, "a pool needs at least one CIDR or range")
	case e.Earlier != nil:
		return field.Invalid(addressesPath.Index(e.Index), e.Entry,
			fmt.Sprintf("overlaps spec.addresses[%d] (%q) of the same pool", e.Earlier.Index, e.Earlier.Text))
	}
	return field.Invalid(addressesPath.Index(e.Index), e.Entry, e.Reason)
}

// Error is the problem as the pool's Ready condition reports it.
func (e *AddressError) Error() string {
	switch {
	case e.Index < 0:
		return "spec.addresses is empty"
	case e.Earlier != nil:
		return fmt.Sprintf("spec.addresses[%d] %q overlaps spec.addresses[%d] %q", e.Index, e.Entry, e.Earlier.Index, e.Earlier.Text)
	}
	// A refused entry reads as admission would have answered.
	return e.Field().Error()
}

// PoolOverlap is an entry of one pool sharing addresses with an entry of
// another: an address may belong to one pool only.
type PoolOverlap struct {
	// Entry is the entry of the pool checked.
	Entry Entry
	// Pool is the other pool, Other its entry.
	Pool  string
	Other Entry
}

// PoolOverlaps is the rule between pools: it returns every pair of an entry
// of mine and an entry of others that share an address, in the order of
// mine, then of others (pools in the order given, each pool's entries in
// order). Only entries that parse take part, so a broken pool blocks no
// other: its own Ready condition says what is wrong with it.
//
// It costs O(len(mine) × entries of others). Admission reports every
// overlap; the controller, which checks a pool against the pools accepted
// before it, oldest first, calls it once per accepted pool and reports the
// first overlap.
func PoolOverlaps(mine []Entry, others []PoolEntries) []*PoolOverlap {
	var out []*PoolOverlap
	for _, e := range mine {
		r := e.Range()
		for _, other := range others {
			for _, o := range other.Entries {
				if r.Overlaps(o.Range()) {
					out = append(out, &PoolOverlap{Entry: e, Pool: other.Name, Other: o})
				}
			}
		}
	}
	return out
}

// Field is the overlap as admission reports it, quoting both entries as
// written.
func (o *PoolOverlap) Field() *field.Error {
	return field.Invalid(addressesPath.Index(o.Entry.Index), o.Entry.Text,
		fmt.Sprintf("overlaps %q of IPAddressPool %q: an address may belong to one pool only", o.Other.Text, o.Pool))
}

// Error is the overlap as the pool's Ready condition reports it, naming
// both entries in canonical form ([iprange.Range.String]).
func (o *PoolOverlap) Error() string {
	return fmt.Sprintf("%s overlaps %s of pool %q; remove one of them", o.Entry.Range(), o.Other.Range(), o.Pool)
}

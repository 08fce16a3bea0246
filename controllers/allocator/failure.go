package allocator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// reasonNoNew is the internal reason of a pick that Request.NoNew forbade:
// no user ever sees it (see failure.result and ErrNoNew).
const reasonNoNew = "noNew"

// failure collects why each pool could not serve a request and reports
// the most telling reason.
type failure struct {
	worst     *Error
	exhausted []string // pools that had no free address
	closed    []string // pools being deleted
}

// rank orders failure reasons by how much they tell the user, highest
// first: a request at fault in itself, then a conflict with another
// Service, an address that cannot be had, NoNew, and last the state of
// pools (full, then not matching), which any pool tried may report.
func rank(reason string) int {
	switch reason {
	case v1beta1.ReasonInvalidRequest:
		return 6
	case v1beta1.ReasonSharingConflict:
		return 5
	case v1beta1.ReasonIPUnavailable:
		return 4
	case reasonNoNew:
		return 3
	case v1beta1.ReasonPoolExhausted:
		return 2
	}
	return 1
}

// moreTelling returns the more telling of two errors, the first on a tie.
func moreTelling(cur, err *Error) *Error {
	if cur == nil || rank(err.Reason) > rank(cur.Reason) {
		return err
	}
	return cur
}

// add records that p could not serve the request, and why.
func (f *failure) add(err *Error, p *poolState) {
	switch {
	case err.Reason == v1beta1.ReasonPoolExhausted && !slices.Contains(f.exhausted, p.Name):
		f.exhausted = append(f.exhausted, p.Name)
	case err.Reason == v1beta1.ReasonNoMatchingPool && p.Closed && !slices.Contains(f.closed, p.Name):
		f.closed = append(f.closed, p.Name)
	}
	f.worst = moreTelling(f.worst, err)
}

// result is the error Assign returns: with one pool in question (named,
// or holding the requested IPs) that pool's own error, else one message
// over every pool tried.
func (f *failure) result(rq *prepared) error {
	svc := rq.Service
	if f.worst.Reason == reasonNoNew {
		return fmt.Errorf("%s holds no address it can keep: %w", svc, ErrNoNew)
	}
	if rq.Pool != "" || rq.hasWant() {
		return f.worst // one pool: its own message says it best
	}
	switch f.worst.Reason {
	case v1beta1.ReasonPoolExhausted:
		return newError(v1beta1.ReasonPoolExhausted, "no free address for %s in the pools that admit it (%s)", svc, strings.Join(f.exhausted, ", "))
	case v1beta1.ReasonNoMatchingPool:
		msg := fmt.Sprintf("no address pool that admits %s can give it %s", svc, describe(rq))
		if len(f.closed) > 0 {
			msg += fmt.Sprintf("; pools being deleted: %s", strings.Join(f.closed, ", "))
		}
		return newError(v1beta1.ReasonNoMatchingPool, "%s", msg)
	}
	return f.worst
}

// describe names the addresses a request needs.
func describe(rq *prepared) string {
	fams := rq.levels[0]
	switch {
	case len(fams) == 1:
		return "an " + fams[0].String() + " address"
	case rq.Policy == PreferDualStack:
		return "an " + fams[0].String() + " or an " + fams[1].String() + " address"
	}
	return "both an " + fams[0].String() + " and an " + fams[1].String() + " address"
}

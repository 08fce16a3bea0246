package allocator

import (
	"errors"
	"fmt"
)

// Reasons carried by [Error]. They are the reasons of the Service condition
// ironlb.io/IPAllocated and of AllocationFailed events, spelled as in the README.
const (
	// ReasonNoMatchingPool: no pool admits the Service for the families it
	// needs, or the pool it names is missing, closed, of the wrong family or
	// does not admit it.
	ReasonNoMatchingPool = "NoMatchingPool"
	// ReasonPoolExhausted: pools admit the Service but have no free address.
	ReasonPoolExhausted = "PoolExhausted"
	// ReasonIPUnavailable: a requested IP lies outside every pool, in a pool
	// that does not admit the Service or is being deleted, is a .0/.255
	// address its pool avoids, or is held by a Service that does not share it.
	ReasonIPUnavailable = "IPUnavailable"
	// ReasonInvalidRequest: the request contradicts itself: a requested IP
	// of a family the Service does not have, two IPs of one family, IPs
	// outside the named pool or in two different pools.
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonSharingConflict: a requested IP is shared by a Service of
	// another namespace without consent from both sides, under another
	// sharing key, by a Service using one of the same ports, or under
	// externalTrafficPolicy Local by a Service of another namespace or
	// selecting other pods.
	ReasonSharingConflict = "SharingConflict"
)

// Error is an allocation failure. Reason is one of the Reason constants;
// Message is a sentence for people that names the IP, pool and Service.
type Error struct {
	Reason  string
	Message string
}

// Error returns the message.
func (e *Error) Error() string {
	if e.Message == "" {
		return "allocator: " + e.Reason
	}
	return e.Message
}

// Is makes errors.Is(err, ErrPoolExhausted) and the like match any Error
// with the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Reason == e.Reason
}

// Sentinels for errors.Is, one per Reason.
var (
	ErrNoMatchingPool  = &Error{Reason: ReasonNoMatchingPool}
	ErrPoolExhausted   = &Error{Reason: ReasonPoolExhausted}
	ErrIPUnavailable   = &Error{Reason: ReasonIPUnavailable}
	ErrInvalidRequest  = &Error{Reason: ReasonInvalidRequest}
	ErrSharingConflict = &Error{Reason: ReasonSharingConflict}
)

// ErrNoNew is returned to a request with NoNew set when keeping the
// Service's current addresses is not enough and a new address would be
// needed. It is not a failure to show users: the Service is simply handled
// again once restoring is over. It is not an [*Error].
var ErrNoNew = errors.New("allocator: the service needs an address it does not hold yet, and the request forbids new ones")

// ReasonOf returns the Reason of the [*Error] in err's chain, or "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func newError(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

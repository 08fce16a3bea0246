package allocator

import (
	"errors"
	"fmt"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Error is an allocation failure. Reason is one of the failure reasons of
// the Service condition ironlb.io/IPAllocated, declared in api/v1beta1
// (v1beta1.ReasonNoMatchingPool and the like, each documented there with
// the failures it stands for); Message is a sentence for people that names
// the IP, pool and Service.
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

// Sentinels for errors.Is, one per failure reason.
var (
	ErrNoMatchingPool  = &Error{Reason: v1beta1.ReasonNoMatchingPool}
	ErrPoolExhausted   = &Error{Reason: v1beta1.ReasonPoolExhausted}
	ErrIPUnavailable   = &Error{Reason: v1beta1.ReasonIPUnavailable}
	ErrInvalidRequest  = &Error{Reason: v1beta1.ReasonInvalidRequest}
	ErrSharingConflict = &Error{Reason: v1beta1.ReasonSharingConflict}
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

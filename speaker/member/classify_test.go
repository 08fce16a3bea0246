package member

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// A failed join is told apart by its TCP dial: refused means nothing listens
// (no speaker there), a completed dial means a speaker that did not share the
// key, anything else a node or port that cannot be reached.
func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	noRoute := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}
	tests := []struct {
		name    string
		dialed  bool
		dialErr error
		want    Outcome
	}{
		{"connected, exchange failed", true, nil, Rejected},
		{"connection refused", true, refused, Refused},
		{"dial timed out (port filtered, node down)", true, timeout, Unreachable},
		{"no route (a firewall's icmp-host-prohibited)", true, noRoute, Unreachable},
		{"never dialled", false, nil, Unreachable},
		{"other error", true, errors.New("boom"), Unreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.dialed, tt.dialErr); got != tt.want {
				t.Errorf("classify = %s, want %s", got, tt.want)
			}
		})
	}
}

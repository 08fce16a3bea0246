package bgp

import (
	"errors"
	"fmt"
	"testing"

	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
)

func TestRetryableDropsConfigurationErrors(t *testing.T) {
	transient := errors.New("gobgp: connection reset")
	tests := []struct {
		name string
		in   error
		want error
	}{
		{name: "nil", in: nil, want: nil},
		{name: "invalid peer only", in: fmt.Errorf("peer x: %w", bgpspeaker.ErrInvalidPeer), want: nil},
		{name: "joined config errors", in: errors.Join(fmt.Errorf("a: %w", bgpspeaker.ErrInvalidPeer), fmt.Errorf("b: %w", bgpspeaker.ErrInvalidRoute)), want: nil},
		{name: "transient kept", in: errors.Join(fmt.Errorf("a: %w", bgpspeaker.ErrInvalidPeer), transient), want: transient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := retryable(tc.in)
			if (got == nil) != (tc.want == nil) || (got != nil && !errors.Is(got, tc.want)) {
				t.Errorf("retryable(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

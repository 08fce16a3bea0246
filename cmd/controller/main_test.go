package main

import (
	"flag"
	"strings"
	"testing"
)

// TestLeaderElectionTimings checks the flags' rules: a Lease records whole
// seconds, and client-go needs renew deadline < lease duration and
// > 1.2 x retry period.
func TestLeaderElectionTimings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" = valid
	}{
		{name: "defaults"},
		{name: "fast hand-over", args: []string{"--leader-elect-lease-duration=2s", "--leader-elect-renew-deadline=1s", "--leader-elect-retry-period=250ms"}},
		{name: "fraction of a second", args: []string{"--leader-elect-lease-duration=2500ms"},
			wantErr: "--leader-elect-lease-duration must be a whole number of seconds"},
		{name: "renew deadline not shorter", args: []string{"--leader-elect-lease-duration=10s"},
			wantErr: "--leader-elect-renew-deadline (10s) must be shorter than --leader-elect-lease-duration (10s)"},
		{name: "retry too close to the deadline", args: []string{"--leader-elect-retry-period=9s"},
			wantErr: "must be longer than 1.2 x --leader-elect-retry-period (9s)"},
		{name: "zero", args: []string{"--leader-elect-retry-period=0s"},
			wantErr: "must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			fs := flag.NewFlagSet("ironlb-controller", flag.ContinueOnError)
			o.InitFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

package validation_test

import (
	"testing"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

func TestValidateCommunity(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: "64512:100"},
		{in: "65535:65535"},
		{in: "65536:1", wantErr: "part 1 65536 is out of range 0-65535"},
		{in: "1:2:3", wantErr: "want two numbers a:b (each 0-65535)"},
		{in: "+1:2", wantErr: `part 1 "+1" is not a decimal number`},
		{in: "large:64512:1:2"},
		{in: "large:4294967294:4294967295:4294967295"},
		{in: "large:1:2", wantErr: "want three numbers a:b:c (each 0-4294967295)"},
		{in: "large:1:2:4294967296", wantErr: "part 3 4294967296 is out of range 0-4294967295"},
		{in: "large:4294967295:1:2", wantErr: "global administrator 4294967295 is reserved (RFC 8092 section 5); IronLB uses it internally to steer routes to peers"},
		// Without the prefix it is read as a standard community.
		{in: "64512:1:2", wantErr: "want two numbers a:b (each 0-65535)"},
	}
	for _, tt := range tests {
		err := validation.ValidateCommunity(tt.in)
		if got := errString(err); got != tt.wantErr {
			t.Errorf("ValidateCommunity(%q) = %q, want %q", tt.in, got, tt.wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

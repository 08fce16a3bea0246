package validation_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

func TestValidateBFDProfile(t *testing.T) {
	tests := []struct {
		name string
		spec v1beta1.BFDProfileSpec
		want []string
	}{
		{name: "empty: every default", spec: v1beta1.BFDProfileSpec{}},
		{
			name: "every field at a bound",
			spec: v1beta1.BFDProfileSpec{
				ReceiveInterval: ptr.To[uint32](10), TransmitInterval: ptr.To[uint32](60000),
				DetectMultiplier: ptr.To[uint32](255), PassiveMode: true, MinimumTTL: ptr.To[uint32](255),
			},
		},
		{
			name: "intervals out of range",
			spec: v1beta1.BFDProfileSpec{ReceiveInterval: ptr.To[uint32](9), TransmitInterval: ptr.To[uint32](60001)},
			want: []string{
				`spec.receiveInterval: Invalid value: 9: must be between 10 and 60000 (milliseconds)`,
				`spec.transmitInterval: Invalid value: 60001: must be between 10 and 60000 (milliseconds)`,
			},
		},
		{
			name: "detect multiplier below 2",
			spec: v1beta1.BFDProfileSpec{DetectMultiplier: ptr.To[uint32](1)},
			want: []string{`spec.detectMultiplier: Invalid value: 1: must be between 2 and 255`},
		},
		{
			name: "detect multiplier above 255",
			spec: v1beta1.BFDProfileSpec{DetectMultiplier: ptr.To[uint32](256)},
			want: []string{`spec.detectMultiplier: Invalid value: 256: must be between 2 and 255`},
		},
		{
			name: "echo mode",
			spec: v1beta1.BFDProfileSpec{EchoMode: true},
			want: []string{`spec.echoMode: Invalid value: true: not supported: IronLB's BFD has no echo function; failures are detected from control packets alone`},
		},
		{
			name: "multihop minimum TTL",
			spec: v1beta1.BFDProfileSpec{MinimumTTL: ptr.To[uint32](254)},
			want: []string{`spec.minimumTtl: Invalid value: 254: must be 255: IronLB runs single-hop BFD only, which accepts packets with TTL 255 alone (RFC 5881 section 5)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, messages(validation.ValidateBFDProfile(&tt.spec))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBFDProfileSettings(t *testing.T) {
	got, errs := validation.BFDProfileSettings(&v1beta1.BFDProfileSpec{})
	want := validation.BFDSettings{ReceiveInterval: 300 * time.Millisecond, TransmitInterval: 300 * time.Millisecond, DetectMultiplier: 3}
	if len(errs) > 0 || got != want {
		t.Errorf("defaults = %+v, %v; want %+v", got, errs, want)
	}
	got, errs = validation.BFDProfileSettings(&v1beta1.BFDProfileSpec{
		ReceiveInterval: ptr.To[uint32](50), TransmitInterval: ptr.To[uint32](100), DetectMultiplier: ptr.To[uint32](5), PassiveMode: true,
	})
	want = validation.BFDSettings{ReceiveInterval: 50 * time.Millisecond, TransmitInterval: 100 * time.Millisecond, DetectMultiplier: 5, PassiveMode: true}
	if len(errs) > 0 || got != want {
		t.Errorf("settings = %+v, %v; want %+v", got, errs, want)
	}
	if got, errs := validation.BFDProfileSettings(&v1beta1.BFDProfileSpec{EchoMode: true}); len(errs) != 1 || got != (validation.BFDSettings{}) {
		t.Errorf("an echo-mode profile gave %+v, %v; want no settings and one error", got, errs)
	}
}

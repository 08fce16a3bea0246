package member

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/announce"
)

// The metadata format is part of the protocol between speaker builds: pin
// it, and read leniently what older or newer builds send.
func TestMetaFormat(t *testing.T) {
	if got := string(encodeMeta([]announce.WinnerVersion{1, 2})); got != "winner=1,2" {
		t.Errorf("encodeMeta = %q", got)
	}
	tests := []struct {
		meta string
		want []announce.WinnerVersion
	}{
		{"", nil}, // a build before versioning: v1 only, by AgreedWinner's rule
		{"winner=1", []announce.WinnerVersion{1}},
		{"winner=1,2", []announce.WinnerVersion{1, 2}},
		{"zone=a;winner=1,2,7", []announce.WinnerVersion{1, 2, 7}}, // later fields and versions are kept
		{"winner=1,x,2", []announce.WinnerVersion{1, 2}},
		{"garbage", nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, decodeMeta([]byte(tc.meta))); diff != "" {
			t.Errorf("decodeMeta(%q) (-want +got):\n%s", tc.meta, diff)
		}
	}
}

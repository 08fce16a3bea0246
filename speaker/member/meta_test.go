package member

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/announce"
)

// The metadata format is part of the protocol between speaker builds: pin
// it, and read leniently what older or newer builds send.
func TestMetaFormat(t *testing.T) {
	v1, v2 := announce.WinnerV1, announce.WinnerV2
	both := []announce.WinnerVersion{v1, v2}
	encoded := []struct {
		meta meta
		want string
	}{
		{meta{versions: both}, "winner=1,2"}, // a build before coordination
		{meta{versions: both, coordinated: true}, "winner=1,2;elect=-"},
		{meta{versions: both, coordinated: true, plan: settled(v2)}, "winner=1,2;elect=2"},
		{meta{versions: both, coordinated: true, plan: plan{v1, v2, 1700000000123}}, "winner=1,2;elect=1>2@1700000000123"},
		{meta{versions: both, coordinated: true, plan: settled(v1), standby: true}, "winner=1,2;elect=1;join=wait"},
		{meta{versions: both, coordinated: true, plan: settled(v1), joinAt: 1700000000500}, "winner=1,2;elect=1;join=1700000000500"},
		{meta{versions: both, coordinated: true, plan: settled(v1), joinAt: 5, leaveAt: 1700000000900}, "winner=1,2;elect=1;join=5;leave=1700000000900"},
	}
	for _, tc := range encoded {
		if got := string(tc.meta.encode()); got != tc.want {
			t.Errorf("encode(%+v) = %q, want %q", tc.meta, got, tc.want)
		}
		if diff := cmp.Diff(tc.meta, decodeMeta([]byte(tc.want)), cmp.AllowUnexported(meta{}, plan{})); diff != "" {
			t.Errorf("decodeMeta(%q) (-want +got):\n%s", tc.want, diff)
		}
	}

	decoded := []struct {
		meta string
		want meta
	}{
		{"", meta{}}, // a build before versioning: v1 only, by AgreedWinner's rule
		{"winner=1", meta{versions: []announce.WinnerVersion{v1}}},
		{"zone=a;winner=1,2,7", meta{versions: []announce.WinnerVersion{v1, v2, 7}}}, // later fields and versions are kept
		{"winner=1,x,2", meta{versions: both}},
		{"garbage", meta{}},
		// A plan that does not parse: the member speaks the protocol and
		// follows the others.
		{"winner=1,2;elect=2>@5", meta{versions: both, coordinated: true}},
		{"winner=1,2;elect=x", meta{versions: both, coordinated: true}},
		{"winner=1,2;elect=2;join=soon;leave=-3", meta{versions: both, coordinated: true, plan: settled(v2)}},
	}
	for _, tc := range decoded {
		if diff := cmp.Diff(tc.want, decodeMeta([]byte(tc.meta)), cmp.AllowUnexported(meta{}, plan{})); diff != "" {
			t.Errorf("decodeMeta(%q) (-want +got):\n%s", tc.meta, diff)
		}
	}
}

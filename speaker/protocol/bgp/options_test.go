package bgp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/bfd"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func ptr[T any](v T) *T { return &v }

// TestPeerFromTranslatesSpec: each BGPPeer field reaches speaker/bgp's Peer,
// and unset and 0s hold times differ.
func TestPeerFromTranslatesSpec(t *testing.T) {
	base := v1beta1.BGPPeerSpec{MyASN: 64512, PeerASN: 64513, PeerAddress: "198.51.100.1"}
	tests := []struct {
		name    string
		edit    func(*v1beta1.BGPPeerSpec)
		want    func(*bgpspeaker.Peer)
		wantErr string
	}{
		{name: "unset hold time is speaker/bgp's default", edit: func(*v1beta1.BGPPeerSpec) {}, want: func(*bgpspeaker.Peer) {}},
		{name: "hold and keepalive", edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = dur(9*time.Second), dur(3*time.Second) },
			want: func(p *bgpspeaker.Peer) { p.HoldTime, p.KeepaliveTime = 9*time.Second, 3*time.Second }},
		{name: "explicit hold time 0 is refused, not sent as 90s", edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur(0) },
			wantErr: "spec.holdTime: Invalid value: \"0s\": holdTime 0s (no keepalives) cannot be configured"},
		{name: "connect time", edit: func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = dur(30 * time.Second) },
			want: func(p *bgpspeaker.Peer) { p.ConnectTime = 30 * time.Second }},
		{name: "connect time with a fraction", edit: func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = dur(1500 * time.Millisecond) },
			wantErr: `spec.connectTime: Invalid value: "1.5s": must be a whole number of seconds`},
		{name: "dynamic external", edit: func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.DynamicASN = 0, v1beta1.DynamicASNExternal },
			want: func(p *bgpspeaker.Peer) { p.PeerASN, p.DynamicASN = 0, bgpspeaker.DynamicExternal }},
		{name: "dynamic internal", edit: func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.DynamicASN = 0, v1beta1.DynamicASNInternal },
			want: func(p *bgpspeaker.Peer) { p.PeerASN, p.DynamicASN = 0, bgpspeaker.DynamicInternal }},
		{name: "disableMP, VRF and multihop", edit: func(s *v1beta1.BGPPeerSpec) { s.DisableMP, s.VRF, s.EBGPMultiHop = true, "red", true },
			want: func(p *bgpspeaker.Peer) { p.DisableMP, p.VRF, p.EBGPMultiHop = true, "red", true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			tt.edit(&spec)
			got, err := (&Protocol{}).peerFrom(t.Context(), &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "r1"}, Spec: spec})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := bgpspeaker.Peer{Name: "r1", MyASN: 64512, PeerASN: 64513, Address: netip.MustParseAddr("198.51.100.1")}
			tt.want(&want)
			if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("peer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBFDSessions(t *testing.T) {
	router := netip.MustParseAddr("198.51.100.1")
	src := netip.MustParseAddr("198.51.100.11")
	peers := []bgpspeaker.Peer{
		{Name: "fast", Address: router, SourceAddress: src},
		{Name: "plain", Address: netip.MustParseAddr("198.51.100.2")},
		{Name: "missing", Address: netip.MustParseAddr("198.51.100.3")},
		{Name: "vrf", Address: netip.MustParseAddr("198.51.100.4"), VRF: "red"},
		{Name: "echo", Address: netip.MustParseAddr("198.51.100.5")},
	}
	specs := map[string]*v1beta1.BGPPeerSpec{
		"fast": {BFDProfile: "fast"}, "plain": {}, "missing": {BFDProfile: "nope"},
		"vrf": {BFDProfile: "fast"}, "echo": {BFDProfile: "echo"},
	}
	profiles := []v1beta1.BFDProfile{
		{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Spec: v1beta1.BFDProfileSpec{ReceiveInterval: ptr[uint32](100), DetectMultiplier: ptr[uint32](5)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "echo"}, Spec: v1beta1.BFDProfileSpec{EchoMode: true}},
	}
	got, problems := bfdSessions(peers, specs, profiles)
	want := map[bfd.SessionKey]bfdSession{
		{Addr: router}: {peer: "fast", bfd: bfd.Peer{Addr: router, LocalAddr: src, Profile: bfd.Profile{
			ReceiveInterval: 100 * time.Millisecond, TransmitInterval: 300 * time.Millisecond, DetectMultiplier: 5}}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(bfdSession{}), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	for _, name := range []string{"missing", "vrf", "echo"} {
		if problems[name] == "" {
			t.Errorf("peer %q runs without BFD and no reason is given", name)
		}
	}
	if len(problems) != 3 {
		t.Errorf("problems %v, want missing, vrf and echo only", problems)
	}
}

func TestResetsBGP(t *testing.T) {
	tests := []struct {
		name string
		c    bfd.StateChange
		want bool
	}{
		{"path failed", bfd.StateChange{From: bfd.StateUp, To: bfd.StateDown, Diag: bfd.DiagControlDetectionTimeExpired}, true},
		{"router said Down", bfd.StateChange{From: bfd.StateUp, To: bfd.StateDown, Diag: bfd.DiagNeighborSignaledSessionDown}, true},
		{"router went AdminDown (RFC 5882 3.2)", bfd.StateChange{From: bfd.StateUp, To: bfd.StateDown, RemoteDiag: bfd.DiagAdministrativelyDown}, false},
		{"coming up", bfd.StateChange{From: bfd.StateDown, To: bfd.StateInit}, false},
		{"never up", bfd.StateChange{From: bfd.StateInit, To: bfd.StateDown}, false},
		{"we removed it", bfd.StateChange{From: bfd.StateUp, To: bfd.StateAdminDown}, false},
	}
	for _, tt := range tests {
		if got := ResetsBGP(tt.c); got != tt.want {
			t.Errorf("%s: ResetsBGP = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCommunityAliases: an advertisement naming an unknown alias is
// refused with a message naming it; known aliases and well-known names
// resolve to values.
func TestCommunityAliases(t *testing.T) {
	aliases := map[string]string{"transit-only": "64512:300", "big": "large:64512:1:2"}
	adv := func(c ...string) *v1beta1.BGPAdvertisement {
		return &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.BGPAdvertisementSpec{Communities: c}}
	}
	ok := parse(adv("transit-only", "NO-EXPORT", "big", "64512:1"), aliases)
	if !ok.usable() {
		t.Fatalf("refused: %v", ok.badCommunities)
	}
	if diff := cmp.Diff([]string{"64512:300", "65535:65281", "large:64512:1:2", "64512:1"}, ok.adv.Communities); diff != "" {
		t.Errorf("communities (-want +got):\n%s", diff)
	}
	bad := parse(adv("64512:1", "gold"), aliases)
	if bad.usable() {
		t.Fatal("an unknown alias was accepted")
	}
	if msg := bad.badCommunities.ToAggregate().Error(); !strings.Contains(msg, `"gold"`) {
		t.Errorf("message %q does not name the alias", msg)
	}
}

package validation_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

func TestValidateBGPPeer(t *testing.T) {
	d := func(s string) *metav1.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: v}
	}
	base := func() v1beta1.BGPPeerSpec {
		return v1beta1.BGPPeerSpec{MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1", PeerPort: 179}
	}
	tests := []struct {
		name         string
		edit         func(*v1beta1.BGPPeerSpec)
		want         []string
		wantWarnings []string
	}{
		{name: "valid", edit: func(*v1beta1.BGPPeerSpec) {}},
		{
			name: "valid with timers, source, password and IPv6",
			edit: func(s *v1beta1.BGPPeerSpec) {
				s.PeerAddress, s.SourceAddress = "2001:db8::1", "2001:db8::2"
				s.HoldTime, s.KeepaliveTime = d("9s"), d("3s")
				s.PasswordSecret = &v1beta1.SecretKeyRef{Name: "peer-secret", Namespace: "ironlb-system", Key: "password"}
			},
		},
		{
			name: "AS_TRANS and reserved ASN",
			edit: func(s *v1beta1.BGPPeerSpec) { s.MyASN, s.PeerASN = 23456, 4294967295 },
			want: []string{
				`spec.myASN: Invalid value: 23456: AS 23456 is AS_TRANS, which only stands in for a 4-byte ASN (RFC 6793)`,
				`spec.peerASN: Invalid value: 4294967295: reserved ASN (RFC 7300)`,
			},
		},
		{
			name: "AS 0",
			edit: func(s *v1beta1.BGPPeerSpec) { s.PeerASN = 0 },
			want: []string{`spec.peerASN: Invalid value: 0: AS 0 is reserved (RFC 7607)`},
		},
		{
			name: "keepalive not below hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = d("30s"), d("30s") },
			want: []string{`spec.keepaliveTime: Invalid value: "30s": must be less than the hold time (30s)`},
		},
		{
			name: "keepalive not below the default hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.KeepaliveTime = d("2m") },
			want: []string{`spec.keepaliveTime: Invalid value: "2m0s": must be less than the hold time (1m30s)`},
		},
		{
			name: "hold time too short",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime = d("2s") },
			want: []string{`spec.holdTime: Invalid value: "2s": must be 0 or at least 3s`},
		},
		{
			name: "fractional hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime = d("4500ms") },
			want: []string{`spec.holdTime: Invalid value: "4.5s": must be a whole number of seconds`},
		},
		{
			name: "hold time beyond the 16-bit field",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime = d("20h") },
			want: []string{`spec.holdTime: Invalid value: "20h0m0s": must be at most 65535s`},
		},
		{
			name: "keepalive with a zero hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = d("0s"), d("10s") },
			want: []string{`spec.keepaliveTime: Invalid value: "10s": must be 0 when spec.holdTime is 0: no keepalives are sent then`},
		},
		{
			name: "hold time 0 is admitted with a warning: the speakers cannot run it",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = d("0s"), d("0s") },
			wantWarnings: []string{"spec.holdTime: holdTime 0s (no keepalives) cannot be configured in IronLB's speakers, " +
				"whose BGP implementation would send a hold time of 90s instead: the session stays Idle; " +
				"set 3s or more (a router configured with hold time 0 still negotiates 0)"},
		},
		{
			name: "source of another family",
			edit: func(s *v1beta1.BGPPeerSpec) { s.SourceAddress = "2001:db8::2" },
			want: []string{`spec.sourceAddress: Invalid value: "2001:db8::2": is not of the same family as spec.peerAddress "198.51.100.1"`},
		},
		{
			name: "multicast peer",
			edit: func(s *v1beta1.BGPPeerSpec) { s.PeerAddress = "224.0.0.5" },
			want: []string{`spec.peerAddress: Invalid value: "224.0.0.5": must be a unicast address (not loopback, link-local, multicast or unspecified)`},
		},
		{
			name: "bad secret reference",
			edit: func(s *v1beta1.BGPPeerSpec) {
				s.PasswordSecret = &v1beta1.SecretKeyRef{Name: "Peer_Secret", Namespace: "ironlb-system", Key: "pass word"}
			},
			want: []string{
				`spec.passwordSecret.name: Invalid value: "Peer_Secret": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`spec.passwordSecret.key: Invalid value: "pass word": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
			},
		},
		{
			name:         "eBGP multihop on iBGP warns",
			edit:         func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.EBGPMultiHop = 64513, true },
			wantWarnings: []string{"spec.ebgpMultiHop has no effect on an iBGP session (myASN equals peerASN)"},
		},
		// The fields MetalLB users bring along.
		{
			name: "valid with MetalLB's session fields",
			edit: func(s *v1beta1.BGPPeerSpec) {
				s.ConnectTime, s.DisableMP, s.VRF, s.BFDProfile = d("10s"), true, "red", "fast"
			},
		},
		{
			name: "dynamic ASN instead of peerASN",
			edit: func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.DynamicASN = 0, v1beta1.DynamicASNExternal },
		},
		{
			name: "dynamic ASN and peerASN",
			edit: func(s *v1beta1.BGPPeerSpec) { s.DynamicASN = v1beta1.DynamicASNInternal },
			want: []string{`spec.peerASN: Forbidden: must not be set together with spec.dynamicASN: set exactly one of them`},
		},
		{
			name: "unknown dynamic ASN mode",
			edit: func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.DynamicASN = 0, "any" },
			want: []string{`spec.dynamicASN: Unsupported value: "any": supported values: "internal", "external"`},
		},
		{
			name: "eBGP multihop with dynamic internal ASN warns",
			edit: func(s *v1beta1.BGPPeerSpec) {
				s.PeerASN, s.DynamicASN, s.EBGPMultiHop = 0, v1beta1.DynamicASNInternal, true
			},
			wantWarnings: []string{"spec.ebgpMultiHop has no effect on an iBGP session (dynamicASN is internal)"},
		},
		{
			name: "fractional connect time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = d("1500ms") },
			want: []string{`spec.connectTime: Invalid value: "1.5s": must be a whole number of seconds`},
		},
		{
			name: "zero connect time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = d("0s") },
			want: []string{`spec.connectTime: Invalid value: "0s": must be at least 1s`},
		},
		{
			name: "connect time beyond the 16-bit field",
			edit: func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = d("65536s") },
			want: []string{`spec.connectTime: Invalid value: "18h12m16s": must be at most 65535s`},
		},
		{
			name: "VRF name too long for Linux",
			edit: func(s *v1beta1.BGPPeerSpec) { s.VRF = "vrf-of-the-tenant" },
			want: []string{`spec.vrf: Invalid value: "vrf-of-the-tenant": must be at most 15 bytes long (a Linux interface name)`},
		},
		{
			name: "VRF name with a slash",
			edit: func(s *v1beta1.BGPPeerSpec) { s.VRF = "red/blue" },
			want: []string{`spec.vrf: Invalid value: "red/blue": must not contain '/', ':' or white space`},
		},
		{
			name: "BFD profile that is no object name",
			edit: func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = "Fast_Profile" },
			want: []string{`spec.bfdProfile: Invalid value: "Fast_Profile": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name: "BFD on an eBGP multihop session",
			edit: func(s *v1beta1.BGPPeerSpec) { s.BFDProfile, s.EBGPMultiHop = "fast", true },
			want: []string{`spec.bfdProfile: Invalid value: "fast": BFD runs on single-hop sessions only (RFC 5881), and spec.ebgpMultiHop says the router is not directly connected`},
		},
		{
			name:         "BFD on an iBGP session with the no-op multihop flag",
			edit:         func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.BFDProfile, s.EBGPMultiHop = 64513, "fast", true },
			wantWarnings: []string{"spec.ebgpMultiHop has no effect on an iBGP session (myASN equals peerASN)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base()
			tt.edit(&spec)
			errs, warnings := validation.ValidateBGPPeer(&spec)
			if diff := cmp.Diff(tt.want, messages(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateInterfaceName(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{in: "red"},
		{in: "vrf-blue.100"},
		{in: "fifteen-bytes15"},
		{in: "", wantErr: "must not be empty"},
		{in: "sixteen-bytes-16", wantErr: "must be at most 15 bytes long (a Linux interface name)"},
		{in: ".", wantErr: `must not be "." or ".."`},
		{in: "..", wantErr: `must not be "." or ".."`},
		{in: "a:b", wantErr: "must not contain '/', ':' or white space"},
		{in: "a b", wantErr: "must not contain '/', ':' or white space"},
		{in: "a\tb", wantErr: "must not contain '/', ':' or white space"},
	}
	for _, tt := range tests {
		if got := errString(validation.ValidateInterfaceName(tt.in)); got != tt.wantErr {
			t.Errorf("ValidateInterfaceName(%q) = %q, want %q", tt.in, got, tt.wantErr)
		}
	}
}

func TestIsIBGPAndConnectTime(t *testing.T) {
	tests := []struct {
		name    string
		spec    v1beta1.BGPPeerSpec
		ibgp    bool
		connect time.Duration
	}{
		{name: "same ASN", spec: v1beta1.BGPPeerSpec{MyASN: 64512, PeerASN: 64512}, ibgp: true, connect: validation.DefaultConnectTime},
		{name: "other ASN", spec: v1beta1.BGPPeerSpec{MyASN: 64512, PeerASN: 64513}, connect: validation.DefaultConnectTime},
		{name: "dynamic internal", spec: v1beta1.BGPPeerSpec{MyASN: 64512, DynamicASN: v1beta1.DynamicASNInternal}, ibgp: true, connect: validation.DefaultConnectTime},
		{name: "dynamic external", spec: v1beta1.BGPPeerSpec{MyASN: 64512, DynamicASN: v1beta1.DynamicASNExternal}, connect: validation.DefaultConnectTime},
		{
			name:    "connect time set",
			spec:    v1beta1.BGPPeerSpec{MyASN: 64512, PeerASN: 64513, ConnectTime: &metav1.Duration{Duration: 30 * time.Second}},
			connect: 30 * time.Second,
		},
	}
	for _, tt := range tests {
		if got := validation.IsIBGP(&tt.spec); got != tt.ibgp {
			t.Errorf("%s: IsIBGP = %v, want %v", tt.name, got, tt.ibgp)
		}
		if got := validation.ConnectTime(&tt.spec); got != tt.connect {
			t.Errorf("%s: ConnectTime = %v, want %v", tt.name, got, tt.connect)
		}
	}
}

package bgp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/testing/protocmp"
)

// TestNormalizePeerOptions covers the BGPPeer fields added after the first
// release: dynamic ASNs, the connect time, single-family sessions and VRFs.
func TestNormalizePeerOptions(t *testing.T) {
	tests := []struct {
		name    string
		peer    Peer
		wantErr string
	}{
		{name: "dynamic internal", peer: Peer{Name: "r1", MyASN: 64512, DynamicASN: DynamicInternal, Address: routerV4}},
		{name: "dynamic external", peer: Peer{Name: "r1", MyASN: 64512, DynamicASN: DynamicExternal, Address: routerV4}},
		{name: "dynamic and peer ASN", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, DynamicASN: DynamicExternal, Address: routerV4},
			wantErr: `invalid BGP peer "r1": peerASN and dynamicASN must not both be set`},
		{name: "unknown dynamic mode", peer: Peer{Name: "r1", MyASN: 1, DynamicASN: "any", Address: routerV4},
			wantErr: `invalid BGP peer "r1": dynamicASN "any" is neither internal nor external`},
		{name: "connect time", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, ConnectTime: 30 * time.Second}},
		{name: "connect time with a fraction", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, ConnectTime: 1500 * time.Millisecond},
			wantErr: `invalid BGP peer "r1": connect time 1.5s is not a whole number of seconds from 1s to 65535s`},
		{name: "connect time too long", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, ConnectTime: 65536 * time.Second},
			wantErr: `invalid BGP peer "r1": connect time 18h12m16s is not a whole number of seconds from 1s to 65535s`},
		{name: "VRF", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, VRF: "red"}},
		{name: "VRF name too long", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, VRF: "a-very-long-vrf-name"},
			wantErr: `invalid BGP peer "r1": VRF "a-very-long-vrf-name" is not a Linux interface name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := normalizePeer(tt.peer, nodeID)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("error %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestAPIPeerOptions(t *testing.T) {
	base := peerConfig{MyASN: 64513, PeerASN: 64512, Address: routerV4, Port: 179, RouterID: nodeID}
	with := func(f func(*peerConfig)) peerConfig {
		c := base
		f(&c)
		return c
	}
	afs := func(fams ...*api.Family) []*api.AfiSafi {
		var out []*api.AfiSafi
		for _, f := range fams {
			out = append(out, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true}})
		}
		return out
	}
	tests := []struct {
		name string
		c    peerConfig
		// want is the part of GoBGP's peer the option changes.
		want func(*api.Peer) any
		exp  any
	}{
		{
			name: "dynamic internal: GoBGP checks the router's ASN is ours",
			c:    with(func(c *peerConfig) { c.PeerASN, c.DynamicASN = 0, DynamicInternal }),
			want: func(p *api.Peer) any { return p.Conf.PeerAsn }, exp: uint32(64513),
		},
		{
			name: "dynamic external: GoBGP takes any ASN (ours is refused once known)",
			c:    with(func(c *peerConfig) { c.PeerASN, c.DynamicASN = 0, DynamicExternal }),
			want: func(p *api.Peer) any { return p.Conf.PeerAsn }, exp: uint32(0),
		},
		{
			name: "connect time",
			c:    with(func(c *peerConfig) { c.ConnectTime = 30 * time.Second }),
			want: func(p *api.Peer) any { return p.Timers.Config.ConnectRetry }, exp: uint64(30),
		},
		{
			name: "connect time unset is 5s",
			c:    base,
			want: func(p *api.Peer) any { return p.Timers.Config.ConnectRetry }, exp: uint64(5),
		},
		{
			name: "VRF binds the socket to the VRF device",
			c:    with(func(c *peerConfig) { c.VRF = "red" }),
			want: func(p *api.Peer) any { return p.Transport }, exp: &api.Transport{RemotePort: 179, BindInterface: "red"},
		},
		{
			name: "multiprotocol: both families on one session",
			c:    base,
			want: func(p *api.Peer) any { return p.AfiSafis }, exp: afs(familyIPv4, familyIPv6),
		},
		{
			name: "disableMP on an IPv4 session: IPv4 unicast only",
			c:    with(func(c *peerConfig) { c.DisableMP = true }),
			want: func(p *api.Peer) any { return p.AfiSafis }, exp: afs(familyIPv4),
		},
		{
			name: "disableMP on an IPv6 session: IPv6 unicast only",
			c:    with(func(c *peerConfig) { c.DisableMP, c.Address = true, routerV6 }),
			want: func(p *api.Peer) any { return p.AfiSafis }, exp: afs(familyIPv6),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.exp, tt.want(apiPeer("r1", tt.c)), protocmp.Transform()); diff != "" {
				t.Errorf("GoBGP peer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsInternal(t *testing.T) {
	tests := []struct {
		name string
		c    peerConfig
		want bool
	}{
		{"same ASN", peerConfig{MyASN: 1, PeerASN: 1}, true},
		{"other ASN", peerConfig{MyASN: 1, PeerASN: 2}, false},
		{"dynamic internal", peerConfig{MyASN: 1, DynamicASN: DynamicInternal}, true},
		{"dynamic external", peerConfig{MyASN: 1, DynamicASN: DynamicExternal}, false},
	}
	for _, tt := range tests {
		if got := tt.c.isInternal(); got != tt.want {
			t.Errorf("%s: isInternal() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSessionTableRefusesOwnASNUnderDynamicExternal(t *testing.T) {
	tab := newSessionTable()
	tab.add("ext", peerConfig{MyASN: 64512, DynamicASN: DynamicExternal, Address: routerV4, RouterID: nodeID})
	tab.add("int", peerConfig{MyASN: 64512, DynamicASN: DynamicInternal, Address: routerV6, RouterID: nodeID})
	if msg := tab.refusedASN(nodeID, routerV4.String(), 64999); msg != "" {
		t.Errorf("another ASN refused under external: %s", msg)
	}
	if msg := tab.refusedASN(nodeID, routerV4.String(), 64512); msg == "" {
		t.Error("our own ASN accepted under external")
	}
	if msg := tab.refusedASN(nodeID, routerV6.String(), 64512); msg != "" {
		t.Errorf("our own ASN refused under internal: %s", msg)
	}
	// A cause we set outranks GoBGP's later log lines until Established.
	tab.setCause(nodeID, routerV4.String(), "BFD session down")
	tab.observeLog(nodeID, "Peer Down", map[string]any{"Key": routerV4.String(), "Reason": "admin-reset"})
	if got := tab.snapshot()["ext"].Message; got != "BFD session down" {
		t.Errorf("message %q, want the cause", got)
	}
	tab.setState(nodeID, routerV4.String(), StateEstablished)
	tab.setState(nodeID, routerV4.String(), StateActive)
	if got := tab.snapshot()["ext"].Message; got != "" {
		t.Errorf("cause %q outlived an Established session", got)
	}
}

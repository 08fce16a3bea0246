package bgp

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/testing/protocmp"
)

var (
	nodeID   = netip.MustParseAddr("198.51.100.11")
	routerV4 = netip.MustParseAddr("198.51.100.1")
	routerV6 = netip.MustParseAddr("2001:db8:ffff::1")
)

func TestNormalizePeer(t *testing.T) {
	tests := []struct {
		name    string
		peer    Peer
		want    peerConfig
		wantErr string
	}{
		{
			name: "defaults: port 179 and the node's router ID",
			peer: Peer{Name: "r1", MyASN: 64513, PeerASN: 64512, Address: routerV4},
			want: peerConfig{MyASN: 64513, PeerASN: 64512, Address: routerV4, Port: 179, RouterID: nodeID},
		},
		{
			name: "everything set",
			peer: Peer{Name: "r1", MyASN: 64512, PeerASN: 64512, Address: routerV6, Port: 1179, SourceAddress: netip.MustParseAddr("2001:db8:ffff::11"),
				RouterID: netip.MustParseAddr("192.0.2.1"), HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second, EBGPMultiHop: true, GracefulRestart: true, Password: "pw"},
			want: peerConfig{MyASN: 64512, PeerASN: 64512, Address: routerV6, Port: 1179, SourceAddress: netip.MustParseAddr("2001:db8:ffff::11"),
				RouterID: netip.MustParseAddr("192.0.2.1"), HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second, EBGPMultiHop: true, GracefulRestart: true, Password: "pw"},
		},
		{
			name: "IPv4-mapped addresses are unmapped",
			peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: netip.MustParseAddr("::ffff:198.51.100.1")},
			want: peerConfig{MyASN: 1, PeerASN: 2, Address: routerV4, Port: 179, RouterID: nodeID},
		},
		{name: "no local ASN", peer: Peer{Name: "r1", PeerASN: 2, Address: routerV4}, wantErr: `invalid BGP peer "r1": myASN must not be 0`},
		{name: "no peer ASN", peer: Peer{Name: "r1", MyASN: 1, Address: routerV4}, wantErr: `invalid BGP peer "r1": peerASN must not be 0`},
		{name: "no address", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2}, wantErr: `invalid BGP peer "r1": peer address is missing`},
		{
			name:    "source of the other family",
			peer:    Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, SourceAddress: netip.MustParseAddr("2001:db8:ffff::11")},
			wantErr: `invalid BGP peer "r1": source address 2001:db8:ffff::11 and peer address 198.51.100.1 are of different families`,
		},
		{
			name:    "IPv6 router ID",
			peer:    Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, RouterID: netip.MustParseAddr("2001:db8::1")},
			wantErr: `invalid BGP peer "r1": router ID 2001:db8::1 is not an IPv4 address`,
		},
		{name: "hold time below 3s", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, HoldTime: 2 * time.Second}, wantErr: `invalid BGP peer "r1": hold time 2s is below 3s`},
		{name: "hold time with a fraction", peer: Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, HoldTime: 4500 * time.Millisecond}, wantErr: `invalid BGP peer "r1": hold time 4.5s is not a whole number of seconds`},
		{
			name:    "keepalive not below hold time",
			peer:    Peer{Name: "r1", MyASN: 1, PeerASN: 2, Address: routerV4, HoldTime: 9 * time.Second, KeepaliveTime: 9 * time.Second},
			wantErr: `invalid BGP peer "r1": keepalive time 9s is not below hold time 9s`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalizePeer(tt.peer, nodeID)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrInvalidPeer) {
					t.Fatalf("error = %v, want %q wrapping ErrInvalidPeer", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizePeersRefusesRepeatsAndKeepsTheRest(t *testing.T) {
	peers := []Peer{
		{Name: "b", MyASN: 1, PeerASN: 2, Address: routerV4},
		{Name: "a", MyASN: 1, PeerASN: 2, Address: routerV6},
		{Name: "c", MyASN: 1, PeerASN: 2, Address: routerV4}, // same address as b
		{Name: "d", MyASN: 1, PeerASN: 2, Address: netip.MustParseAddr("198.51.100.2")},
		{Name: "d", MyASN: 1, PeerASN: 2, Address: netip.MustParseAddr("198.51.100.3")},
		{Name: "e", PeerASN: 2, Address: netip.MustParseAddr("198.51.100.4")},
	}
	valid, rejected, err := normalizePeers(peers, nodeID)
	if !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("error = %v, want ErrInvalidPeer", err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, slices.Sorted(maps.Keys(valid))); diff != "" {
		t.Errorf("valid peers (-want +got):\n%s", diff)
	}
	wantRejected := map[string]string{
		"c": `invalid BGP peer "c": address 198.51.100.1 is already used by peer "b"`,
		"d": `invalid BGP peer "d": name given 2 times`,
		"e": `invalid BGP peer "e": myASN must not be 0`,
	}
	if diff := cmp.Diff(wantRejected, rejected); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
}

func TestDiffPeers(t *testing.T) {
	base := map[string]peerConfig{
		"a": {MyASN: 1, PeerASN: 2, Address: routerV4, Port: 179, RouterID: nodeID, HoldTime: 90 * time.Second},
		"b": {MyASN: 2, PeerASN: 2, Address: routerV6, Port: 179, RouterID: nodeID},
	}
	with := func(name string, f func(*peerConfig)) map[string]peerConfig {
		m := map[string]peerConfig{}
		for k, v := range base {
			m[k] = v
		}
		c := m[name]
		f(&c)
		m[name] = c
		return m
	}
	tests := []struct {
		name   string
		wanted map[string]peerConfig
		want   peerPlan
	}{
		{name: "unchanged peers are not reset", wanted: base, want: peerPlan{}},
		{name: "changed hold time resets only that peer", wanted: with("a", func(c *peerConfig) { c.HoldTime = 30 * time.Second }), want: peerPlan{Remove: []string{"a"}, Add: []string{"a"}}},
		{name: "changed password resets only that peer", wanted: with("b", func(c *peerConfig) { c.Password = "new" }), want: peerPlan{Remove: []string{"b"}, Add: []string{"b"}}},
		{name: "changed router ID moves the peer", wanted: with("b", func(c *peerConfig) { c.RouterID = netip.MustParseAddr("192.0.2.1") }), want: peerPlan{Remove: []string{"b"}, Add: []string{"b"}}},
		{name: "new peer is added", wanted: with("c", func(c *peerConfig) { *c = base["a"]; c.Address = netip.MustParseAddr("198.51.100.2") }), want: peerPlan{Add: []string{"c"}}},
		{name: "missing peer is removed", wanted: map[string]peerConfig{"a": base["a"]}, want: peerPlan{Remove: []string{"b"}}},
		{name: "no peers at all", wanted: nil, want: peerPlan{Remove: []string{"a", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, diffPeers(base, tt.wanted)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIPeer(t *testing.T) {
	both := func(gr bool) []*api.AfiSafi {
		var afs []*api.AfiSafi
		for _, f := range []*api.Family{familyIPv4, familyIPv6} {
			af := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true}}
			if gr {
				af.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
			}
			afs = append(afs, af)
		}
		return afs
	}
	tests := []struct {
		name string
		c    peerConfig
		want *api.Peer
	}{
		{
			name: "plain eBGP",
			c:    peerConfig{MyASN: 64513, PeerASN: 64512, Address: routerV4, Port: 179, RouterID: nodeID},
			want: &api.Peer{
				Conf:      &api.PeerConf{NeighborAddress: "198.51.100.1", PeerAsn: 64512, LocalAsn: 64513, Description: "r1"},
				Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 5}},
				Transport: &api.Transport{RemotePort: 179},
				AfiSafis:  both(false),
			},
		},
		{
			name: "every option",
			c: peerConfig{MyASN: 64512, PeerASN: 64512, Address: routerV6, Port: 1179, SourceAddress: netip.MustParseAddr("2001:db8:ffff::11"), RouterID: nodeID,
				HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second, EBGPMultiHop: true, GracefulRestart: true, Password: "pw"},
			want: &api.Peer{
				Conf:            &api.PeerConf{NeighborAddress: "2001:db8:ffff::1", PeerAsn: 64512, LocalAsn: 64512, AuthPassword: "pw", Description: "r1"},
				Timers:          &api.Timers{Config: &api.TimersConfig{ConnectRetry: 5, HoldTime: 9, KeepaliveInterval: 3}},
				Transport:       &api.Transport{RemotePort: 1179, LocalAddress: "2001:db8:ffff::11"},
				EbgpMultihop:    &api.EbgpMultihop{Enabled: true, MultihopTtl: 255},
				GracefulRestart: &api.GracefulRestart{Enabled: true, RestartTime: 120},
				AfiSafis:        both(true),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, apiPeer("r1", tt.c), protocmp.Transform()); diff != "" {
				t.Errorf("GoBGP peer (-want +got):\n%s", diff)
			}
		})
	}
}

package bgp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// stateReason stands in for GoBGP's unexported fsmStateReason, which the
// "state changed" line carries and which prints itself.
type stateReason string

func (r stateReason) String() string { return string(r) }

func TestDescribeFailure(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name     string
		msg      string
		fields   log.Fields
		password bool
		want     string
		wantOK   bool
	}{
		{
			name: "dial timeout with a password: probably the password", msg: "failed to connect", fields: log.Fields{"Error": timeout}, password: true, wantOK: true,
			want: "TCP connection timed out: the TCP MD5 password may be wrong (authentication failure?), or the peer is unreachable",
		},
		{
			name: "dial timeout without a password", msg: "failed to connect", fields: log.Fields{"Error": timeout}, wantOK: true,
			want: "TCP connection timed out: the peer is unreachable, or it expects a TCP MD5 password",
		},
		{
			name: "connection refused", msg: "failed to connect", fields: log.Fields{"Error": refused}, wantOK: true,
			want: "TCP connection refused: nothing listens on the peer's BGP port",
		},
		{
			name: "other dial error", msg: "failed to connect", fields: log.Fields{"Error": errors.New("no route to host")}, wantOK: true,
			want: "cannot connect: no route to host",
		},
		{
			name: "OPEN rejected by the peer", msg: "received notification", wantOK: true,
			fields: log.Fields{"Code": uint8(bgp.BGP_ERROR_OPEN_MESSAGE_ERROR), "Subcode": uint8(bgp.BGP_ERROR_SUB_BAD_PEER_AS)},
			want:   "received notification: " + bgp.NewNotificationErrorCode(bgp.BGP_ERROR_OPEN_MESSAGE_ERROR, bgp.BGP_ERROR_SUB_BAD_PEER_AS).String(),
		},
		{
			name: "administrative shutdown with a reason", msg: "received notification", wantOK: true,
			fields: log.Fields{"Code": uint8(bgp.BGP_ERROR_CEASE), "Subcode": uint8(bgp.BGP_ERROR_SUB_ADMINISTRATIVE_SHUTDOWN), "Communicated-Reason": "maintenance"},
			want:   "received notification: " + bgp.NewNotificationErrorCode(bgp.BGP_ERROR_CEASE, bgp.BGP_ERROR_SUB_ADMINISTRATIVE_SHUTDOWN).String() + ": maintenance",
		},
		{
			name: "peer down", msg: "Peer Down", fields: log.Fields{"Reason": "hold-timer-expired"}, wantOK: true,
			want: "session went down: hold-timer-expired",
		},
		{
			name: "connection closed during the OPEN exchange", msg: "state changed", wantOK: true,
			fields: log.Fields{"old": "BGP_FSM_OPENSENT", "new": "BGP_FSM_IDLE", "reason": stateReason("read-failed")},
			want:   "session reset in state BGP_FSM_OPENSENT: read-failed",
		},
		{
			name: "an ordinary state change is no failure", msg: "state changed",
			fields: log.Fields{"old": "BGP_FSM_ACTIVE", "new": "BGP_FSM_OPENSENT", "reason": stateReason("new-connection")},
		},
		{name: "a line about something else", msg: "sent update", fields: log.Fields{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := describeFailure(tt.msg, tt.fields, tt.password)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("describeFailure = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestSessionTable(t *testing.T) {
	table := newSessionTable()
	other := netip.MustParseAddr("192.0.2.1")
	table.add("r1", peerConfig{Address: routerV4, RouterID: nodeID, Password: "pw"})
	table.add("r2", peerConfig{Address: routerV6, RouterID: other})
	table.setRejected(map[string]string{"bad": "invalid BGP peer \"bad\": myASN must not be 0"})
	if table.allUp.Load() {
		t.Error("allUp with sessions in Idle")
	}

	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	table.observeLog(nodeID, "failed to connect", log.Fields{"Key": "198.51.100.1", "Error": timeout})
	// Same neighbour address on another server: not r1.
	table.observeLog(other, "failed to connect", log.Fields{"Key": "198.51.100.1", "Error": timeout})
	table.setState(nodeID, "198.51.100.1", StateActive)
	table.setState(other, "2001:db8:ffff::1", StateEstablished)
	want := map[string]SessionState{
		"r1":  {State: StateActive, Message: "TCP connection timed out: the TCP MD5 password may be wrong (authentication failure?), or the peer is unreachable"},
		"r2":  {State: StateEstablished},
		"bad": {State: StateIdle, Message: "invalid BGP peer \"bad\": myASN must not be 0"},
	}
	if diff := cmp.Diff(want, table.snapshot()); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	if got := table.nameOf(other, "2001:db8:ffff::1"); got != "r2" {
		t.Errorf("nameOf = %q, want r2", got)
	}

	table.setState(nodeID, "198.51.100.1", StateEstablished)
	if !table.allUp.Load() {
		t.Error("not allUp with every session established")
	}
	table.setState(nodeID, "198.51.100.1", StateIdle)
	if got := table.snapshot()["r1"]; got != (SessionState{State: StateIdle}) {
		t.Errorf("after a new session dropped: %+v, want Idle with the old failure forgotten", got)
	}
	table.remove("r1")
	if _, ok := table.snapshot()["r1"]; ok {
		t.Error("removed peer still reported")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "no router ID", opts: Options{}, wantErr: "router ID invalid IP is not an IPv4 address"},
		{name: "IPv6 router ID", opts: Options{RouterID: routerV6}, wantErr: "router ID 2001:db8:ffff::1 is not an IPv4 address"},
		{name: "IPv6 next hop for IPv4", opts: Options{RouterID: nodeID, NextHopV4: routerV6}, wantErr: "IPv4 next hop 2001:db8:ffff::1 is not an IPv4 address"},
		{name: "IPv4 next hop for IPv6", opts: Options{RouterID: nodeID, NextHopV6: routerV4}, wantErr: "IPv6 next hop 198.51.100.1 is not an IPv6 address"},
		{name: "bad listen port", opts: Options{RouterID: nodeID, ListenPort: -2}, wantErr: "listen port -2 is not -1 or a TCP port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("New error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A Speaker that does not listen opens no socket until it has peers, so its
// life cycle and its handling of bad input run here without a network.
func TestSpeakerWithoutPeers(t *testing.T) {
	ctx := context.Background()
	s, err := New(Options{RouterID: nodeID, ListenPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoutes(ctx, nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("SetRoutes before Start = %v, want ErrNotRunning", err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	err = s.SetRoutes(ctx, []Route{
		{Prefix: netip.MustParsePrefix("203.0.113.10/32")},
		{Prefix: netip.MustParsePrefix("203.0.113.11/32"), Communities: []string{"bad"}},
	})
	if !errors.Is(err, ErrInvalidRoute) {
		t.Errorf("SetRoutes with a bad community = %v, want ErrInvalidRoute", err)
	}
	if got := fmt.Sprint(keys(s.routes)); got != "[203.0.113.10/32]" {
		t.Errorf("announced routes = %s, want the valid one only", got)
	}
	err = s.SetPeers(ctx, []Peer{{Name: "bad", PeerASN: 64512, Address: routerV4}})
	if !errors.Is(err, ErrInvalidPeer) {
		t.Errorf("SetPeers with a bad peer = %v, want ErrInvalidPeer", err)
	}
	want := map[string]SessionState{"bad": {State: StateIdle, Message: `invalid BGP peer "bad": myASN must not be 0`}}
	if diff := cmp.Diff(want, s.Sessions()); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	if err := s.SetPeers(ctx, nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("SetPeers after Stop = %v, want ErrNotRunning", err)
	}
}

func keys[K comparable, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}

package bgp

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// SessionState is the state of the session with one peer.
type SessionState struct {
	// State is the BGP finite-state-machine state (RFC 4271 8.2.2): Idle,
	// Connect, Active, OpenSent, OpenConfirm or Established.
	State string
	// Message says why the session is not established, when that is known:
	// the configuration error, or the last failure GoBGP reported.
	Message string
}

// The session states, as SessionState.State spells them.
const (
	StateIdle        = "Idle"
	StateConnect     = "Connect"
	StateActive      = "Active"
	StateOpenSent    = "OpenSent"
	StateOpenConfirm = "OpenConfirm"
	StateEstablished = "Established"
)

// stateName spells a GoBGP session state.
func stateName(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_CONNECT:
		return StateConnect
	case api.PeerState_ACTIVE:
		return StateActive
	case api.PeerState_OPENSENT:
		return StateOpenSent
	case api.PeerState_OPENCONFIRM:
		return StateOpenConfirm
	case api.PeerState_ESTABLISHED:
		return StateEstablished
	}
	return StateIdle
}

// sessionTable holds the state of every peer by name. GoBGP's peer-state
// events and log lines update it from their own goroutines.
type sessionTable struct {
	mu       sync.Mutex
	peers    map[string]*session
	rejected map[string]string // peers SetPeers refused, with the reason
	// allUp is true when every configured session is established. The GoBGP
	// logger asks for debug lines (which carry dial errors) only otherwise.
	allUp atomic.Bool
}

type session struct {
	routerID netip.Addr // which GoBGP server
	address  netip.Addr
	password bool
	// notASN, when not 0, is the router ASN the session must not have
	// (our own, under dynamicASN external).
	notASN  uint32
	state   string
	message string
	// cause, when set, is why we closed the session ourselves (BFD down,
	// wrong ASN); it outranks the failures GoBGP logs after it, which
	// only echo our own NOTIFICATION.
	cause string
}

func newSessionTable() *sessionTable {
	t := &sessionTable{peers: map[string]*session{}, rejected: map[string]string{}}
	t.allUp.Store(true)
	return t
}

func (t *sessionTable) add(name string, c peerConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &session{routerID: c.RouterID, address: c.Address, password: c.Password != "", state: StateIdle}
	if c.DynamicASN == DynamicExternal {
		s.notASN = c.MyASN
	}
	t.peers[name] = s
	t.refresh()
}

func (t *sessionTable) remove(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.peers, name)
	t.refresh()
}

func (t *sessionTable) setRejected(rejected map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rejected = rejected
}

// lookup finds the session of a neighbour of one GoBGP server. Callers hold mu.
func (t *sessionTable) lookup(routerID netip.Addr, address string) (string, *session) {
	addr, err := netip.ParseAddr(address)
	if err != nil {
		return "", nil
	}
	addr = addr.Unmap()
	for name, s := range t.peers {
		if s.routerID == routerID && s.address == addr {
			return name, s
		}
	}
	return "", nil
}

// nameOf returns the peer name of a neighbour, "" when unknown.
func (t *sessionTable) nameOf(routerID netip.Addr, address string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	name, _ := t.lookup(routerID, address)
	return name
}

// setState records the current state of a neighbour.
func (t *sessionTable) setState(routerID netip.Addr, address string, state string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, s := t.lookup(routerID, address); s != nil {
		s.state = state
		if state == StateEstablished {
			s.message, s.cause = "", ""
		}
		t.refresh()
	}
}

// setCause records why we closed a neighbour's session, until it is
// Established again.
func (t *sessionTable) setCause(routerID netip.Addr, address, cause string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, s := t.lookup(routerID, address); s != nil {
		s.cause = cause
	}
}

// addressOf returns the GoBGP server and neighbour address of a peer.
func (t *sessionTable) addressOf(name string) (netip.Addr, netip.Addr, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.peers[name]
	if !ok {
		return netip.Addr{}, netip.Addr{}, false
	}
	return s.routerID, s.address, true
}

// refusedASN says why a neighbour's session must close now that the
// router announced asn, or "" when asn is acceptable.
func (t *sessionTable) refusedASN(routerID netip.Addr, address string, asn uint32) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, s := t.lookup(routerID, address); s != nil && s.notASN != 0 && s.notASN == asn {
		return fmt.Sprintf("the router's ASN %d is myASN, but dynamicASN is external (eBGP): session closed until the BGPPeer or the router changes", asn)
	}
	return ""
}

// observeLog records the failure a GoBGP log line reports, if any.
func (t *sessionTable) observeLog(routerID netip.Addr, msg string, fields log.Fields) {
	if !peerLogMessages[msg] {
		return
	}
	address, _ := fields["Key"].(string)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, s := t.lookup(routerID, address); s != nil {
		if m, ok := describeFailure(msg, fields, s.password); ok {
			s.message = m
		}
	}
}

func (t *sessionTable) refresh() {
	up := true
	for _, s := range t.peers {
		up = up && s.state == StateEstablished
	}
	t.allUp.Store(up)
}

func (t *sessionTable) snapshot() map[string]SessionState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]SessionState, len(t.peers)+len(t.rejected))
	for name, reason := range t.rejected {
		out[name] = SessionState{State: StateIdle, Message: reason}
	}
	for name, s := range t.peers {
		st := SessionState{State: s.state}
		if s.state != StateEstablished {
			st.Message = cmp.Or(s.cause, s.message)
		}
		out[name] = st
	}
	return out
}

// peerLogMessages are the GoBGP log lines (pkg/server/fsm.go) that tell why
// a session failed.
var peerLogMessages = map[string]bool{
	"failed to connect":     true,
	"Peer Down":             true,
	"received notification": true,
	"sent notification":     true,
	"hold timer expired":    true,
	"state changed":         true,
}

// describeFailure turns a GoBGP log line about a neighbour into a message
// for people, or reports false when the line is no failure.
func describeFailure(msg string, fields log.Fields, password bool) (string, bool) {
	switch msg {
	case "failed to connect":
		err, _ := fields["Error"].(error)
		return describeDialError(err, password), err != nil
	case "Peer Down":
		return fmt.Sprintf("session went down: %v", fields["Reason"]), true
	case "received notification", "sent notification":
		return describeNotification(msg, fields), true
	case "hold timer expired":
		return "hold timer expired: no keepalive from the peer in time", true
	case "state changed":
		// Failures during the OPEN exchange are only visible here.
		reason := fmt.Sprint(fields["reason"])
		for _, r := range []string{"read-failed", "write-failed", "invalid-msg", "notification-"} {
			if strings.HasPrefix(reason, r) {
				return fmt.Sprintf("session reset in state %v: %s", fields["old"], reason), true
			}
		}
	}
	return "", false
}

func describeDialError(err error, password bool) string {
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		// A router drops TCP segments whose MD5 signature is wrong or
		// missing (RFC 2385), so a bad password looks like silence.
		if password {
			return "TCP connection timed out: the TCP MD5 password may be wrong (authentication failure?), or the peer is unreachable"
		}
		return "TCP connection timed out: the peer is unreachable, or it expects a TCP MD5 password"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "TCP connection refused: nothing listens on the peer's BGP port"
	}
	return fmt.Sprintf("cannot connect: %v", err)
}

func describeNotification(msg string, fields log.Fields) string {
	if e, ok := fields["Data"].(*bgp.MessageError); ok {
		// A NOTIFICATION we sent because the peer's message was malformed.
		return fmt.Sprintf("%s: %s: %s", msg, bgp.NewNotificationErrorCode(e.TypeCode, e.SubTypeCode), e.Message)
	}
	code, _ := fields["Code"].(uint8)
	subcode, _ := fields["Subcode"].(uint8)
	s := fmt.Sprintf("%s: %s", msg, bgp.NewNotificationErrorCode(code, subcode))
	if c, ok := fields["Communicated-Reason"].(string); ok && c != "" {
		s += ": " + c
	}
	return s
}

package bfd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// These tests run two Managers over an in-memory network inside a synctest
// bubble: time is fake and jumps ahead whenever every goroutine waits, so
// seconds of protocol take no time and the timings seen are exact.

var (
	addrA = netip.MustParseAddr("198.51.100.1")
	addrB = netip.MustParseAddr("198.51.100.2")
	addrC = netip.MustParseAddr("198.51.100.3")
)

// fakeNet delivers datagrams between endpoints by address, on interface
// eth0 with TTL 255, unless cut.
type fakeNet struct {
	mu   sync.Mutex
	ends map[netip.Addr]*fakeEnd
	cut  bool
}

func newFakeNet() *fakeNet { return &fakeNet{ends: map[netip.Addr]*fakeEnd{}} }

func (n *fakeNet) setCut(cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = cut
}

func (n *fakeNet) endpoint(a netip.Addr) *fakeEnd {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := &fakeEnd{net: n, addr: a, in: make(chan Datagram, 64), closed: make(chan struct{})}
	n.ends[a] = e
	return e
}

func (n *fakeNet) deliver(to netip.Addr, d Datagram) {
	n.mu.Lock()
	e, cut := n.ends[to], n.cut
	n.mu.Unlock()
	if e == nil || cut {
		return
	}
	select {
	case e.in <- d:
	default:
	}
}

// fakeEnd is one host's Transport.
type fakeEnd struct {
	net       *fakeNet
	addr      netip.Addr
	in        chan Datagram
	closed    chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	sent      []ControlPacket // everything this host sent
}

func (e *fakeEnd) Recv() (Datagram, error) {
	select {
	case d := <-e.in:
		return d, nil
	case <-e.closed:
		return Datagram{}, net.ErrClosed
	}
}

func (e *fakeEnd) Dial(p Peer) (Sender, error) { return &fakeSender{from: e, to: p.Key().Addr}, nil }

func (e *fakeEnd) Close() error {
	e.closeOnce.Do(func() { close(e.closed) })
	return nil
}

func (e *fakeEnd) sentPackets() []ControlPacket {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.sent)
}

type fakeSender struct {
	from *fakeEnd
	to   netip.Addr
}

func (s *fakeSender) Send(b []byte) error {
	p, err := Decode(b)
	if err != nil {
		return err
	}
	s.from.mu.Lock()
	s.from.sent = append(s.from.sent, p)
	s.from.mu.Unlock()
	s.from.net.deliver(s.to, Datagram{Payload: b, Src: s.from.addr, Interface: "eth0", TTL: singleHopTTL})
	return nil
}

func (s *fakeSender) Close() error { return nil }

// host is a Manager on the fake network with what it reported.
type host struct {
	*Manager
	end     *fakeEnd
	reg     *prometheus.Registry
	mu      sync.Mutex
	changes []StateChange
}

func newHost(t *testing.T, n *fakeNet, a netip.Addr) *host {
	t.Helper()
	h := &host{end: n.endpoint(a), reg: prometheus.NewPedanticRegistry()}
	m, err := New(Options{Transport: h.end, Registerer: h.reg, OnStateChange: func(c StateChange) {
		h.mu.Lock()
		h.changes = append(h.changes, c)
		h.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.Manager = m
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = m.Close(ctx)
	})
	return h
}

func (h *host) reported() []StateChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.changes)
}

// only returns the one session of h.
func (h *host) only(t *testing.T) SessionStatus {
	t.Helper()
	s := h.Sessions()
	if len(s) != 1 {
		t.Fatalf("%d sessions, want 1: %+v", len(s), s)
	}
	return s[0]
}

func mustAdd(t *testing.T, h *host, p Peer) {
	t.Helper()
	if err := h.Add(p); err != nil {
		t.Fatal(err)
	}
}

// pair is two hosts with a session to each other, brought Up.
func pair(t *testing.T, profile Profile) (*fakeNet, *host, *host) {
	t.Helper()
	n := newFakeNet()
	a, b := newHost(t, n, addrA), newHost(t, n, addrB)
	mustAdd(t, a, Peer{Addr: addrB, Profile: profile})
	mustAdd(t, b, Peer{Addr: addrA, Profile: profile})
	time.Sleep(5 * time.Second)
	synctest.Wait()
	for _, h := range []*host{a, b} {
		if s := h.only(t); s.State != StateUp {
			t.Fatalf("session %s is %s after 5 s, want Up", s.Peer.Addr, s.State)
		}
	}
	return n, a, b
}

func TestSessionComesUpAndDetectsSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := pair(t, Profile{})
		s := a.only(t)
		if s.TransmitInterval != 300*ms || s.DetectionTime != 900*ms || s.RemoteDiscriminator != b.only(t).LocalDiscriminator {
			t.Fatalf("status %+v: want 300 ms, 900 ms and the peer's discriminator", s)
		}
		if up := s.Uptime(time.Now()); up <= 0 {
			t.Fatalf("uptime %v", up)
		}

		cut := time.Now()
		n.setCut(true)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s = a.only(t)
		if s.State != StateDown || s.LocalDiag != DiagControlDetectionTimeExpired {
			t.Fatalf("after the cut: %s, %q; want Down, Control Detection Time Expired", s.State, s.LocalDiag)
		}
		changes := a.reported()
		last := changes[len(changes)-1]
		if last.From != StateUp || last.To != StateDown || last.Diag != DiagControlDetectionTimeExpired {
			t.Fatalf("last change %+v, want Up to Down for detection time", last)
		}
		// RFC 5880 §6.8.4: Down exactly one detection time after the last
		// packet, which came less than one (jittered) interval before the cut.
		if took := last.At.Sub(cut); took > 900*ms || took <= 900*ms-300*ms {
			t.Fatalf("detected %v after the cut, want within (600ms, 900ms]", took)
		}
		if first := changes[0]; first.From != StateDown {
			t.Fatalf("first change %+v, want from Down", first)
		}

		n.setCut(false)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s := a.only(t); s.State != StateUp {
			t.Fatalf("after healing: %s, want Up", s.State)
		}
	})
}

func TestRemoveTellsThePeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, Profile{})
		if err := a.Remove(SessionKey{Addr: addrB}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := a.only(t); s.State != StateAdminDown || !s.Removing {
			t.Fatalf("removed session %s, removing %v; want AdminDown while it lingers", s.State, s.Removing)
		}
		s := b.only(t)
		if s.State != StateDown || s.LocalDiag != DiagNeighborSignaledSessionDown || s.RemoteDiag != DiagAdministrativelyDown {
			t.Fatalf("peer sees %s %q (remote %q), want Down, Neighbor Signaled Session Down, Administratively Down",
				s.State, s.LocalDiag, s.RemoteDiag)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := a.Sessions(); len(got) != 0 {
			t.Fatalf("sessions after the linger: %+v", got)
		}
		if n, err := testutil.GatherAndCount(a.reg, "ironlb_bfd_session_state"); err != nil || n != 0 {
			t.Fatalf("state series of a removed session: %d (%v)", n, err)
		}
		if s := b.only(t); s.State != StateDown {
			t.Fatalf("peer went %s, want it to stay Down", s.State)
		}
		if err := a.Remove(SessionKey{Addr: addrB}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second Remove: %v, want ErrNotFound", err)
		}
	})
}

func TestAddTakesBackALingeringSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, _ := pair(t, Profile{})
		discr := a.only(t).LocalDiscriminator
		if err := a.Remove(SessionKey{Addr: addrB}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * ms)
		mustAdd(t, a, Peer{Addr: addrB})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		s := a.only(t)
		if s.State != StateUp || s.Removing || s.LocalDiscriminator != discr {
			t.Fatalf("session %s, removing %v, discriminator %#x; want the same session Up again", s.State, s.Removing, s.LocalDiscriminator)
		}
	})
}

func TestNewProfileAppliesWithAPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, Profile{})
		mustAdd(t, a, Peer{Addr: addrB, Profile: Profile{TransmitInterval: 1500 * ms, DetectMultiplier: 4}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		s := a.only(t)
		if s.State != StateUp || s.TransmitInterval != 1500*ms || s.Peer.Profile.DetectMultiplier != 4 {
			t.Fatalf("status %+v, want Up at 1.5 s", s)
		}
		if got := b.only(t).DetectionTime; got != 6*time.Second {
			t.Fatalf("peer's detection time %v, want 4 × 1.5 s", got)
		}
		var polled bool
		for _, p := range a.end.sentPackets() {
			polled = polled || (p.Poll && p.DesiredMinTxInterval == 1500000)
		}
		if !polled {
			t.Fatal("no Poll announced the new interval")
		}
	})
}

func TestNewLocalAddressReplacesTheSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, _ := pair(t, Profile{})
		old := a.only(t).LocalDiscriminator
		mustAdd(t, a, Peer{Addr: addrB, LocalAddr: addrA})
		synctest.Wait()
		if s := a.only(t); s.LocalDiscriminator == old || s.Peer.LocalAddr != addrA {
			t.Fatalf("session %+v, want a new one from %s", s, addrA)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s := a.only(t); s.State != StateUp {
			t.Fatalf("new session %s, want Up", s.State)
		}
	})
}

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, _ := pair(t, Profile{})
		l := labels(SessionKey{Addr: addrB})
		if got := testutil.ToFloat64(a.metrics.state.WithLabelValues(l...)); got != float64(StateUp) {
			t.Errorf("ironlb_bfd_session_state %v, want 3", got)
		}
		if got := testutil.ToFloat64(a.metrics.transitions.WithLabelValues(append(l, "Up")...)); got != 1 {
			t.Errorf("transitions to Up %v, want 1", got)
		}
		sent := testutil.ToFloat64(a.metrics.sent.WithLabelValues(l...))
		received := testutil.ToFloat64(a.metrics.received.WithLabelValues(l...))
		if sent < 5 || received < 5 {
			t.Errorf("sent %v received %v, want several of each", sent, received)
		}
		if problems, err := testutil.GatherAndLint(a.reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %+v", err, problems)
		}
	})
}

// TestDroppedPackets feeds A datagrams that RFC 5880 §6.8.6 and RFC 5881
// §5 say to discard, and checks each is counted under its reason and changes
// nothing.
func TestDroppedPackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, Profile{})
		ours, theirs := a.only(t).LocalDiscriminator, b.only(t).LocalDiscriminator
		valid := ControlPacket{
			State: StateDown, DetectMult: 3, MyDiscriminator: theirs, YourDiscriminator: ours,
			DesiredMinTxInterval: 300000, RequiredMinRxInterval: 300000,
		}
		enc := func(p ControlPacket) []byte { return mustEncode(t, p) }
		withAuth := valid
		withAuth.Auth = &AuthSection{Type: 1, Data: []byte{1, 'k'}}
		unknown := valid
		unknown.YourDiscriminator = ours + 1
		fresh := valid
		fresh.YourDiscriminator = 0
		tests := []struct {
			name   string
			d      Datagram
			reason string
		}{
			{"TTL 254", Datagram{Payload: enc(valid), Src: addrB, TTL: 254}, ReasonTTL},
			{"TTL unknown", Datagram{Payload: enc(valid), Src: addrB, TTL: -1}, ReasonTTL},
			{"garbage", Datagram{Payload: []byte("not bfd"), Src: addrB, TTL: 255}, ReasonShort},
			{"version 0", Datagram{Payload: append([]byte{0x00}, enc(valid)[1:]...), Src: addrB, TTL: 255}, ReasonVersion},
			{"our discriminator from another address", Datagram{Payload: enc(valid), Src: addrC, TTL: 255}, ReasonNoSession},
			{"unknown discriminator", Datagram{Payload: enc(unknown), Src: addrB, TTL: 255}, ReasonNoSession},
			{"new peer without a session", Datagram{Payload: enc(fresh), Src: addrC, TTL: 255}, ReasonNoSession},
			{"authentication", Datagram{Payload: enc(withAuth), Src: addrB, TTL: 255}, ReasonAuthentication},
		}
		for _, tc := range tests {
			before := testutil.ToFloat64(a.metrics.dropped.WithLabelValues(tc.reason))
			a.end.in <- tc.d
			synctest.Wait()
			if got := testutil.ToFloat64(a.metrics.dropped.WithLabelValues(tc.reason)); got != before+1 {
				t.Errorf("%s: dropped{reason=%q} went from %v to %v, want +1", tc.name, tc.reason, before, got)
			}
			if s := a.only(t); s.State != StateUp {
				t.Fatalf("%s: session went %s", tc.name, s.State)
			}
		}
	})
}

func TestInterfaceBoundSessionIgnoresOtherInterfaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet()
		a, b := newHost(t, n, addrA), newHost(t, n, addrB)
		mustAdd(t, a, Peer{Addr: addrB, Interface: "eth1"}) // the fake network delivers on eth0
		mustAdd(t, b, Peer{Addr: addrA})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s := a.only(t); s.State != StateDown || s.RemoteDiscriminator != 0 {
			t.Fatalf("session on eth1 is %s with remote %#x from packets on eth0", s.State, s.RemoteDiscriminator)
		}
		if got := testutil.ToFloat64(a.metrics.dropped.WithLabelValues(ReasonNoSession)); got == 0 {
			t.Fatal("packets on the wrong interface were not counted as dropped")
		}
		// B has one session for A, so A may have only one for B.
		if err := a.Remove(SessionKey{Addr: addrB, Interface: "eth1"}); err != nil {
			t.Fatal(err)
		}
		mustAdd(t, a, Peer{Addr: addrB, Interface: "eth0"})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s := a.only(t); s.Peer.Interface != "eth0" || s.State != StateUp {
			t.Fatalf("session %+v, want the one on eth0 Up", s)
		}
	})
}

func TestPassivePeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet()
		a, b := newHost(t, n, addrA), newHost(t, n, addrB)
		mustAdd(t, a, Peer{Addr: addrB, Profile: Profile{PassiveMode: true}})
		mustAdd(t, b, Peer{Addr: addrA, Profile: Profile{PassiveMode: true}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if sent := len(a.end.sentPackets()) + len(b.end.sentPackets()); sent != 0 {
			t.Fatalf("two passive peers sent %d packets", sent)
		}
		mustAdd(t, b, Peer{Addr: addrA})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s := a.only(t); s.State != StateUp {
			t.Fatalf("passive session %s once the peer spoke, want Up", s.State)
		}
	})
}

// TestSlowCallbackDoesNotStallSessions: the callback blocks until released;
// sessions come Up regardless and every change arrives afterwards, in order.
func TestSlowCallbackDoesNotStallSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newFakeNet()
		release := make(chan struct{})
		var mu sync.Mutex
		var got []StateChange
		a, err := New(Options{Transport: n.endpoint(addrA), OnStateChange: func(c StateChange) {
			<-release
			mu.Lock()
			got = append(got, c)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		b := newHost(t, n, addrB)
		mustAdd(t, b, Peer{Addr: addrA})
		if err := a.Add(Peer{Addr: addrB}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s := a.Sessions()[0]; s.State != StateUp {
			t.Fatalf("session %s while the callback blocks, want Up", s.State)
		}
		close(release)
		if err := a.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		var path []State
		for _, c := range got {
			path = append(path, c.To)
		}
		if len(path) < 2 || path[len(path)-2] != StateUp || path[len(path)-1] != StateAdminDown {
			t.Fatalf("states reported %v, want ... Up, AdminDown", path)
		}
	})
}

func TestCloseCutShortByContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, Profile{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*ms)
		defer cancel()
		start := time.Now()
		if err := a.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want the context's error", err)
		}
		if took := time.Since(start); took != 100*ms {
			t.Fatalf("Close took %v, want the context's 100ms", took)
		}
		if err := a.Add(Peer{Addr: addrB}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Add after Close = %v, want ErrClosed", err)
		}
		// The first AdminDown went out at once.
		if s := b.only(t); s.State != StateDown || s.RemoteDiag != DiagAdministrativelyDown {
			t.Fatalf("peer %s, remote diag %q; want told AdminDown", s.State, s.RemoteDiag)
		}
	})
}

func TestAddValidates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newHost(t, newFakeNet(), addrA)
		linkLocal := netip.MustParseAddr("fe80::1")
		for _, tc := range []struct {
			name string
			p    Peer
			is   error
		}{
			{"no address", Peer{}, nil},
			{"link-local without interface", Peer{Addr: linkLocal}, nil},
			{"families differ", Peer{Addr: addrB, LocalAddr: netip.MustParseAddr("2001:db8::1")}, nil},
			{"echo mode", Peer{Addr: addrB, Profile: Profile{EchoMode: true}}, ErrInvalidProfile},
			{"multihop TTL", Peer{Addr: addrB, Profile: Profile{MinimumTTL: 254}}, ErrInvalidProfile},
			{"interval too short", Peer{Addr: addrB, Profile: Profile{ReceiveInterval: ms}}, ErrInvalidProfile},
			{"interval too long", Peer{Addr: addrB, Profile: Profile{TransmitInterval: time.Hour}}, ErrInvalidProfile},
		} {
			err := a.Add(tc.p)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("%s: Add = %v, want an error (%v)", tc.name, err, tc.is)
			}
		}
		if err := a.Add(Peer{Addr: netip.MustParseAddr("fe80::2%eth0")}); err != nil {
			t.Fatalf("link-local with zone: %v", err)
		}
		if k := a.only(t).Peer.Key(); k.Interface != "eth0" || k.Addr.Zone() != "" {
			t.Fatalf("key %+v, want the zone as interface", k)
		}
	})
}

package bfd

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The machine is driven by hand: times are values, jitter is a constant.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	ourDiscr  = 0x1111
	peerDiscr = 0x2222
	ms        = time.Millisecond
)

func noJitter() float64 { return 0 }

func newTestMachine(p Profile) *machine { return newMachine(ourDiscr, p, t0, noJitter) }

// fromPeer is a packet of the peer in state s with 300 ms timers, multiplier
// 3, knowing our discriminator; edits adjust it.
func fromPeer(s State, edits ...func(*ControlPacket)) ControlPacket {
	p := ControlPacket{
		State:                 s,
		DetectMult:            3,
		MyDiscriminator:       peerDiscr,
		YourDiscriminator:     ourDiscr,
		DesiredMinTxInterval:  300000,
		RequiredMinRxInterval: 300000,
	}
	for _, e := range edits {
		e(&p)
	}
	return p
}

func poll(p *ControlPacket)  { p.Poll = true }
func final(p *ControlPacket) { p.Final = true }

func recv(t *testing.T, m *machine, now time.Time, p ControlPacket) effects {
	t.Helper()
	e, dropped := m.receive(now, p)
	if dropped != "" {
		t.Fatalf("packet dropped: %s", dropped)
	}
	return e
}

// machineIn returns a machine brought into state s at t0 by the peer's
// packets (or by adminDown), with the effects of getting there discarded.
func machineIn(t *testing.T, s State, p Profile) *machine {
	t.Helper()
	m := newTestMachine(p)
	switch s {
	case StateInit:
		recv(t, m, t0, fromPeer(StateDown))
	case StateUp:
		recv(t, m, t0, fromPeer(StateDown))
		recv(t, m, t0, fromPeer(StateUp))
	case StateAdminDown:
		m.adminDown(t0)
	}
	if m.state != s {
		t.Fatalf("could not bring the machine to %s: it is %s", s, m.state)
	}
	return m
}

// upAndSettled is Up with the Poll sequence of coming Up answered.
func upAndSettled(t *testing.T, p Profile) *machine {
	t.Helper()
	m := machineIn(t, StateUp, p)
	recv(t, m, t0, fromPeer(StateUp, final))
	if m.polling {
		t.Fatal("Final did not end the Poll sequence")
	}
	return m
}

// TestReceptionStateTable is the state table of RFC 5880 §6.8.6.
func TestReceptionStateTable(t *testing.T) {
	tests := []struct {
		name string
		from State
		peer State
		want State
		diag Diag
	}{
		{"Down hears Down: Init", StateDown, StateDown, StateInit, DiagNone},
		{"Down hears Init: Up", StateDown, StateInit, StateUp, DiagNone},
		{"Down hears Up: stays Down", StateDown, StateUp, StateDown, DiagNone},
		{"Down hears AdminDown: stays Down", StateDown, StateAdminDown, StateDown, DiagNone},
		{"Init hears Init: Up", StateInit, StateInit, StateUp, DiagNone},
		{"Init hears Up: Up", StateInit, StateUp, StateUp, DiagNone},
		{"Init hears Down: stays Init", StateInit, StateDown, StateInit, DiagNone},
		{"Init hears AdminDown: Down, neighbor signaled", StateInit, StateAdminDown, StateDown, DiagNeighborSignaledSessionDown},
		{"Up hears Down: Down, neighbor signaled", StateUp, StateDown, StateDown, DiagNeighborSignaledSessionDown},
		{"Up hears AdminDown: Down, neighbor signaled", StateUp, StateAdminDown, StateDown, DiagNeighborSignaledSessionDown},
		{"Up hears Init: stays Up", StateUp, StateInit, StateUp, DiagNone},
		{"Up hears Up: stays Up", StateUp, StateUp, StateUp, DiagNone},
		{"AdminDown hears Down: discarded", StateAdminDown, StateDown, StateAdminDown, DiagAdministrativelyDown},
		{"AdminDown hears Init: discarded", StateAdminDown, StateInit, StateAdminDown, DiagAdministrativelyDown},
		{"AdminDown hears Up: discarded", StateAdminDown, StateUp, StateAdminDown, DiagAdministrativelyDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := machineIn(t, tc.from, Profile{})
			e := recv(t, m, t0.Add(10*ms), fromPeer(tc.peer))
			if m.state != tc.want || m.localDiag != tc.diag {
				t.Fatalf("state %s diag %q, want %s diag %q", m.state, m.localDiag, tc.want, tc.diag)
			}
			var want []transition
			if tc.from != tc.want {
				want = []transition{{from: tc.from, to: tc.want, diag: tc.diag}}
			}
			if diff := cmp.Diff(want, e.changes, cmp.AllowUnexported(transition{})); diff != "" {
				t.Fatalf("changes (-want +got):\n%s", diff)
			}
			if m.remoteDiscr != peerDiscr || m.remoteState != tc.peer {
				t.Fatalf("remote discriminator %#x state %s, want %#x %s", m.remoteDiscr, m.remoteState, peerDiscr, tc.peer)
			}
		})
	}
}

func TestReceptionDropsAuthenticatedPackets(t *testing.T) {
	m := machineIn(t, StateDown, Profile{})
	p := fromPeer(StateDown)
	p.Auth = &AuthSection{Type: 1, Data: []byte{1, 'k'}}
	e, dropped := m.receive(t0, p)
	if dropped != ReasonAuthentication || m.state != StateDown || m.remoteDiscr != 0 || len(e.send) > 0 {
		t.Fatalf("dropped %q, state %s, remote discriminator %#x, sent %d: want the packet ignored",
			dropped, m.state, m.remoteDiscr, len(e.send))
	}
}

func TestFirstPacketAtOnceThenOneSecondWhileDown(t *testing.T) {
	m := newTestMachine(Profile{})
	if !m.next().Equal(t0) {
		t.Fatalf("first packet due at %v, want at start", m.next().Sub(t0))
	}
	e := m.tick(t0)
	want := []ControlPacket{{
		State: StateDown, DetectMult: 3, MyDiscriminator: ourDiscr,
		DesiredMinTxInterval: 1000000, RequiredMinRxInterval: 300000,
	}}
	if diff := cmp.Diff(want, e.send); diff != "" {
		t.Fatalf("first packet (-want +got):\n%s", diff)
	}
	if got := m.next().Sub(t0); got != time.Second {
		t.Fatalf("next packet after %v, want 1s: at least one second while not Up (§6.8.3)", got)
	}
}

func TestDesiredTransmitWhileNotUp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile time.Duration
		state   State
		want    time.Duration
	}{
		{"Down, fast profile: one second", 300 * ms, StateDown, time.Second},
		{"Init, fast profile: one second", 300 * ms, StateInit, time.Second},
		{"AdminDown, fast profile: one second", 300 * ms, StateAdminDown, time.Second},
		{"Down, slow profile: the profile", 2 * time.Second, StateDown, 2 * time.Second},
		{"Up: the profile", 300 * ms, StateUp, 300 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machineIn(t, tc.state, Profile{TransmitInterval: tc.profile})
			if got := fromMicros(m.packet(false).DesiredMinTxInterval); got != tc.want {
				t.Fatalf("Desired Min TX %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTimerNegotiation: we send at the larger of our desired transmit
// interval and the peer's receive interval (§6.8.2); the peer is down after
// its multiplier times the larger of its transmit interval and our receive
// interval (§6.8.4).
func TestTimerNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		ours                     Profile
		peerTx, peerRx           uint32 // µs
		peerMult                 uint8
		wantTx, wantDetect       time.Duration
		wantRemoteRx, wantRemote time.Duration
	}{
		{
			name: "equal timers", ours: Profile{},
			peerTx: 300000, peerRx: 300000, peerMult: 3,
			wantTx: 300 * ms, wantDetect: 900 * ms,
		},
		{
			name: "peer receives slower than we send", ours: Profile{TransmitInterval: 100 * ms},
			peerTx: 300000, peerRx: 500000, peerMult: 3,
			wantTx: 500 * ms, wantDetect: 900 * ms,
		},
		{
			name: "peer sends slower than we receive", ours: Profile{ReceiveInterval: 100 * ms},
			peerTx: 400000, peerRx: 100000, peerMult: 5,
			wantTx: 300 * ms, wantDetect: 2 * time.Second,
		},
		{
			name: "we receive slower than the peer sends", ours: Profile{ReceiveInterval: time.Second},
			peerTx: 50000, peerRx: 50000, peerMult: 2,
			wantTx: 300 * ms, wantDetect: 2 * time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := upAndSettled(t, tc.ours)
			recv(t, m, t0.Add(ms), fromPeer(StateUp, func(p *ControlPacket) {
				p.DesiredMinTxInterval, p.RequiredMinRxInterval, p.DetectMult = tc.peerTx, tc.peerRx, tc.peerMult
			}))
			if got := m.txInterval(); got != tc.wantTx {
				t.Errorf("transmit interval %v, want %v", got, tc.wantTx)
			}
			if got := m.detectionTime(); got != tc.wantDetect {
				t.Errorf("detection time %v, want %v", got, tc.wantDetect)
			}
		})
	}
}

func TestDetectionTimeExpiry(t *testing.T) {
	for _, from := range []State{StateInit, StateUp} {
		t.Run(from.String(), func(t *testing.T) {
			m := machineIn(t, from, Profile{})
			detect := m.detectionTime()
			if detect != 900*ms {
				t.Fatalf("detection time %v, want 900ms", detect)
			}
			if e := m.tick(t0.Add(detect - time.Nanosecond)); len(e.changes) != 0 {
				t.Fatalf("changed state before the detection time: %+v", e.changes)
			}
			if !m.next().After(t0.Add(detect)) && !m.next().Equal(t0.Add(detect)) {
				t.Fatalf("next wake-up %v is before the detection deadline", m.next().Sub(t0))
			}
			e := m.tick(t0.Add(detect))
			want := []transition{{from: from, to: StateDown, diag: DiagControlDetectionTimeExpired}}
			if diff := cmp.Diff(want, e.changes, cmp.AllowUnexported(transition{})); diff != "" {
				t.Fatalf("changes (-want +got):\n%s", diff)
			}
			// §6.8.1: the peer's discriminator is forgotten after a
			// detection time of silence.
			if p := m.packet(false); p.YourDiscriminator != 0 || p.State != StateDown ||
				p.Diag != DiagControlDetectionTimeExpired || p.DesiredMinTxInterval != 1000000 {
				t.Fatalf("packet after expiry %+v, want Down, diag 1, your discriminator 0, 1 s", p)
			}
			if e := m.tick(t0.Add(10 * detect)); len(e.changes) != 0 {
				t.Fatalf("expired again: %+v", e.changes)
			}
		})
	}
}

func TestDetectionForgetsPeerWhileDown(t *testing.T) {
	m := newTestMachine(Profile{})
	recv(t, m, t0, fromPeer(StateUp)) // Down ignores Up, but learns the discriminator
	if m.remoteDiscr != peerDiscr {
		t.Fatal("discriminator not learned")
	}
	if e := m.tick(t0.Add(900 * ms)); len(e.changes) != 0 || m.remoteDiscr != 0 {
		t.Fatalf("after silence: changes %+v, remote discriminator %#x; want none and 0", e.changes, m.remoteDiscr)
	}
}

func TestEveryPacketRestartsDetection(t *testing.T) {
	m := upAndSettled(t, Profile{})
	for i := 1; i <= 10; i++ {
		now := t0.Add(time.Duration(i) * 800 * ms)
		if e := m.tick(now); len(e.changes) != 0 {
			t.Fatalf("went %s at %v although a packet came every 800 ms", m.state, now.Sub(t0))
		}
		recv(t, m, now, fromPeer(StateUp))
	}
}

// TestPollSequenceOnComingUp: coming Up moves Desired Min TX from one second
// to the profile's, which a Poll sequence announces (§6.8.3); a decrease
// applies at once.
func TestPollSequenceOnComingUp(t *testing.T) {
	m := machineIn(t, StateUp, Profile{})
	e := m.tick(t0)
	if len(e.send) != 1 || !e.send[0].Poll || e.send[0].DesiredMinTxInterval != 300000 {
		t.Fatalf("first packet when Up: %+v, want P set and Desired Min TX 300 ms", e.send)
	}
	if m.txInterval() != 300*ms {
		t.Fatalf("transmit interval %v, want 300ms at once", m.txInterval())
	}
	e = m.tick(t0.Add(300 * ms))
	if len(e.send) != 1 || !e.send[0].Poll {
		t.Fatalf("P stopped before a Final: %+v", e.send)
	}
	recv(t, m, t0.Add(310*ms), fromPeer(StateUp, final))
	if e := m.tick(t0.Add(600 * ms)); len(e.send) != 1 || e.send[0].Poll {
		t.Fatalf("P still set after the Final: %+v", e.send)
	}
}

func TestPollIsAnsweredAtOnceWithFinal(t *testing.T) {
	// The peer's state in each case leaves ours as it is.
	for _, tc := range []struct{ ours, peer State }{
		{StateDown, StateUp}, {StateInit, StateDown}, {StateUp, StateUp},
	} {
		t.Run(tc.ours.String(), func(t *testing.T) {
			m := machineIn(t, tc.ours, Profile{})
			m.tick(t0)
			before := m.nextTx
			e := recv(t, m, t0.Add(ms), fromPeer(tc.peer, poll))
			if len(e.send) != 1 || !e.send[0].Final || e.send[0].Poll {
				t.Fatalf("sent %+v, want one packet with F and without P", e.send)
			}
			if e.send[0].State != m.state {
				t.Fatalf("Final carries state %s, want the state after reception %s", e.send[0].State, m.state)
			}
			if m.nextTx != before {
				t.Fatalf("the Final moved the periodic schedule from %v to %v", before.Sub(t0), m.nextTx.Sub(t0))
			}
		})
	}
}

// TestSlowerTransmitWaitsForFinal: while Up, a longer transmit interval may
// be used only once the peer has seen it (§6.8.3).
func TestSlowerTransmitWaitsForFinal(t *testing.T) {
	m := upAndSettled(t, Profile{})
	m.setProfile(t0.Add(ms), Profile{TransmitInterval: time.Second})
	p := m.packet(false)
	if !p.Poll || p.DesiredMinTxInterval != 1000000 {
		t.Fatalf("packet %+v, want P and the new Desired Min TX", p)
	}
	if m.txInterval() != 300*ms {
		t.Fatalf("transmit interval %v before the Final, want still 300ms", m.txInterval())
	}
	recv(t, m, t0.Add(2*ms), fromPeer(StateUp, final))
	if m.txInterval() != time.Second {
		t.Fatalf("transmit interval %v after the Final, want 1s", m.txInterval())
	}
}

// TestFasterReceiveWaitsForFinal: while Up, a shorter receive interval may
// shorten detection only once the peer has seen it (§6.8.3).
func TestFasterReceiveWaitsForFinal(t *testing.T) {
	m := upAndSettled(t, Profile{})
	fastPeer := func(p *ControlPacket) { p.DesiredMinTxInterval = 50000 }
	recv(t, m, t0.Add(ms), fromPeer(StateUp, fastPeer))
	if m.detectionTime() != 900*ms {
		t.Fatalf("detection time %v, want 900ms", m.detectionTime())
	}
	m.setProfile(t0.Add(2*ms), Profile{ReceiveInterval: 100 * ms})
	if !m.polling || m.packet(false).RequiredMinRxInterval != 100000 {
		t.Fatal("new receive interval not announced with a Poll")
	}
	if m.detectionTime() != 900*ms {
		t.Fatalf("detection time %v before the Final, want still 900ms", m.detectionTime())
	}
	recv(t, m, t0.Add(3*ms), fromPeer(StateUp, fastPeer, final))
	if m.detectionTime() != 300*ms {
		t.Fatalf("detection time %v after the Final, want 300ms", m.detectionTime())
	}
}

// TestChangeDuringPollStartsAnother: one Poll sequence at a time; a change
// made meanwhile gets its own once the first ends.
func TestChangeDuringPollStartsAnother(t *testing.T) {
	m := upAndSettled(t, Profile{})
	m.setProfile(t0.Add(ms), Profile{TransmitInterval: time.Second})
	m.setProfile(t0.Add(2*ms), Profile{TransmitInterval: 2 * time.Second})
	recv(t, m, t0.Add(3*ms), fromPeer(StateUp, final))
	if !m.polling || m.txInterval() != time.Second {
		t.Fatalf("after the first Final: polling %v, interval %v; want a new Poll and 1s", m.polling, m.txInterval())
	}
	recv(t, m, t0.Add(4*ms), fromPeer(StateUp, final))
	if m.polling || m.txInterval() != 2*time.Second {
		t.Fatalf("after the second Final: polling %v, interval %v; want done and 2s", m.polling, m.txInterval())
	}
}

func TestNewMultiplierNeedsNoPoll(t *testing.T) {
	m := upAndSettled(t, Profile{})
	m.setProfile(t0.Add(ms), Profile{DetectMultiplier: 5})
	if p := m.packet(false); p.Poll || p.DetectMult != 5 {
		t.Fatalf("packet %+v, want multiplier 5 without P (§6.8.12)", p)
	}
}

func TestPeriodicTransmission(t *testing.T) {
	tests := []struct {
		name      string
		profile   Profile
		peer      []func(*ControlPacket)
		wantSends bool
	}{
		{name: "active sends", wantSends: true},
		{
			name: "peer asks for no packets (Required Min RX 0)",
			peer: []func(*ControlPacket){func(p *ControlPacket) { p.RequiredMinRxInterval = 0 }},
		},
		{
			name: "peer in Demand mode while both are Up",
			peer: []func(*ControlPacket){func(p *ControlPacket) { p.Demand = true }},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := upAndSettled(t, tc.profile)
			recv(t, m, t0, fromPeer(StateUp, tc.peer...))
			sent := 0
			for now := t0; now.Before(t0.Add(2 * time.Second)); now = m.next() {
				sent += len(m.tick(now).send)
				recv(t, m, now, fromPeer(StateUp, tc.peer...)) // keep detection happy
			}
			if got := sent > 0; got != tc.wantSends {
				t.Fatalf("sent %d packets in 2 s, want sending %v", sent, tc.wantSends)
			}
		})
	}
}

func TestDemandModePeerStillGetsPolls(t *testing.T) {
	m := upAndSettled(t, Profile{})
	recv(t, m, t0, fromPeer(StateUp, func(p *ControlPacket) { p.Demand = true }))
	m.setProfile(t0, Profile{TransmitInterval: 200 * ms})
	if e := m.tick(m.next()); len(e.send) != 1 || !e.send[0].Poll {
		t.Fatalf("sent %+v, want a Poll although the peer is in Demand mode", e.send)
	}
}

func TestPassiveWaitsForThePeer(t *testing.T) {
	m := newTestMachine(Profile{PassiveMode: true})
	for now := t0; now.Before(t0.Add(3 * time.Second)); now = m.next() {
		if e := m.tick(now); len(e.send) != 0 {
			t.Fatalf("passive session sent %+v at %v before hearing the peer", e.send, now.Sub(t0))
		}
	}
	heard := t0.Add(3100 * ms)
	recv(t, m, heard, fromPeer(StateDown))
	if m.next().After(heard) {
		t.Fatalf("first packet due %v after hearing the peer, want at once", m.next().Sub(heard))
	}
	if e := m.tick(heard); len(e.send) != 1 || e.send[0].State != StateInit || e.send[0].YourDiscriminator != peerDiscr {
		t.Fatalf("sent %+v, want Init to the peer", e.send)
	}
}

func TestJitter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mult     uint8
		r        float64
		min, max time.Duration
	}{
		{"no reduction", 3, 0, 1000 * ms, 1000 * ms},
		{"half way", 3, 0.5, 875 * ms, 875 * ms},
		{"largest reduction stays above 75%", 3, 0.9999999, 750 * ms, 751 * ms},
		{"multiplier 1: at most 90%", 1, 0, 900 * ms, 900 * ms},
		{"multiplier 1: at least 75%", 1, 0.9999999, 750 * ms, 751 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(ourDiscr, Profile{DetectMultiplier: tc.mult}, t0, func() float64 { return tc.r })
			if got := m.jittered(time.Second); got < tc.min || got > tc.max {
				t.Fatalf("jittered(1s) = %v, want in [%v, %v]", got, tc.min, tc.max)
			}
		})
	}
}

func TestAdminDown(t *testing.T) {
	m := upAndSettled(t, Profile{})
	e := m.adminDown(t0.Add(ms))
	want := []transition{{from: StateUp, to: StateAdminDown, diag: DiagAdministrativelyDown}}
	if diff := cmp.Diff(want, e.changes, cmp.AllowUnexported(transition{})); diff != "" {
		t.Fatalf("changes (-want +got):\n%s", diff)
	}
	if len(e.send) != 1 || e.send[0].State != StateAdminDown || e.send[0].Diag != DiagAdministrativelyDown {
		t.Fatalf("sent %+v, want AdminDown with diag 7 at once", e.send)
	}
	if e := recv(t, m, t0.Add(2*ms), fromPeer(StateUp, poll)); len(e.send)+len(e.changes) != 0 {
		t.Fatalf("AdminDown reacted to a packet: %+v", e)
	}
	// No detection while AdminDown; periodic packets keep saying AdminDown.
	for now := t0.Add(2 * ms); now.Before(t0.Add(5 * time.Second)); now = m.next() {
		e := m.tick(now)
		if len(e.changes) != 0 {
			t.Fatalf("changed state while AdminDown: %+v", e.changes)
		}
		for _, p := range e.send {
			if p.State != StateAdminDown {
				t.Fatalf("sent %s while AdminDown", p.State)
			}
		}
	}
	e = m.adminUp(t0.Add(6 * time.Second))
	if m.state != StateDown || len(e.changes) != 1 {
		t.Fatalf("after adminUp: %s, changes %+v; want Down", m.state, e.changes)
	}
	recv(t, m, t0.Add(6*time.Second), fromPeer(StateDown))
	if m.state != StateInit {
		t.Fatalf("enabled session did not start over: %s", m.state)
	}
}

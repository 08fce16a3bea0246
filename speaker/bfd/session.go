package bfd

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// rxBacklog is how many packets may wait for a busy session before more are
// dropped: a peer sends a few per detection time, so a full queue means the
// session loop is stuck or someone floods us.
const rxBacklog = 16

// SessionStatus is what Manager.Sessions reports of one session.
type SessionStatus struct {
	// Peer is the session's peer with the profile in force.
	Peer                                    Peer
	State, RemoteState                      State
	LocalDiscriminator, RemoteDiscriminator uint32
	// LocalDiag is why our state last changed (DiagNone once Up);
	// RemoteDiag the diagnostic of the last packet from the peer.
	LocalDiag, RemoteDiag Diag
	// TransmitInterval is the negotiated interval between our packets,
	// before jitter: the larger of our desired transmit interval and the
	// peer's receive interval.
	TransmitInterval time.Duration
	// DetectionTime is how long the peer may stay silent before we declare
	// the session down; zero while nothing is heard from it.
	DetectionTime time.Duration
	// The peer's timers, from its last packet.
	RemoteReceiveInterval  time.Duration
	RemoteTransmitInterval time.Duration
	RemoteDetectMultiplier uint8
	// LastChange is when State last changed (or the session started).
	LastChange time.Time
	// Removing: Remove was called; the session says AdminDown until it goes.
	Removing bool
}

// Uptime is how long the session has been Up at now, or zero.
func (s SessionStatus) Uptime(now time.Time) time.Duration {
	if s.State != StateUp {
		return 0
	}
	return now.Sub(s.LastChange)
}

// want is what the Manager asks of a running session.
type want struct {
	profile Profile
	// remove: go AdminDown, then away. linger keeps sending AdminDown for a
	// detection time first; without it the session goes after one packet.
	remove, linger bool
}

// session is one running session: its loop owns the machine; the Manager
// talks to it through rx, the want mailbox and the status snapshot.
type session struct {
	key    SessionKey
	peer   Peer // as added; the profile in force is in want
	discr  uint32
	sender Sender
	rx     chan ControlPacket
	wake   chan struct{} // a new want is waiting
	// detached: a new session took over the key (Add with a new LocalAddr),
	// and with it the key's metrics.
	detached atomic.Bool

	mu     sync.Mutex
	want   want
	status SessionStatus
}

func newSession(key SessionKey, p Peer, discr uint32, sender Sender) *session {
	return &session{
		key:    key,
		peer:   p,
		discr:  discr,
		sender: sender,
		rx:     make(chan ControlPacket, rxBacklog),
		wake:   make(chan struct{}, 1),
		want:   want{profile: p.Profile},
		status: SessionStatus{Peer: p, State: StateDown, RemoteState: StateDown, LocalDiscriminator: discr},
	}
}

// setWant replaces the wish and wakes the loop; it never blocks.
func (s *session) setWant(w want) {
	s.mu.Lock()
	s.want = w
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) wanted() want {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.want
}

func (s *session) snapshot() SessionStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// run is the session loop: it feeds packets, wishes and timer expiries to the
// machine and carries out what the machine says.
func (m *Manager) run(s *session) {
	defer m.running.Done()
	defer s.sender.Close()
	mc := newMachine(s.discr, s.peer.Profile, time.Now(), rand.Float64)
	applied := want{profile: s.peer.Profile}
	var retireAt time.Time // zero unless removing
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		m.publish(s, mc, applied)
		next := mc.next()
		if !retireAt.IsZero() && retireAt.Before(next) {
			next = retireAt
		}
		timer.Reset(time.Until(next))
		var e effects
		select {
		case <-m.stop:
			return
		case p := <-s.rx:
			var dropped string
			if e, dropped = mc.receive(time.Now(), p); dropped != "" {
				m.metrics.dropped.WithLabelValues(dropped).Inc()
			} else {
				s.count(m.metrics.received)
			}
		case <-s.wake:
			w := s.wanted()
			e, retireAt = m.apply(mc, applied, w, retireAt)
			applied = w
		case <-timer.C:
			e = mc.tick(time.Now())
		}
		m.carryOut(s, mc, e)
		if !retireAt.IsZero() && !time.Now().Before(retireAt) && m.retire(s) {
			return
		}
	}
}

// apply moves the machine from what was applied to what is wanted, and says
// when the session may go away.
func (m *Manager) apply(mc *machine, applied, w want, retireAt time.Time) (effects, time.Time) {
	now := time.Now()
	var e effects
	if w.profile != applied.profile {
		mc.setProfile(now, w.profile)
	}
	switch {
	case w.remove && !applied.remove:
		e = mc.adminDown(now)
		retireAt = now
		if w.linger {
			// The peer's detection time for us, as it last learned it.
			retireAt = now.Add(time.Duration(mc.profile.DetectMultiplier) * mc.txInterval())
		}
	case !w.remove && applied.remove:
		e = mc.adminUp(now)
		retireAt = time.Time{}
	}
	return e, retireAt
}

// carryOut sends what the machine asks and reports its state changes.
func (m *Manager) carryOut(s *session, mc *machine, e effects) {
	for _, p := range e.send {
		b, err := p.Encode()
		if err == nil {
			err = s.sender.Send(b)
		}
		if err != nil {
			s.count(m.metrics.sendErrors)
			m.log.V(1).Info("Sending BFD packet failed", "peer", s.key, "error", err)
			continue
		}
		s.count(m.metrics.sent)
	}
	for _, c := range e.changes {
		if !s.detached.Load() {
			m.metrics.transitions.WithLabelValues(append(labels(s.key), c.to.String())...).Inc()
		}
		m.log.Info("BFD session changed state", "peer", s.key, "from", c.from, "to", c.to, "diag", c.diag,
			"remoteDiag", mc.remoteDiag)
		m.notify.push(StateChange{Key: s.key, From: c.from, To: c.to, Diag: c.diag, RemoteDiag: mc.remoteDiag, At: mc.changedAt})
	}
}

// publish copies the machine's state where Sessions and the metrics see it.
func (m *Manager) publish(s *session, mc *machine, applied want) {
	p := s.peer
	p.Profile = applied.profile
	st := SessionStatus{
		Peer:                   p,
		State:                  mc.state,
		RemoteState:            mc.remoteState,
		LocalDiscriminator:     mc.localDiscr,
		RemoteDiscriminator:    mc.remoteDiscr,
		LocalDiag:              mc.localDiag,
		RemoteDiag:             mc.remoteDiag,
		TransmitInterval:       mc.txInterval(),
		RemoteReceiveInterval:  mc.remoteMinRx,
		RemoteTransmitInterval: mc.remoteDesiredTx,
		RemoteDetectMultiplier: mc.remoteMult,
		LastChange:             mc.changedAt,
		Removing:               applied.remove,
	}
	if !mc.lastRx.IsZero() {
		st.DetectionTime = mc.detectionTime()
	}
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
	if !s.detached.Load() {
		m.metrics.state.WithLabelValues(labels(s.key)...).Set(float64(mc.state))
	}
}

// count adds one to a per-session counter, unless the key's series belong
// to a newer session.
func (s *session) count(c *prometheus.CounterVec) {
	if !s.detached.Load() {
		c.WithLabelValues(labels(s.key)...).Inc()
	}
}

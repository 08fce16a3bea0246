package bfd

import "time"

// slowTxInterval is the least bfd.DesiredMinTxInterval while a session is not
// Up (RFC 5880 §6.8.3): an idle or failed session costs one packet a second.
const slowTxInterval = time.Second

// transition is one change of bfd.SessionState.
type transition struct {
	from, to State
	diag     Diag
}

// effects are what one event asks of the caller: packets to send now and
// state changes to report, in order.
type effects struct {
	send    []ControlPacket
	changes []transition
}

// machine is the state of one session (RFC 5880 §6.8.1) and the rules that
// move it: reception (§6.8.6), transmission (§6.8.7), detection (§6.8.4),
// timer negotiation and Poll sequences (§6.8.2, §6.8.3, §6.5) and
// administrative control (§6.8.16).
//
// It does no I/O and never reads a clock: every entry point takes the current
// time and returns the packets to send, and next says when tick must be
// called. One goroutine drives it; it is not safe for concurrent use.
type machine struct {
	profile Profile        // defaults applied
	jitter  func() float64 // uniform in [0, 1)

	state, remoteState State
	localDiscr         uint32
	remoteDiscr        uint32
	localDiag          Diag
	remoteDiag         Diag
	remoteDemand       bool
	remoteMinRx        time.Duration // bfd.RemoteMinRxInterval
	remoteDesiredTx    time.Duration // Desired Min TX of the last packet received
	remoteMult         uint8         // Detect Mult of the last packet received

	// desiredTx and requiredRx are what our packets advertise
	// (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval). ackTx and ackRx
	// are the values the peer has confirmed with a Final, or that were in
	// force when the session came Up: until a Poll sequence confirms a
	// change, a slower transmit rate or a faster receive rate must not be
	// used (§6.8.3), so the rates in use are the safe side of both.
	desiredTx, requiredRx time.Duration
	ackTx, ackRx          time.Duration
	// polling: a Poll sequence is running and periodic packets carry P.
	// pollTx and pollRx are the values it announces; repoll says they
	// changed again meanwhile, which needs a new sequence once this one ends
	// (only one runs at a time).
	polling, repoll bool
	pollTx, pollRx  time.Duration

	lastTx, nextTx time.Time
	// scheduled is the transmit interval nextTx was drawn for; nextTx is
	// drawn again only when the interval changes, so jitter stays per packet.
	scheduled time.Duration
	// lastRx is when the last packet that counts for detection arrived; zero
	// when detection is not running.
	lastRx    time.Time
	changedAt time.Time
}

// newMachine starts a session in state Down whose first packet is due now.
func newMachine(discr uint32, p Profile, now time.Time, jitter func() float64) *machine {
	m := &machine{
		jitter:      jitter,
		state:       StateDown,
		remoteState: StateDown,
		localDiscr:  discr,
		// §6.8.1: initialised to 1 µs, so we transmit before hearing a word.
		remoteMinRx: time.Microsecond,
		nextTx:      now,
		changedAt:   now,
	}
	m.profile = p.WithDefaults()
	m.advertise()
	m.scheduled = m.txInterval()
	return m
}

// txInUse is the transmit interval we may use: a decrease applies at once,
// an increase only once confirmed.
func (m *machine) txInUse() time.Duration { return min(m.ackTx, m.desiredTx) }

// rxInUse is the receive interval detection uses: an increase applies at
// once, a decrease only once confirmed.
func (m *machine) rxInUse() time.Duration { return max(m.ackRx, m.requiredRx) }

// txInterval is the negotiated transmit interval (§6.8.2): never faster than
// the peer can receive.
func (m *machine) txInterval() time.Duration { return max(m.txInUse(), m.remoteMinRx) }

// detectionTime is how long the peer may stay silent (§6.8.4): its
// multiplier times the slower of its sending and our receiving; zero before
// the first packet.
func (m *machine) detectionTime() time.Duration {
	return time.Duration(m.remoteMult) * max(m.rxInUse(), m.remoteDesiredTx)
}

// detectDeadline is when the silence of the peer ends detection, or zero.
func (m *machine) detectDeadline() time.Time {
	if m.lastRx.IsZero() {
		return time.Time{}
	}
	return m.lastRx.Add(m.detectionTime())
}

// next is when tick must run next.
func (m *machine) next() time.Time {
	dl := m.detectDeadline()
	if dl.IsZero() || (!m.nextTx.IsZero() && m.nextTx.Before(dl)) {
		return m.nextTx
	}
	return dl
}

// tick runs the timers that have expired by now: detection, then the
// periodic transmission.
func (m *machine) tick(now time.Time) effects {
	var e effects
	if dl := m.detectDeadline(); !dl.IsZero() && !now.Before(dl) {
		m.expire(now, &e)
	}
	if !now.Before(m.nextTx) {
		if m.mayTransmit() {
			e.send = append(e.send, m.packet(false))
			m.lastTx = now
		}
		m.scheduled = m.txInterval()
		m.nextTx = now.Add(m.jittered(m.scheduled))
	}
	m.reschedule(now)
	return e
}

// expire handles a Detection Time without packets (§6.8.4, §6.8.1): the
// peer is forgotten and an Init or Up session goes Down.
func (m *machine) expire(now time.Time, e *effects) {
	m.lastRx = time.Time{}
	m.remoteDiscr = 0
	m.remoteState = StateDown
	if m.state == StateInit || m.state == StateUp {
		m.setState(now, StateDown, DiagControlDetectionTimeExpired, e)
	}
}

// receive applies a decoded packet demultiplexed to this session (§6.8.6).
// dropped is non-empty when the packet was refused before touching any
// state (the reason label of ironlb_bfd_dropped_packets_total).
func (m *machine) receive(now time.Time, p ControlPacket) (e effects, dropped string) {
	if p.Auth != nil {
		// §6.8.6: A bit set and no authentication in use.
		return e, ReasonAuthentication
	}
	m.remoteDiscr = p.MyDiscriminator
	m.remoteState = p.State
	m.remoteDemand = p.Demand
	m.remoteMinRx = fromMicros(p.RequiredMinRxInterval)
	m.remoteDesiredTx = fromMicros(p.DesiredMinTxInterval)
	m.remoteMult = p.DetectMult
	m.remoteDiag = p.Diag
	if p.Final && m.polling {
		m.endPoll()
	}
	if m.state == StateAdminDown {
		// Discarded from here on: an AdminDown session neither changes
		// state nor answers Polls.
		m.reschedule(now)
		return e, ""
	}
	m.lastRx = now
	m.transit(now, p.State, &e)
	if p.Poll {
		// §6.8.7: a Final goes out at once, whatever the timers say.
		e.send = append(e.send, m.packet(true))
	}
	m.reschedule(now)
	return e, ""
}

// transit is the state table of §6.8.6 for a packet in state remote.
func (m *machine) transit(now time.Time, remote State, e *effects) {
	if remote == StateAdminDown {
		if m.state != StateDown {
			m.setState(now, StateDown, DiagNeighborSignaledSessionDown, e)
		}
		return
	}
	switch m.state {
	case StateDown:
		switch remote {
		case StateDown:
			m.setState(now, StateInit, m.localDiag, e)
		case StateInit:
			m.setState(now, StateUp, DiagNone, e)
		}
	case StateInit:
		if remote == StateInit || remote == StateUp {
			m.setState(now, StateUp, DiagNone, e)
		}
	case StateUp:
		if remote == StateDown {
			m.setState(now, StateDown, DiagNeighborSignaledSessionDown, e)
		}
	}
}

// setState moves to state to for reason diag and re-advertises the timers:
// they depend on whether the session is Up.
func (m *machine) setState(now time.Time, to State, diag Diag, e *effects) {
	from := m.state
	m.state, m.localDiag = to, diag
	if from == to {
		return
	}
	m.changedAt = now
	e.changes = append(e.changes, transition{from: from, to: to, diag: diag})
	m.advertise()
}

// advertise sets the intervals our packets carry from the profile and the
// state. While Up a change needs a Poll sequence (§6.8.3); otherwise it
// applies at once.
func (m *machine) advertise() {
	tx, rx := m.profile.TransmitInterval, m.profile.ReceiveInterval
	if m.state != StateUp {
		tx = max(tx, slowTxInterval)
	}
	changed := tx != m.desiredTx || rx != m.requiredRx
	m.desiredTx, m.requiredRx = tx, rx
	switch {
	case m.state != StateUp:
		m.ackTx, m.ackRx = tx, rx
		m.polling, m.repoll = false, false
	case !changed:
	case m.polling:
		m.repoll = true
	default:
		m.startPoll()
	}
}

func (m *machine) startPoll() {
	m.polling, m.repoll = true, false
	m.pollTx, m.pollRx = m.desiredTx, m.requiredRx
}

// endPoll takes a Final as the peer's word that it has seen the values this
// Poll sequence announced.
func (m *machine) endPoll() {
	m.ackTx, m.ackRx = m.pollTx, m.pollRx
	m.polling = false
	if m.repoll {
		m.repoll = false
		if m.desiredTx != m.pollTx || m.requiredRx != m.pollRx {
			m.startPoll()
		}
	}
}

// mayTransmit says whether a periodic packet may go out now (§6.8.7).
func (m *machine) mayTransmit() bool {
	switch {
	case m.profile.PassiveMode && m.remoteDiscr == 0:
		return false
	case m.remoteMinRx == 0:
		// The peer asked for no packets at all.
		return false
	case m.remoteDemand && m.state == StateUp && m.remoteState == StateUp && !m.polling:
		// Demand mode is active on the peer.
		return false
	}
	return true
}

// reschedule draws the next transmission again when the negotiated interval
// has changed: counted from the last packet sent, and no earlier than now.
func (m *machine) reschedule(now time.Time) {
	if m.lastTx.IsZero() && m.nextTx.After(now) && m.mayTransmit() {
		// A passive session that just heard its peer: nothing sent yet,
		// so nothing can be too soon.
		m.nextTx = now
	}
	iv := m.txInterval()
	if iv == m.scheduled {
		return
	}
	m.scheduled = iv
	m.nextTx = now
	if !m.lastTx.IsZero() {
		if t := m.lastTx.Add(m.jittered(iv)); t.After(now) {
			m.nextTx = t
		}
	}
}

// jittered reduces interval iv by a random 0–25% (§6.8.7), or to 75–90% with
// a detect multiplier of 1, so that one late packet cannot alone expire the
// peer's detection.
func (m *machine) jittered(iv time.Duration) time.Duration {
	r := m.jitter()
	if m.profile.DetectMultiplier == 1 {
		return time.Duration(float64(iv) * (0.9 - 0.15*r))
	}
	return time.Duration(float64(iv) * (1 - 0.25*r))
}

// packet is our control packet as of now; final answers a Poll.
func (m *machine) packet(final bool) ControlPacket {
	return ControlPacket{
		Diag:                  m.localDiag,
		State:                 m.state,
		Poll:                  m.polling && !final,
		Final:                 final,
		DetectMult:            m.profile.DetectMultiplier,
		MyDiscriminator:       m.localDiscr,
		YourDiscriminator:     m.remoteDiscr,
		DesiredMinTxInterval:  micros(m.desiredTx),
		RequiredMinRxInterval: micros(m.requiredRx),
		// Zero: we loop back no Echo packets.
		RequiredMinEchoRxInterval: 0,
	}
}

// setProfile applies new timers and options (§6.8.3, §6.8.12: a new
// multiplier needs no Poll).
func (m *machine) setProfile(now time.Time, p Profile) {
	m.profile = p.WithDefaults()
	m.advertise()
	m.reschedule(now)
}

// adminDown takes the session administratively down (§6.8.16) and sends the
// news at once; periodic AdminDown packets follow until the caller stops.
func (m *machine) adminDown(now time.Time) effects {
	var e effects
	if m.state == StateAdminDown {
		return e
	}
	m.setState(now, StateAdminDown, DiagAdministrativelyDown, &e)
	m.lastRx = time.Time{}
	e.send = append(e.send, m.packet(false))
	m.lastTx = now
	m.scheduled = m.txInterval()
	m.nextTx = now.Add(m.jittered(m.scheduled))
	return e
}

// adminUp enables an AdminDown session again: it starts over from Down.
func (m *machine) adminUp(now time.Time) effects {
	var e effects
	if m.state == StateAdminDown {
		m.setState(now, StateDown, m.localDiag, &e)
		m.reschedule(now)
	}
	return e
}

func micros(d time.Duration) uint32 { return uint32(d / time.Microsecond) }

func fromMicros(us uint32) time.Duration { return time.Duration(us) * time.Microsecond }

package bfd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors of Manager methods.
var (
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("bfd: manager closed")
	// ErrNotFound: no session has that key.
	ErrNotFound = errors.New("bfd: no such session")
)

// Options configure a Manager.
type Options struct {
	// Transport carries the packets; nil listens with ListenUDP, in the
	// network namespace of the calling thread. The Manager closes it on
	// Close.
	Transport Transport
	// Registerer gets the ironlb_bfd_* metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// OnStateChange, when set, is called with every state change of every
	// session, in order, from one goroutine of its own: it may block
	// without slowing any session, though later changes wait for it. It
	// may call any method but Close, which waits for it.
	OnStateChange func(StateChange)
	Logger        logr.Logger
}

// Manager runs BFD sessions: one goroutine per session, plus one that reads
// the transport and hands each packet to its session. Its methods are safe
// for concurrent use.
type Manager struct {
	transport Transport
	metrics   *metrics
	notify    *notifier
	log       logr.Logger

	mu       sync.Mutex
	sessions map[SessionKey]*session // by key, lingering ones included
	byDiscr  map[uint32]*session     // by our discriminator
	closed   bool

	running  sync.WaitGroup // session goroutines
	stop     chan struct{}  // closed to end sessions without waiting for their linger
	recvDone chan struct{}
}

// New starts a Manager with no sessions.
func New(opts Options) (*Manager, error) {
	met, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	t := opts.Transport
	if t == nil {
		u, err := ListenUDP()
		if err != nil {
			return nil, err
		}
		t = u
	}
	m := &Manager{
		transport: t,
		metrics:   met,
		notify:    newNotifier(opts.OnStateChange),
		log:       opts.Logger,
		sessions:  map[SessionKey]*session{},
		byDiscr:   map[uint32]*session{},
		stop:      make(chan struct{}),
		recvDone:  make(chan struct{}),
	}
	go m.receive()
	return m, nil
}

// Add makes sure a session to p runs with p's profile. A new key starts a
// session in state Down; for a key that has one, a new profile applies in
// place (a Poll sequence tells the peer of new timers), a session being
// removed is taken back, and a new LocalAddr replaces the session with a new
// one.
func (m *Manager) Add(p Peer) error {
	if err := p.validate(); err != nil {
		return err
	}
	key := p.Key()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if s := m.sessions[key]; s != nil {
		if s.peer.LocalAddr == p.LocalAddr {
			s.setWant(want{profile: p.Profile})
			return nil
		}
		// Another source address is another path for the peer: say
		// AdminDown once from the old one and start afresh.
		s.detached.Store(true)
		s.setWant(want{profile: s.peer.Profile, remove: true})
		delete(m.sessions, key)
	}
	sender, err := m.transport.Dial(p)
	if err != nil {
		return fmt.Errorf("bfd: session %s: %w", key, err)
	}
	s := newSession(key, p, m.newDiscriminator(), sender)
	m.sessions[key] = s
	m.byDiscr[s.discr] = s
	m.running.Add(1)
	go m.run(s)
	return nil
}

// Remove takes the session of key administratively down and returns. The
// session keeps sending AdminDown for a detection time of the peer's (RFC
// 5880 §6.8.16), so the peer learns it was deliberate, and then goes away;
// meanwhile Sessions lists it as AdminDown and Add takes it back.
func (m *Manager) Remove(key SessionKey) error {
	key = Peer{Addr: key.Addr, Interface: key.Interface}.Key()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[key]
	if s == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	s.setWant(want{profile: s.peer.Profile, remove: true, linger: true})
	return nil
}

// Sessions returns the status of every session, ordered by key.
func (m *Manager) Sessions() []SessionStatus {
	m.mu.Lock()
	out := make([]SessionStatus, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s.snapshot())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b SessionStatus) int {
		k, l := a.Peer.Key(), b.Peer.Key()
		return cmp.Or(k.Addr.Compare(l.Addr), cmp.Compare(k.Interface, l.Interface))
	})
	return out
}

// Close removes every session as Remove does, waits until they are gone or
// ctx ends (then stops them at once and returns ctx's error), closes the
// transport and delivers the last state changes.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, s := range m.sessions {
		s.setWant(want{profile: s.peer.Profile, remove: true, linger: true})
	}
	m.mu.Unlock()

	gone := make(chan struct{})
	go func() {
		m.running.Wait()
		close(gone)
	}()
	var err error
	select {
	case <-gone:
	case <-ctx.Done():
		err = fmt.Errorf("bfd: sessions stopped before telling every peer: %w", ctx.Err())
		close(m.stop)
		<-gone
	}
	err = errors.Join(err, m.transport.Close())
	<-m.recvDone
	m.notify.close()
	return err
}

// newDiscriminator draws a random, nonzero discriminator no session uses
// (RFC 5880 §6.8.1: random makes spoofing harder). Called with m.mu held.
func (m *Manager) newDiscriminator() uint32 {
	for {
		if d := rand.Uint32(); d != 0 && m.byDiscr[d] == nil {
			return d
		}
	}
}

// receive reads the transport until it is closed.
func (m *Manager) receive() {
	defer close(m.recvDone)
	for {
		d, err := m.transport.Recv()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			m.log.Error(err, "Receiving BFD packets")
			// A failing socket must not spin the CPU.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-m.stop:
			}
			continue
		}
		m.dispatch(d)
	}
}

// dispatch checks a datagram and hands it to its session (RFC 5880 §6.8.6,
// RFC 5881 §3 and §5).
func (m *Manager) dispatch(d Datagram) {
	if d.TTL != singleHopTTL {
		m.drop(ReasonTTL, d, nil)
		return
	}
	p, err := Decode(d.Payload)
	if err != nil {
		reason := "malformed"
		if de := (*DecodeError)(nil); errors.As(err, &de) {
			reason = de.Reason
		}
		m.drop(reason, d, err)
		return
	}
	s := m.lookup(d, p.YourDiscriminator)
	if s == nil {
		m.drop(ReasonNoSession, d, nil)
		return
	}
	select {
	case s.rx <- p:
	default:
		m.drop(ReasonBacklog, d, nil)
	}
}

// lookup finds the session of a packet: by our discriminator when the peer
// knows it, else by source address and interface. Either way the source and
// interface must be the session's.
func (m *Manager) lookup(d Datagram, yourDiscr uint32) *session {
	src := d.Src.Unmap().WithZone("")
	m.mu.Lock()
	defer m.mu.Unlock()
	if yourDiscr != 0 {
		s := m.byDiscr[yourDiscr]
		if s == nil || s.key.Addr != src || (s.key.Interface != "" && s.key.Interface != d.Interface) {
			return nil
		}
		return s
	}
	if s := m.sessions[SessionKey{Addr: src, Interface: d.Interface}]; s != nil {
		return s
	}
	return m.sessions[SessionKey{Addr: src}]
}

func (m *Manager) drop(reason string, d Datagram, err error) {
	m.metrics.dropped.WithLabelValues(reason).Inc()
	m.log.V(2).Info("Dropped BFD packet", "reason", reason, "from", d.Src, "interface", d.Interface, "ttl", d.TTL, "error", err)
}

// retire deletes a session whose removal is still wanted; false means Add
// took it back meanwhile.
func (m *Manager) retire(s *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.wanted().remove {
		return false
	}
	delete(m.byDiscr, s.discr)
	if m.sessions[s.key] == s {
		delete(m.sessions, s.key)
		m.metrics.forget(s.key)
	}
	return true
}

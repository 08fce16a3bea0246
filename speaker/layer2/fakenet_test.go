package layer2

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/packet"
)

// fakeHost is the host an Announcer sees in the pure tests: a fixed list of
// interfaces, and in-memory sockets in place of packet sockets. Tests put
// frames on a socket as if received and read what the Announcer sent.
type fakeHost struct {
	ifs []iface
	// refuse, when set, is what every Listen returns.
	refuse error
	// failJoin, when set, makes every JoinGroup fail, as when the kernel
	// refuses one more membership.
	failJoin atomic.Bool

	mu      sync.Mutex
	socks   map[string]*fakeSocket // latest opened per "ifname/kind"
	opened  []*fakeSocket          // every socket ever opened
	changed chan struct{}          // closed and replaced on every open
}

func newFakeHost(ifs ...iface) *fakeHost {
	return &fakeHost{ifs: ifs, socks: map[string]*fakeSocket{}, changed: make(chan struct{})}
}

func (h *fakeHost) interfaces() ([]iface, error) { return slices.Clone(h.ifs), nil }

func (h *fakeHost) listen(ifi *net.Interface, kind FrameKind) (net.PacketConn, error) {
	if h.refuse != nil {
		return nil, h.refuse
	}
	s := &fakeSocket{
		ifname: ifi.Name, kind: kind,
		in: make(chan []byte, 16), fail: make(chan error, 1), out: make(chan sentFrame, 256),
		closed: make(chan struct{}), groups: map[netip.Addr]bool{}, failJoin: &h.failJoin,
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.socks[ifi.Name+"/"+string(kind)] = s
	h.opened = append(h.opened, s)
	close(h.changed)
	h.changed = make(chan struct{})
	return s, nil
}

// socket waits for the Announcer to open a socket for kind on ifname other
// than prev (nil: any), and returns it.
func (h *fakeHost) socket(t *testing.T, ifname string, kind FrameKind, prev *fakeSocket) *fakeSocket {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		s, changed := h.socks[ifname+"/"+string(kind)], h.changed
		h.mu.Unlock()
		if s != nil && s != prev {
			return s
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s socket opened on %s", kind, ifname)
		}
	}
}

// fakeSocket is a net.PacketConn in memory, with the group methods of an NDP
// socket.
type fakeSocket struct {
	ifname string
	kind   FrameKind
	in     chan []byte    // frames ReadFrom returns, in order
	fail   chan error     // an error ReadFrom returns instead
	out    chan sentFrame // frames WriteTo was given, in order
	closed chan struct{}
	once   sync.Once
	// failJoin is the host's switch: JoinGroup fails while it is set.
	failJoin *atomic.Bool

	mu     sync.Mutex
	groups map[netip.Addr]bool
}

// sentFrame is one WriteTo call: the frame and the MAC it was addressed to.
type sentFrame struct {
	frame []byte
	to    net.HardwareAddr
}

func (s *fakeSocket) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case <-s.closed:
		return 0, nil, net.ErrClosed
	case err := <-s.fail:
		return 0, nil, err
	case f := <-s.in:
		return copy(b, f), &packet.Addr{HardwareAddr: net.HardwareAddr(f[6:12])}, nil
	}
}

func (s *fakeSocket) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-s.closed:
		return 0, net.ErrClosed
	default:
	}
	pa, ok := addr.(*packet.Addr)
	if !ok {
		return 0, fmt.Errorf("WriteTo %T, want a *packet.Addr", addr)
	}
	select {
	case s.out <- sentFrame{frame: slices.Clone(b), to: slices.Clone(pa.HardwareAddr)}:
		return len(b), nil
	default:
		return 0, errors.New("fake socket: nobody reads what is sent")
	}
}

func (s *fakeSocket) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *fakeSocket) LocalAddr() net.Addr              { return &packet.Addr{} }
func (s *fakeSocket) SetDeadline(time.Time) error      { return nil }
func (s *fakeSocket) SetReadDeadline(time.Time) error  { return nil }
func (s *fakeSocket) SetWriteDeadline(time.Time) error { return nil }
func (s *fakeSocket) JoinGroup(g netip.Addr) error {
	if s.failJoin != nil && s.failJoin.Load() {
		return fmt.Errorf("join %s: %w", g, syscall.ENOBUFS)
	}
	return s.setGroup(g, true)
}
func (s *fakeSocket) LeaveGroup(g netip.Addr) error { return s.setGroup(g, false) }
func (s *fakeSocket) setGroup(g netip.Addr, in bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[g] == in {
		return fmt.Errorf("group %s: already in=%v", g, in)
	}
	if in {
		s.groups[g] = true
	} else {
		delete(s.groups, g)
	}
	return nil
}

// joined lists the groups the socket is a member of now.
func (s *fakeSocket) joined() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, g := range slices.SortedFunc(maps.Keys(s.groups), netip.Addr.Compare) {
		out = append(out, g.String())
	}
	return out
}

// receive hands frame to the Announcer as if it had arrived on the link.
func (s *fakeSocket) receive(frame []byte) { s.in <- frame }

// next returns the next frame the Announcer sent.
func (s *fakeSocket) next(t *testing.T) sentFrame {
	t.Helper()
	select {
	case f := <-s.out:
		return f
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing sent on the %s socket of %s", s.kind, s.ifname)
		return sentFrame{}
	}
}

// waitClosed fails the test unless the Announcer closes the socket.
func (s *fakeSocket) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the %s socket of %s was never closed", s.kind, s.ifname)
	}
}

func (s *fakeSocket) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

package member

import (
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Backoff after a failed accept (too many open files, say), so that a
// persistent error neither spins a core nor floods the log.
const (
	acceptRetryFirst = 5 * time.Millisecond
	acceptRetryMax   = time.Second
)

// acceptStreams hands each TCP connection accepted (joins, push-pull, the
// TCP fallback probe) to memberlist.
func (t *transport) acceptStreams() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		conn, err := t.tcp.Accept()
		if err != nil {
			if t.stopping() {
				return
			}
			delay = min(max(2*delay, acceptRetryFirst), acceptRetryMax)
			t.logger.Printf("[ERR] member: accept a TCP connection: %v", err)
			select {
			case <-time.After(delay):
			case <-t.done:
				return
			}
			continue
		}
		delay = 0
		select {
		case t.streams <- conn:
		case <-t.done:
			_ = conn.Close()
			return
		}
	}
}

// StreamCh delivers the TCP connections accepted.
func (t *transport) StreamCh() <-chan net.Conn { return t.streams }

// DialTimeout opens a TCP stream to addr ("ip:port").
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a TCP stream to a.Addr and keeps the dial's
// error for classify.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.Dial("tcp", a.Addr)
	t.dials.record(a.Addr, err)
	return conn, err
}

// dialLog keeps the error of the last TCP dial to each address: memberlist
// flattens a failed join's error into text, the dial's is typed.
type dialLog struct {
	mu   sync.Mutex
	last map[string]error // by "ip:port"; nil for a dial that connected
}

func (d *dialLog) record(addr string, err error) {
	d.mu.Lock()
	d.last[addr] = err
	d.mu.Unlock()
}

func (d *dialLog) forget(addr string) {
	d.mu.Lock()
	delete(d.last, addr)
	d.mu.Unlock()
}

// lastDial is the error of the last dial to addr, and whether there was one.
func (d *dialLog) lastDial(addr string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	err, ok := d.last[addr]
	return ok, err
}

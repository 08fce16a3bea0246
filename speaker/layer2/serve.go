package layer2

import (
	"errors"
	"net/netip"
	"syscall"

	"github.com/mdlayher/packet"
)

// serve is the packet loop of socket s on link l: read a frame, decide,
// reply. It ends when s is taken out of its slot and closed.
func (a *Announcer) serve(l *link, s *socket) {
	slot, m, answer := l.slot(s.kind), l.counters(s.kind), responderFor(s.kind)
	owns := a.ownerOn(l)
	buf := make([]byte, l.readBufferSize())
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			switch {
			case slot.Load() != s:
				return // closed by us
			case isTransient(err):
				continue
			}
			a.log.Error(err, "Packet loop stopped, reopening on next scan", "interface", l.name, "protocol", s.kind)
			l.broken.Store(true)
			return
		}
		reply, v := answer(buf[:n], l.port, owns)
		switch v {
		case malformed:
			m.malformed.Inc()
		case answered:
			m.requests.Inc()
			if _, err := s.conn.WriteTo(reply, &packet.Addr{HardwareAddr: reply[:ethAddrLen]}); err != nil {
				a.log.V(1).Info("Cannot send reply", "interface", l.name, "protocol", s.kind, "error", err.Error())
				continue
			}
			m.responses.Inc()
		}
	}
}

// ownerOn is the ownership test of link l's packet loop: the address must be
// published for the link and still owned now, so an address dropped by
// SetOwned is refused before Run has even reconciled.
func (a *Announcer) ownerOn(l *link) owner {
	return func(ip netip.Addr) bool {
		return l.answers(ip) && a.owned.Load().allows(ip, l.name)
	}
}

// isTransient reports read errors after which the socket keeps working: the
// kernel reports ENETDOWN once on a packet socket whose interface went down,
// and delivers again when it comes back up.
func isTransient(err error) bool {
	return errors.Is(err, syscall.ENETDOWN)
}

package layer2

import (
	"context"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"
)

const (
	// firstBurstGap is the gap between the first and second frame of a
	// takeover burst; each later gap doubles (0, 100 ms, 300 ms, 700 ms...).
	// The first frame goes out at once: it is what failover time is made of.
	firstBurstGap = 100 * time.Millisecond
	maxBurstGap   = 10 * time.Second
)

// burst sends the takeover announcements for ip on l: the first at once, the
// others after growing gaps, stopping early if ip is dropped or l torn down.
func (a *Announcer) burst(ctx context.Context, l *link, ip netip.Addr) {
	owns := a.ownerOn(l)
	a.wg.Go(func() {
		gap := firstBurstGap
		for i := range a.count {
			if i > 0 {
				t := time.NewTimer(gap)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-l.done:
					t.Stop()
					return
				case <-t.C:
				}
				gap = min(2*gap, maxBurstGap)
			}
			if !owns(ip) {
				return
			}
			a.announce(l, ip)
		}
	})
}

// reannounceAll sends one announcement per address served on each link.
func (a *Announcer) reannounceAll() {
	for _, l := range a.links {
		for _, ip := range l.answer.list() {
			a.announce(l, ip)
		}
	}
}

// announce sends one gratuitous ARP or unsolicited neighbour advertisement.
func (a *Announcer) announce(l *link, ip netip.Addr) {
	kind := kindOf(ip)
	s := l.slot(kind).Load()
	if s == nil {
		return
	}
	frame, err := announcement(l.port, ip)
	if err != nil {
		a.log.Error(err, "Cannot build announcement", "interface", l.name, "ip", ip)
		return
	}
	if _, err := s.conn.WriteTo(frame, &packet.Addr{HardwareAddr: frame[:ethAddrLen]}); err != nil {
		a.log.V(1).Info("Cannot send announcement", "interface", l.name, "ip", ip, "error", err.Error())
		return
	}
	l.counters(kind).gratuitous.Inc()
}

// announcement builds the takeover frame for ip: a gratuitous ARP for IPv4,
// an unsolicited neighbour advertisement for IPv6.
func announcement(p port, ip netip.Addr) ([]byte, error) {
	if ip.Is6() {
		return unsolicitedNA(p, ip)
	}
	return gratuitousARP(p.hw, ip)
}

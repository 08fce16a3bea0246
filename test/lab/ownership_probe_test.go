//go:build lab

package lab_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"

	"github.com/ironlb/ironlb/test/lab"
)

// ownershipProbe asks for every address at once, every period, from the
// client's eth0, and records who answered each round. It sees what a client
// would at that resolution: a moment with no answer (the old owner stopped
// before the new one started) or with two (the reverse), however short,
// which one arping per address every half second mostly misses.
//
// Each round's requests carry a sender address of their own (in
// 192.0.2.0/24, which the speakers answer like any other), so a reply is
// counted for the round that asked, even if a busy speaker sends it late.
type ownershipProbe struct {
	conn   *packet.Conn
	mac    net.HardwareAddr
	ips    []netip.Addr
	period time.Duration
	stop   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	rounds []probeRound // by round number
}

type probeRound struct {
	at      time.Time
	answers map[netip.Addr][]string // node names (or MACs) that answered, per address
}

// probeTags is how many rounds are told apart by their sender address; a
// reply later than probeTags periods would be counted for a later round.
const probeTags = 250

func startOwnershipProbe(tb testing.TB, l *lab.Lab, ips []netip.Addr, period time.Duration) *ownershipProbe {
	tb.Helper()
	p := &ownershipProbe{ips: ips, period: period, stop: make(chan struct{})}
	err := lab.InNetns(l.Client.Netns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		p.mac = ifi.HardwareAddr
		p.conn, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	})
	if err != nil {
		tb.Fatalf("probing ownership: %v", err)
	}
	p.wg.Add(2)
	go p.read(l)
	go p.ask()
	return p
}

func probeSender(round int) netip.Addr {
	return netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + round%probeTags)})
}

func (p *ownershipProbe) ask() {
	defer p.wg.Done()
	t := time.NewTicker(p.period)
	defer t.Stop()
	for round := 0; ; round++ {
		p.mu.Lock()
		p.rounds = append(p.rounds, probeRound{at: time.Now(), answers: map[netip.Addr][]string{}})
		p.mu.Unlock()
		for _, ip := range p.ips {
			req, err := arp.NewPacket(arp.OperationRequest, p.mac, probeSender(round), ethernet.Broadcast, ip)
			if err != nil {
				panic(err)
			}
			payload, _ := req.MarshalBinary()
			frame, _ := (&ethernet.Frame{Destination: ethernet.Broadcast, Source: p.mac,
				EtherType: ethernet.EtherTypeARP, Payload: payload}).MarshalBinary()
			_, _ = p.conn.WriteTo(frame, &packet.Addr{HardwareAddr: ethernet.Broadcast})
		}
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

func (p *ownershipProbe) read(l *lab.Lab) {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		var f ethernet.Frame
		var r arp.Packet
		if f.UnmarshalBinary(buf[:n]) != nil || r.UnmarshalBinary(f.Payload) != nil || r.Operation != arp.OperationReply {
			continue
		}
		tag := int(r.TargetIP.As4()[3]) - 1
		if r.TargetIP.As4()[0] != 192 || tag < 0 || tag >= probeTags {
			continue
		}
		who := r.SenderHardwareAddr.String()
		if node := l.NodeByMAC(r.SenderHardwareAddr); node != nil {
			who = node.Name
		}
		p.mu.Lock()
		// The latest round with this tag is the one that asked.
		for i := len(p.rounds) - 1; i >= 0 && i >= len(p.rounds)-probeTags; i-- {
			if i%probeTags == tag {
				if got := p.rounds[i].answers[r.SenderIP]; !slices.Contains(got, who) {
					p.rounds[i].answers[r.SenderIP] = append(got, who)
				}
				break
			}
		}
		p.mu.Unlock()
	}
}

// probeEvent is a run of consecutive rounds in which an address was
// answered by nobody or by more than one node.
type probeEvent struct {
	ip       netip.Addr
	from, to time.Time
	rounds   int
	by       []string
}

func (e probeEvent) String() string {
	what := "answered by nobody"
	if len(e.by) > 1 {
		what = fmt.Sprintf("answered by %v", e.by)
	}
	return fmt.Sprintf("%s %s from %s for %d rounds", e.ip, what, e.from.Format("15:04:05.000"), e.rounds)
}

// finish stops probing and returns the runs of rounds without exactly one
// answer. The last rounds, whose answers may still be on their way, are
// left out.
func (p *ownershipProbe) finish() (rounds int, none, two []probeEvent) {
	close(p.stop)
	time.Sleep(10 * p.period)
	_ = p.conn.Close()
	p.wg.Wait()
	done := p.rounds[:max(0, len(p.rounds)-2)]
	for _, ip := range p.ips {
		var cur *probeEvent
		flush := func() {
			if cur == nil {
				return
			}
			if len(cur.by) == 0 {
				none = append(none, *cur)
			} else {
				two = append(two, *cur)
			}
			cur = nil
		}
		for _, r := range done {
			by := slices.Sorted(slices.Values(r.answers[ip]))
			if len(by) == 1 {
				flush()
				continue
			}
			if cur != nil && (len(by) == 0) != (len(cur.by) == 0) {
				flush()
			}
			if cur == nil {
				cur = &probeEvent{ip: ip, from: r.at, by: by}
			}
			cur.to, cur.rounds = r.at, cur.rounds+1
		}
		flush()
	}
	return len(done), none, two
}

package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// ARPEvent is one ARP packet seen on a client interface.
type ARPEvent struct {
	// Time is when the watcher read the packet.
	Time time.Time
	// Reply is true for an ARP reply, false for a request.
	Reply                bool
	SenderMAC            net.HardwareAddr
	SenderIP, TargetIP   netip.Addr
	TargetMAC, FrameDest net.HardwareAddr
}

// Gratuitous says whether the packet announces the sender's own address
// (sender IP = target IP), as a new owner does on takeover.
func (e ARPEvent) Gratuitous() bool { return e.SenderIP == e.TargetIP }

// ARPWatcher records every ARP packet on a client interface, read from a raw
// packet socket opened inside the client namespace, and can send ARP requests
// of its own. Timestamps are taken in this process, so they compare directly
// with the time a test killed a speaker or created a Service.
type ARPWatcher struct {
	conn *packet.Conn
	mac  net.HardwareAddr
	ip   netip.Addr
	log  *eventLog[ARPEvent]
}

// WatchARP starts recording the ARP packets on the client's ifname.
func (l *Lab) WatchARP(ifname string) (*ARPWatcher, error) {
	w := &ARPWatcher{log: newEventLog[ARPEvent]()}
	err := InNetns(l.Client.Netns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				w.ip = p.Addr()
			}
		}
		w.mac = ifi.HardwareAddr
		w.conn, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("watching ARP on %s %s: %w", l.Client.Netns, ifname, err)
	}
	go w.read()
	return w, nil
}

func (w *ARPWatcher) read() {
	defer w.log.close()
	buf := make([]byte, 1500)
	for {
		n, _, err := w.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		now := time.Now()
		var f ethernet.Frame
		var p arp.Packet
		if f.UnmarshalBinary(buf[:n]) != nil || p.UnmarshalBinary(f.Payload) != nil {
			continue
		}
		w.log.add(ARPEvent{
			Time: now, Reply: p.Operation == arp.OperationReply,
			SenderMAC: p.SenderHardwareAddr, SenderIP: p.SenderIP,
			TargetMAC: p.TargetHardwareAddr, TargetIP: p.TargetIP,
			FrameDest: f.Destination,
		})
	}
}

// Close stops recording.
func (w *ARPWatcher) Close() error {
	err := w.conn.Close()
	<-w.log.closed
	return err
}

// Events returns a copy of what was recorded so far.
func (w *ARPWatcher) Events() []ARPEvent { return w.log.all() }

// Wait returns the first event at or after since for which match is true,
// waiting for it until ctx ends.
func (w *ARPWatcher) Wait(ctx context.Context, since time.Time, match func(ARPEvent) bool) (ARPEvent, error) {
	return w.log.wait(ctx, func(e ARPEvent) bool { return !e.Time.Before(since) && match(e) })
}

// WaitGratuitous waits for a gratuitous ARP for ip at or after since whose
// sender MAC satisfies from (nil: any).
func (w *ARPWatcher) WaitGratuitous(ctx context.Context, since time.Time, ip netip.Addr, from func(net.HardwareAddr) bool) (ARPEvent, error) {
	return w.Wait(ctx, since, func(e ARPEvent) bool {
		return e.Gratuitous() && e.SenderIP == ip && (from == nil || from(e.SenderMAC))
	})
}

// Probe broadcasts an ARP request for ip every interval until a reply to the
// client arrives, and returns that reply. It measures precisely when an
// address starts being answered, which spawning arping in a loop cannot.
func (w *ARPWatcher) Probe(ctx context.Context, ip netip.Addr, interval time.Duration) (ARPEvent, error) {
	req, err := arp.NewPacket(arp.OperationRequest, w.mac, w.ip, ethernet.Broadcast, ip)
	if err != nil {
		return ARPEvent{}, err
	}
	payload, err := req.MarshalBinary()
	if err != nil {
		return ARPEvent{}, err
	}
	frame, err := (&ethernet.Frame{
		Destination: ethernet.Broadcast, Source: w.mac,
		EtherType: ethernet.EtherTypeARP, Payload: payload,
	}).MarshalBinary()
	if err != nil {
		return ARPEvent{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			_, _ = w.conn.WriteTo(frame, &packet.Addr{HardwareAddr: ethernet.Broadcast})
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w.Wait(ctx, start, func(e ARPEvent) bool {
		return e.Reply && e.SenderIP == ip && e.TargetIP == w.ip
	})
}

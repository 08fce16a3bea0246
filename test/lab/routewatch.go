package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RouteEvent is a change of one route in the router's kernel table, that is
// zebra installing or removing what bgpd selected.
type RouteEvent struct {
	// Time is when the watcher read the change.
	Time   time.Time
	Prefix netip.Prefix
	// NextHops are the gateways, sorted; empty when the route was deleted.
	NextHops []string
	Deleted  bool
}

// RouteWatcher records the route changes of the router namespace from a
// netlink socket, so tests time route changes to the millisecond where
// polling vtysh (tens of milliseconds a call) could not.
type RouteWatcher struct {
	f   *os.File
	log *eventLog[RouteEvent]
}

// WatchRoutes starts recording the router's IPv4 and IPv6 route changes.
func (r *Router) WatchRoutes() (*RouteWatcher, error) {
	var fd int
	err := InNetns(r.Netns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		// Thousands of routes arrive in a burst when a speaker starts.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
		return unix.Bind(fd, &unix.SockaddrNetlink{
			Family: unix.AF_NETLINK,
			Groups: unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE,
		})
	})
	if err != nil {
		if fd > 0 {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("watching routes in %s: %w", r.Netns, err)
	}
	// A non-blocking descriptor joins Go's poller, so Close ends a Read.
	w := &RouteWatcher{f: os.NewFile(uintptr(fd), "netlink-route"), log: newEventLog[RouteEvent]()}
	go w.read()
	return w, nil
}

func (w *RouteWatcher) read() {
	defer w.log.close()
	buf := make([]byte, 1<<20)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if e, ok := parseRouteMessage(m); ok {
				e.Time = now
				w.log.add(e)
			}
		}
	}
}

// parseRouteMessage reads a RTM_NEWROUTE or RTM_DELROUTE of the main table.
func parseRouteMessage(m syscall.NetlinkMessage) (RouteEvent, bool) {
	var e RouteEvent
	if m.Header.Type != unix.RTM_NEWROUTE && m.Header.Type != unix.RTM_DELROUTE {
		return e, false
	}
	if len(m.Data) < unix.SizeofRtMsg {
		return e, false
	}
	// struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
	dstLen, table, typ := int(m.Data[1]), uint32(m.Data[4]), m.Data[7]
	if typ != unix.RTN_UNICAST {
		return e, false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return e, false
	}
	var dst netip.Addr
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.RTA_TABLE:
			if len(a.Value) >= 4 {
				table = binary.NativeEndian.Uint32(a.Value)
			}
		case unix.RTA_DST:
			dst, _ = netip.AddrFromSlice(a.Value)
		case unix.RTA_GATEWAY:
			if gw, ok := netip.AddrFromSlice(a.Value); ok {
				e.NextHops = append(e.NextHops, gw.String())
			}
		case unix.RTA_MULTIPATH:
			e.NextHops = append(e.NextHops, multipathGateways(a.Value)...)
		}
	}
	if table != unix.RT_TABLE_MAIN || !dst.IsValid() {
		return e, false
	}
	e.Prefix = netip.PrefixFrom(dst, dstLen)
	if m.Header.Type == unix.RTM_DELROUTE {
		e.NextHops, e.Deleted = nil, true
	}
	slices.Sort(e.NextHops)
	return e, true
}

// multipathGateways reads the gateways of an RTA_MULTIPATH attribute: a
// sequence of struct rtnexthop, each followed by its own attributes.
func multipathGateways(b []byte) []string {
	var gws []string
	for len(b) >= unix.SizeofRtNexthop {
		size := int(binary.NativeEndian.Uint16(b[0:2]))
		if size < unix.SizeofRtNexthop || size > len(b) {
			break
		}
		attrs := b[unix.SizeofRtNexthop:size]
		for len(attrs) >= unix.SizeofRtAttr {
			alen := int(binary.NativeEndian.Uint16(attrs[0:2]))
			atype := binary.NativeEndian.Uint16(attrs[2:4])
			if alen < unix.SizeofRtAttr || alen > len(attrs) {
				break
			}
			if atype == unix.RTA_GATEWAY {
				if gw, ok := netip.AddrFromSlice(attrs[unix.SizeofRtAttr:alen]); ok {
					gws = append(gws, gw.String())
				}
			}
			attrs = attrs[min(rtaAlign(alen), len(attrs)):]
		}
		b = b[min(rtaAlign(size), len(b)):]
	}
	return gws
}

// rtaAlign rounds n up to the 4-byte alignment of netlink attributes.
func rtaAlign(n int) int { return (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1) }

// Close stops recording.
func (w *RouteWatcher) Close() error {
	err := w.f.Close()
	<-w.log.closed
	return err
}

// Events returns a copy of what was recorded so far.
func (w *RouteWatcher) Events() []RouteEvent { return w.log.all() }

// Wait returns the first change at or after since for which match is true.
func (w *RouteWatcher) Wait(ctx context.Context, since time.Time, match func(RouteEvent) bool) (RouteEvent, error) {
	return w.log.wait(ctx, func(e RouteEvent) bool { return !e.Time.Before(since) && match(e) })
}

// WaitNextHops returns the first change of prefix at or after since after
// which its next hops are exactly nextHops (none: the route is gone).
func (w *RouteWatcher) WaitNextHops(ctx context.Context, since time.Time, prefix netip.Prefix, nextHops ...string) (RouteEvent, error) {
	want := slices.Sorted(slices.Values(nextHops))
	return w.Wait(ctx, since, func(e RouteEvent) bool {
		return e.Prefix == prefix && slices.Equal(e.NextHops, want)
	})
}

package layer2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
)

// reconcile brings sockets, group memberships and answered sets in line with
// the owned set and the interfaces present now.
//
// The interfaces are listed every time: it is how an address gained finds an
// interface that appeared since the last scan, and it costs O(interfaces).
// When they are as at the last reconcile, only the addresses that changed
// since then are looked at: O(changed × interfaces) after UpdateOwned, plus
// a comparison of the owned sets (O(owned) lookups) after SetOwned.
// Otherwise, or when an error is to be retried or a packet loop died, every
// owned address is: O(owned × interfaces).
func (a *Announcer) reconcile(ctx context.Context) error {
	ifs, err := a.scan()
	if err != nil {
		a.log.Error(err, "Cannot list network interfaces, keeping the current ones")
		return nil
	}
	owned, changed, all := a.takeChanged()
	if a.full || !sameInterfaces(a.ifs, ifs) || a.anyBroken() {
		a.setInterfaces(ifs)
		a.done = owned
		return a.reconcileAll(ctx, owned)
	}
	if all {
		changed = owned.diff(a.done)
	}
	a.done = owned
	return a.reconcileChanged(ctx, owned, changed)
}

func (a *Announcer) setInterfaces(ifs []iface) {
	a.ifs = ifs
	a.byIfc = make(map[string]iface, len(ifs))
	for _, ifc := range ifs {
		a.byIfc[ifc.name] = ifc
	}
}

func (a *Announcer) anyBroken() bool {
	for _, l := range a.links {
		if l.broken.Load() {
			return true
		}
	}
	return false
}

// reconcileAll places every owned address afresh, reopens the links that
// changed or broke, and retries what failed before. O(owned × interfaces).
func (a *Announcer) reconcileAll(ctx context.Context, owned *ownership) error {
	want := selectInterfaces(owned.all(), a.ifs)
	a.reportPlacement(owned, want, a.ifs)
	for name, l := range a.links {
		ifc, present := a.byIfc[name]
		_, wanted := want[name]
		if !wanted || !present || !l.matches(ifc) || l.broken.Load() {
			l.close()
			delete(a.links, name)
		}
	}
	a.full = false
	for name, set := range want {
		l := a.linkFor(name)
		look := slices.Collect(maps.Keys(l.want))
		for ip := range set {
			if l.selectAddr(ip, true) {
				look = append(look, ip)
			}
		}
		for ip := range l.want {
			if !set.has(ip) {
				l.selectAddr(ip, false)
			}
		}
		if err := a.serveLink(ctx, l, look); err != nil {
			return err
		}
	}
	return nil
}

// reconcileChanged places the addresses of changed, and serves or stops
// serving them on the links they join or leave; the interfaces are those
// of the last reconcile. O(len(changed) × interfaces).
func (a *Announcer) reconcileChanged(ctx context.Context, owned *ownership, changed addrSet) error {
	look := make(map[string][]netip.Addr)
	unannounced := make(map[netip.Addr]string, len(changed))
	for ip := range changed {
		names := a.interfacesOf(ip, owned)
		for _, name := range a.placed[ip] {
			if l := a.links[name]; l != nil && !slices.Contains(names, name) && l.selectAddr(ip, false) {
				look[name] = append(look[name], ip)
			}
		}
		for _, name := range names {
			if a.linkFor(name).selectAddr(ip, true) {
				look[name] = append(look[name], ip)
			}
		}
		a.place(ip, owned, names, a.ifs, unannounced)
	}
	a.publishUnannounced(unannounced)
	for name, ips := range look {
		l := a.links[name]
		if len(l.want) == 0 {
			l.close()
			delete(a.links, name)
			continue
		}
		if err := a.serveLink(ctx, l, ips); err != nil {
			return err
		}
	}
	return nil
}

// linkFor returns the link serving the named interface, opened on the
// interface of the last scan if there is none yet.
func (a *Announcer) linkFor(name string) *link {
	l := a.links[name]
	if l == nil {
		l = newLink(a.byIfc[name], a.metrics)
		a.links[name] = l
	}
	return l
}

// serveLink opens or closes the link's sockets for the address families it
// wants, and for each address of look answers for it (after joining its
// group, with a takeover burst) if the link wants it and has its socket, or
// stops answering for it if not. Only a permission error is returned; any
// other makes the next reconcile retry everything.
func (a *Announcer) serveLink(ctx context.Context, l *link, look []netip.Addr) error {
	var errs []error
	var dropped []netip.Addr
	for _, ip := range look {
		if !l.want.has(ip) && l.answers(ip) {
			dropped = append(dropped, ip)
		}
	}
	l.answer.update(nil, dropped)
	for _, ip := range dropped {
		errs = append(errs, l.leave(ip))
	}
	for _, kind := range []FrameKind{ARPFrames, NDPFrames} {
		if !l.wants(kind) {
			l.closeSocket(kind)
			continue
		}
		s, err := l.open(kind, a.listen)
		errs = append(errs, err)
		if s != nil {
			a.wg.Go(func() { a.serve(l, s) })
		}
	}
	var gained []netip.Addr
	for _, ip := range look {
		if !l.want.has(ip) || l.answers(ip) || l.slot(kindOf(ip)).Load() == nil {
			continue
		}
		if err := l.join(ip); err != nil {
			errs = append(errs, err)
			continue
		}
		gained = append(gained, ip)
	}
	l.answer.update(gained, nil)
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("layer2: %w", err)
		}
		a.full = true
		if msg := err.Error(); msg != l.lastErr {
			l.lastErr = msg
			a.log.Error(err, "Cannot serve every address on interface, retrying on next scan", "interface", l.name)
		}
	} else {
		l.lastErr = ""
	}
	for _, ip := range gained {
		a.burst(ctx, l, ip)
	}
	return nil
}

// shutdown tears every link down and waits for their packet loops and bursts.
func (a *Announcer) shutdown() {
	for name, l := range a.links {
		l.close()
		delete(a.links, name)
	}
	a.wg.Wait()
}

package layer2

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// reconcile brings sockets, group memberships and answered sets in line with
// the owned set and the interfaces present now.
func (a *Announcer) reconcile(ctx context.Context) error {
	ifs, err := a.scan()
	if err != nil {
		a.log.Error(err, "Cannot list network interfaces, keeping the current ones")
		return nil
	}
	owned := *a.owned.Load()
	want := selectInterfaces(owned, ifs)
	a.reportPlacement(owned, want, ifs)

	byName := make(map[string]iface, len(ifs))
	for _, ifc := range ifs {
		byName[ifc.name] = ifc
	}
	for name, l := range a.links {
		ifc, present := byName[name]
		_, wanted := want[name]
		if !wanted || !present || !l.matches(ifc) || l.broken.Load() {
			l.close()
			delete(a.links, name)
		}
	}
	for name, set := range want {
		l := a.links[name]
		if l == nil {
			l = newLink(byName[name], a.metrics)
			a.links[name] = l
		}
		if err := a.serveLink(ctx, l, set); err != nil {
			return err
		}
	}
	return nil
}

// serveLink opens or closes the link's sockets for the address families in
// set, publishes the addresses it can serve, and starts a takeover burst for
// each one it did not serve before. Only a permission error is returned.
func (a *Announcer) serveLink(ctx context.Context, l *link, set addrSet) error {
	var errs []error
	for _, kind := range []FrameKind{ARPFrames, NDPFrames} {
		if !set.hasKind(kind) {
			l.closeSocket(kind)
			continue
		}
		s, err := l.open(kind, a.listen)
		errs = append(errs, err)
		if s != nil {
			a.wg.Go(func() { a.serve(l, s) })
		}
	}
	serve := make(addrSet, len(set))
	for ip := range set {
		if l.slot(kindOf(ip)).Load() != nil {
			serve[ip] = struct{}{}
		}
	}
	errs = append(errs, l.syncGroups(serve))
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("layer2: %w", err)
		}
		if msg := err.Error(); msg != l.lastErr {
			l.lastErr = msg
			a.log.Error(err, "Cannot serve every address on interface, retrying on next scan", "interface", l.name)
		}
	} else {
		l.lastErr = ""
	}

	before := l.answer.Load()
	l.answer.Store(&serve)
	for ip := range serve {
		if before == nil || !before.has(ip) {
			a.burst(ctx, l, ip)
		}
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

package layer2

import (
	"net/netip"
	"slices"
)

// reportPlacement records where every address goes after a full
// reconcile: see place. O(owned).
func (a *Announcer) reportPlacement(owned *ownership, want map[string]addrSet, ifs []iface) {
	names := make(map[netip.Addr][]string, owned.len())
	for name, set := range want {
		for ip := range set {
			names[ip] = append(names[ip], name)
		}
	}
	unannounced := make(map[netip.Addr]string, owned.len())
	for ip := range owned.all() {
		slices.Sort(names[ip])
		a.place(ip, owned, names[ip], ifs, unannounced)
	}
	for ip := range a.placed {
		if _, ok := owned.get(ip); !ok {
			a.place(ip, owned, nil, ifs, unannounced)
		}
	}
	a.publishUnannounced(unannounced)
}

// interfacesOf returns, sorted, the interfaces of the last scan ip is
// announced on: none when it is not owned.
func (a *Announcer) interfacesOf(ip netip.Addr, owned *ownership) []string {
	requested, ok := owned.get(ip)
	if !ok {
		return nil
	}
	names := interfacesFor(ip, requested, a.ifs)
	slices.Sort(names)
	return names
}

// place records that ip is announced on names (sorted), logging it only
// when that changes, keeps ironlb_layer2_address_interfaces in step (set
// when the number changes, deleted when ip is no longer owned), and notes
// in unannounced whether no interface can carry it, with why ("": it is
// carried or not owned), for publishUnannounced.
func (a *Announcer) place(ip netip.Addr, owned *ownership, names []string, ifs []iface, unannounced map[netip.Addr]string) {
	unannounced[ip] = ""
	requested, owns := owned.get(ip)
	prev, had := a.placed[ip]
	if !owns {
		if had {
			delete(a.placed, ip)
			a.metrics.interfaces.DeleteLabelValues(ip.String())
			a.log.Info("Stopped announcing address", "ip", ip)
		}
		return
	}
	a.placed[ip] = names
	if !had || len(prev) != len(names) {
		a.metrics.interfaces.WithLabelValues(ip.String()).Set(float64(len(names)))
	}
	if len(names) == 0 {
		unannounced[ip] = whyNoInterface(ip, requested, ifs)
	}
	if had && slices.Equal(prev, names) {
		return
	}
	if len(names) == 0 {
		a.log.Info("No interface to announce address on: nobody answers ARP/NDP for it",
			"ip", ip, "requestedInterfaces", requested, "reason", unannounced[ip])
		return
	}
	a.log.Info("Announcing address", "ip", ip, "interfaces", names)
}

// publishUnannounced applies what place noted to what Unannounced returns,
// all at once.
func (a *Announcer) publishUnannounced(unannounced map[netip.Addr]string) {
	a.unMu.Lock()
	defer a.unMu.Unlock()
	for ip, why := range unannounced {
		if why == "" {
			delete(a.unannounced, ip)
		} else {
			a.unannounced[ip] = why
		}
	}
}

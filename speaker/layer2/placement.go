package layer2

import (
	"net/netip"
	"slices"
)

// reportPlacement logs where each address is announced, only when that
// changes, keeps ironlb_layer2_address_interfaces in step, and publishes the
// addresses no interface can carry, with why, for Unannounced.
func (a *Announcer) reportPlacement(owned ownership, want map[string]addrSet, ifs []iface) {
	placed := make(map[netip.Addr][]string, len(owned))
	for ip := range owned {
		placed[ip] = nil
	}
	for name, set := range want {
		for ip := range set {
			placed[ip] = append(placed[ip], name)
		}
	}
	unannounced := make(map[netip.Addr]string)
	for ip, names := range placed {
		slices.Sort(names)
		a.metrics.interfaces.WithLabelValues(ip.String()).Set(float64(len(names)))
		if len(names) == 0 {
			unannounced[ip] = whyNoInterface(ip, owned[ip], ifs)
		}
		if prev, ok := a.placed[ip]; ok && slices.Equal(prev, names) {
			continue
		}
		if len(names) == 0 {
			a.log.Info("No interface to announce address on: nobody answers ARP/NDP for it",
				"ip", ip, "requestedInterfaces", owned[ip], "reason", unannounced[ip])
			continue
		}
		a.log.Info("Announcing address", "ip", ip, "interfaces", names)
	}
	for ip := range a.placed {
		if _, ok := placed[ip]; !ok {
			a.metrics.interfaces.DeleteLabelValues(ip.String())
			a.log.Info("Stopped announcing address", "ip", ip)
		}
	}
	a.placed = placed
	a.unannounced.Store(&unannounced)
}

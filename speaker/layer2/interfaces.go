package layer2

import (
	"bytes"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// iface is one network interface as interface selection sees it: the plain
// values netlink reports, and nothing derived, so that the choice below is a
// pure function of them.
type iface struct {
	name  string
	index int
	mtu   int
	hw    net.HardwareAddr
	// kind is IFLA_INFO_KIND: "" for a NIC, else what created the link
	// ("veth", "bridge", "vxlan", "bond", "vlan"...).
	kind string
	// flags are the IFF_* link flags.
	flags    uint32
	prefixes []netip.Prefix
	// linkLocal is where the socket holding the solicited-node group
	// memberships is bound (MLD reports are sent from it). Zero when the link
	// has none usable (IPv6 off, or still in duplicate address detection):
	// then IPv6 addresses are not announced on it.
	linkLocal netip.Addr
}

// up: administratively up and with carrier. A link that loses carrier is
// dropped and, when it comes back, announced afresh.
func (ifc iface) up() bool {
	return ifc.flags&unix.IFF_UP != 0 && ifc.flags&unix.IFF_RUNNING != 0
}

// canARP: not loopback, broadcast-capable, ARP not disabled, an Ethernet
// MAC. Only on such links do the frames we build mean anything.
func (ifc iface) canARP() bool {
	return ifc.flags&(unix.IFF_LOOPBACK|unix.IFF_NOARP) == 0 && ifc.flags&unix.IFF_BROADCAST != 0 &&
		len(ifc.hw) == ethAddrLen && !isGroupMAC(ifc.hw)
}

func (ifc iface) onSubnet(ip netip.Addr) bool {
	for _, p := range ifc.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// carries reports whether ip can be announced on the interface right now.
func (ifc iface) carries(ip netip.Addr) bool {
	return ifc.canARP() && ifc.up() && (ip.Is4() || ifc.linkLocal.IsValid())
}

// uplinkKinds are the kinds of link that make up the node's own networks: a
// NIC (no kind), and bonds, teams, VLANs and macvlans built on NICs (pods'
// macvlans live in the pods' namespaces, not here). Veths, bridges and
// tunnels (vxlan, geneve, wireguard...) lead to pods, VMs or overlays:
// answering there would draw traffic from networks nobody chose.
var uplinkKinds = map[string]bool{"": true, "bond": true, "team": true, "vlan": true, "macvlan": true}

// isUplink reports whether the interface is one of the node's own networks.
func (ifc iface) isUplink() bool { return uplinkKinds[ifc.kind] }

// hasAddressOf reports whether the interface has an address of ip's family
// beyond link-local ones (every IPv6 link has one of those), i.e. the node
// takes part in that family's network there.
func (ifc iface) hasAddressOf(ip netip.Addr) bool {
	for _, p := range ifc.prefixes {
		a := p.Addr()
		if a.Is4() == ip.Is4() && !a.IsLinkLocalUnicast() && !a.IsLoopback() {
			return true
		}
	}
	return false
}

// fallbackCarries reports whether ip, which no interface's subnet holds and
// no advertisement names an interface for, is announced on the interface.
func (ifc iface) fallbackCarries(ip netip.Addr) bool {
	return ifc.isUplink() && ifc.hasAddressOf(ip) && ifc.carries(ip)
}

// interfacesFor decides on which interfaces ip is announced:
//   - names given (the L2Advertisement's interfaces): those of them that exist
//     and can carry it, whatever their kind: naming is how a bridge or a veth
//     is chosen on purpose;
//   - else the interfaces having an address whose prefix contains it (the link
//     its subnet lives on). A subnet match on a link that is down does not
//     widen the choice: the address stays there and comes back with the link;
//   - else the node's uplinks (see uplinkKinds) that are up and have an
//     address of its family; never a veth, bridge or tunnel.
func interfacesFor(ip netip.Addr, names []string, ifs []iface) []string {
	var out []string
	switch {
	case len(names) > 0:
		for _, ifc := range ifs {
			if slices.Contains(names, ifc.name) && ifc.carries(ip) {
				out = append(out, ifc.name)
			}
		}
	case slices.ContainsFunc(ifs, func(ifc iface) bool { return ifc.canARP() && ifc.onSubnet(ip) }):
		for _, ifc := range ifs {
			if ifc.onSubnet(ip) && ifc.carries(ip) {
				out = append(out, ifc.name)
			}
		}
	default:
		for _, ifc := range ifs {
			if ifc.fallbackCarries(ip) {
				out = append(out, ifc.name)
			}
		}
	}
	return out
}

// whyNoInterface says why interfacesFor found nothing for ip, for the log
// line and for whoever reports it further, with what to change.
func whyNoInterface(ip netip.Addr, names []string, ifs []iface) string {
	family := "IPv4"
	if ip.Is6() {
		family = "IPv6"
	}
	if len(names) > 0 {
		return fmt.Sprintf("none of the interfaces named in the L2Advertisement (%s) exists, is up and answers ARP/NDP",
			strings.Join(names, ", "))
	}
	var subnet []string
	for _, ifc := range ifs {
		if ifc.canARP() && ifc.onSubnet(ip) {
			subnet = append(subnet, ifc.name)
		}
	}
	if len(subnet) > 0 {
		return fmt.Sprintf("the interfaces on its subnet (%s) are down or cannot answer for %s addresses yet",
			strings.Join(subnet, ", "), family)
	}
	return fmt.Sprintf("no interface is on its subnet, and no NIC, bond, team, VLAN or macvlan is up with an %s address; "+
		"name the interface to announce it on in the L2Advertisement's spec.interfaces", family)
}

// selectInterfaces decides, with interfacesFor, on which interfaces each owned
// address is announced, and returns the addresses per interface name.
func selectInterfaces(owned iter.Seq2[netip.Addr, []string], ifs []iface) map[string]addrSet {
	out := make(map[string]addrSet)
	for ip, names := range owned {
		for _, name := range interfacesFor(ip, names, ifs) {
			set := out[name]
			if set == nil {
				set = make(addrSet)
				out[name] = set
			}
			set[ip] = struct{}{}
		}
	}
	return out
}

// sameInterfaces reports whether two scans found the same interfaces, in the
// same order, with the same values: then every address stays where it was.
func sameInterfaces(a, b []iface) bool {
	return slices.EqualFunc(a, b, func(x, y iface) bool {
		return x.name == y.name && x.index == y.index && x.mtu == y.mtu && bytes.Equal(x.hw, y.hw) &&
			x.kind == y.kind && x.flags == y.flags && slices.Equal(x.prefixes, y.prefixes) && x.linkLocal == y.linkLocal
	})
}

package layer2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// addrSet is a set of addresses; published sets are never modified.
type addrSet map[netip.Addr]struct{}

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
func selectInterfaces(owned map[netip.Addr][]string, ifs []iface) map[string]addrSet {
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

// scanInterfaces lists the interfaces of the calling thread's network
// namespace with their addresses: one netlink dump of links and one of
// addresses, whatever the number of interfaces (a node may have hundreds of
// pod veths). Raw link flags are read because net.Interface hides IFF_NOARP.
func scanInterfaces() ([]iface, error) {
	links, err := netlinkDump(syscall.RTM_GETLINK)
	if err != nil {
		return nil, err
	}
	var ifs []iface
	byIndex := make(map[int]int)
	for i := range links {
		ifc, ok := parseLink(&links[i])
		if !ok {
			continue
		}
		byIndex[ifc.index] = len(ifs)
		ifs = append(ifs, ifc)
	}
	addrs, err := netlinkDump(syscall.RTM_GETADDR)
	if err != nil {
		return nil, err
	}
	for i := range addrs {
		index, prefix, usable, ok := parseAddr(&addrs[i])
		if !ok {
			continue
		}
		at, found := byIndex[index]
		if !found {
			continue
		}
		ifc := &ifs[at]
		ifc.prefixes = append(ifc.prefixes, prefix)
		if usable && prefix.Addr().Is6() && prefix.Addr().IsLinkLocalUnicast() && !ifc.linkLocal.IsValid() {
			ifc.linkLocal = prefix.Addr()
		}
	}
	return ifs, nil
}

func netlinkDump(kind int) ([]syscall.NetlinkMessage, error) {
	rib, err := syscall.NetlinkRIB(kind, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("netlink dump %d: %w", kind, err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("parse netlink dump %d: %w", kind, err)
	}
	return msgs, nil
}

func parseLink(m *syscall.NetlinkMessage) (iface, bool) {
	if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
		return iface{}, false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return iface{}, false
	}
	ifc := iface{
		index: int(int32(binary.NativeEndian.Uint32(m.Data[4:8]))),
		flags: binary.NativeEndian.Uint32(m.Data[8:12]),
	}
	for _, a := range attrs {
		switch a.Attr.Type & nlaTypeMask {
		case unix.IFLA_IFNAME:
			ifc.name = cString(a.Value)
		case unix.IFLA_ADDRESS:
			ifc.hw = slices.Clone(a.Value)
		case unix.IFLA_MTU:
			if len(a.Value) >= 4 {
				ifc.mtu = int(binary.NativeEndian.Uint32(a.Value))
			}
		case unix.IFLA_LINKINFO:
			ifc.kind = linkKind(a.Value)
		}
	}
	return ifc, ifc.name != ""
}

// nlaTypeMask strips the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits off an
// attribute type.
const nlaTypeMask = 0x3fff

// linkKind finds IFLA_INFO_KIND among the attributes nested in
// IFLA_LINKINFO. A NIC has no IFLA_LINKINFO at all, hence kind "".
func linkKind(nested []byte) string {
	for len(nested) >= unix.SizeofRtAttr {
		size := int(binary.NativeEndian.Uint16(nested[0:2]))
		typ := binary.NativeEndian.Uint16(nested[2:4]) & nlaTypeMask
		if size < unix.SizeofRtAttr || size > len(nested) {
			return ""
		}
		if typ == unix.IFLA_INFO_KIND {
			return cString(nested[unix.SizeofRtAttr:size])
		}
		nested = nested[min(len(nested), (size+3)&^3):] // attributes are 4-byte aligned
	}
	return ""
}

func cString(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }

// parseAddr decodes one RTM_NEWADDR message. usable is false while the
// address is tentative or failed duplicate address detection: it cannot be
// bound or sent from yet.
func parseAddr(m *syscall.NetlinkMessage) (index int, prefix netip.Prefix, usable, ok bool) {
	if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
		return 0, prefix, false, false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return 0, prefix, false, false
	}
	bits := int(m.Data[1])
	flags := uint32(m.Data[2])
	index = int(binary.NativeEndian.Uint32(m.Data[4:8]))
	var local, address netip.Addr
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(a.Value)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(a.Value)
		case unix.IFA_FLAGS:
			if len(a.Value) >= 4 {
				flags = binary.NativeEndian.Uint32(a.Value)
			}
		}
	}
	// On point-to-point IPv4 links IFA_ADDRESS is the peer; IFA_LOCAL is ours.
	ip := local
	if !ip.IsValid() {
		ip = address
	}
	// Keep the host bits: the prefix says where the address lives, Contains ignores them.
	prefix = netip.PrefixFrom(ip, bits)
	if !prefix.IsValid() {
		return 0, prefix, false, false
	}
	usable = flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
	return index, prefix, usable, true
}

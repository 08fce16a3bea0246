package layer2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// addrSet is a set of addresses; published sets are never modified.
type addrSet map[netip.Addr]struct{}

// iface is one network interface as interface selection sees it.
type iface struct {
	name  string
	index int
	mtu   int
	hw    net.HardwareAddr
	// up: administratively up and with carrier. A link that loses carrier is
	// dropped and, when it comes back, announced afresh.
	up bool
	// canARP: not loopback, broadcast-capable, ARP not disabled, an Ethernet
	// MAC. Only on such links do the frames we build mean anything.
	canARP   bool
	prefixes []netip.Prefix
	// linkLocal is where the socket holding the solicited-node group
	// memberships is bound (MLD reports are sent from it). Zero when the link
	// has none usable (IPv6 off, or still in duplicate address detection):
	// then IPv6 addresses are not announced on it.
	linkLocal netip.Addr
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
	return ifc.canARP && ifc.up && (ip.Is4() || ifc.linkLocal.IsValid())
}

// selectInterfaces decides on which interfaces each owned address is
// announced, and returns the addresses per interface name.
//
// An address with interface names is announced on those of them that exist
// and can carry it. One without is announced on the interfaces having an
// address whose prefix contains it (the link its subnet lives on); when no
// interface has such a prefix, on every interface that can carry it. A subnet
// match on a link that is down does not widen the choice to every interface:
// the address stays where its subnet is and comes back with the link.
func selectInterfaces(owned map[netip.Addr][]string, ifs []iface) map[string]addrSet {
	out := make(map[string]addrSet)
	add := func(name string, ip netip.Addr) {
		set := out[name]
		if set == nil {
			set = make(addrSet)
			out[name] = set
		}
		set[ip] = struct{}{}
	}
	for ip, names := range owned {
		if len(names) > 0 {
			for _, ifc := range ifs {
				if slices.Contains(names, ifc.name) && ifc.carries(ip) {
					add(ifc.name, ip)
				}
			}
			continue
		}
		subnetKnown := slices.ContainsFunc(ifs, func(ifc iface) bool { return ifc.canARP && ifc.onSubnet(ip) })
		for _, ifc := range ifs {
			if (!subnetKnown || ifc.onSubnet(ip)) && ifc.carries(ip) {
				add(ifc.name, ip)
			}
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
	flags := binary.NativeEndian.Uint32(m.Data[8:12])
	ifc := iface{
		index: int(int32(binary.NativeEndian.Uint32(m.Data[4:8]))),
		up:    flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0,
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFLA_IFNAME:
			ifc.name = string(bytes.TrimRight(a.Value, "\x00"))
		case unix.IFLA_ADDRESS:
			ifc.hw = slices.Clone(a.Value)
		case unix.IFLA_MTU:
			if len(a.Value) >= 4 {
				ifc.mtu = int(binary.NativeEndian.Uint32(a.Value))
			}
		}
	}
	ifc.canARP = flags&(unix.IFF_LOOPBACK|unix.IFF_NOARP) == 0 && flags&unix.IFF_BROADCAST != 0 &&
		len(ifc.hw) == ethAddrLen && !isGroupMAC(ifc.hw)
	return ifc, ifc.name != ""
}

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

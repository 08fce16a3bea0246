package layer2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

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

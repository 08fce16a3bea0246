package layer2

import (
	"encoding/binary"
	"maps"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func testIface(name string, prefixes ...string) iface {
	ifc := iface{
		name:      name,
		hw:        net.HardwareAddr{0x02, 0, 0, 0, 0, byte(len(name))},
		flags:     upFlags,
		linkLocal: netip.MustParseAddr("fe80::1"),
	}
	for _, p := range prefixes {
		ifc.prefixes = append(ifc.prefixes, netip.MustParsePrefix(p))
	}
	return ifc
}

func with(ifc iface, fn func(*iface)) iface {
	fn(&ifc)
	return ifc
}

// placement turns selectInterfaces' result into sorted address lists per
// interface, for readable diffs.
func placement(sel map[string]addrSet) map[string][]string {
	out := make(map[string][]string)
	for name, set := range sel {
		for ip := range set {
			out[name] = append(out[name], ip.String())
		}
		slices.Sort(out[name])
	}
	return out
}

func TestSelectInterfaces(t *testing.T) {
	eth0 := testIface("eth0", "192.0.2.11/24", "2001:db8::11/64", "fe80::1/64")
	eth1 := testIface("eth1", "198.51.100.11/24")
	lo := with(testIface("lo", "127.0.0.1/8", "203.0.113.77/32"), func(i *iface) { i.flags |= unix.IFF_LOOPBACK })
	noARP := with(testIface("kube-ipvs0", "192.0.2.50/32"), func(i *iface) { i.flags |= unix.IFF_NOARP })
	tests := []struct {
		name  string
		owned map[netip.Addr][]string
		ifs   []iface
		want  map[string][]string
	}{
		{
			name:  "address on a subnet of one interface goes there only",
			owned: map[netip.Addr][]string{vip4: nil},
			ifs:   []iface{eth0, eth1, lo},
			want:  map[string][]string{"eth0": {"192.0.2.50"}},
		},
		{
			name:  "IPv6 address on a subnet of one interface goes there only",
			owned: map[netip.Addr][]string{vip6: nil},
			ifs:   []iface{eth0, eth1},
			want:  map[string][]string{"eth0": {"2001:db8::50"}},
		},
		{
			name:  "address on no known subnet goes to every NIC that can carry it",
			owned: map[netip.Addr][]string{netip.MustParseAddr("203.0.113.10"): nil},
			ifs:   []iface{eth0, eth1, lo},
			want:  map[string][]string{"eth0": {"203.0.113.10"}, "eth1": {"203.0.113.10"}},
		},
		{
			name:  "subnet known only on loopback does not count",
			owned: map[netip.Addr][]string{netip.MustParseAddr("203.0.113.77"): nil},
			ifs:   []iface{eth0, eth1, lo},
			want:  map[string][]string{"eth0": {"203.0.113.77"}, "eth1": {"203.0.113.77"}},
		},
		{
			name:  "address assigned to a NOARP interface does not pull it in",
			owned: map[netip.Addr][]string{vip4: nil},
			ifs:   []iface{eth0, eth1, noARP},
			want:  map[string][]string{"eth0": {"192.0.2.50"}},
		},
		{
			name:  "named interfaces win over the subnet",
			owned: map[netip.Addr][]string{vip4: {"eth1"}},
			ifs:   []iface{eth0, eth1},
			want:  map[string][]string{"eth1": {"192.0.2.50"}},
		},
		{
			name:  "named interface that does not exist yet gets nothing",
			owned: map[netip.Addr][]string{vip4: {"eth2"}},
			ifs:   []iface{eth0, eth1},
			want:  map[string][]string{},
		},
		{
			name:  "named loopback is never used",
			owned: map[netip.Addr][]string{vip4: {"lo", "eth0"}},
			ifs:   []iface{eth0, lo},
			want:  map[string][]string{"eth0": {"192.0.2.50"}},
		},
		{
			name:  "subnet interface that is down keeps the address off the others",
			owned: map[netip.Addr][]string{vip4: nil},
			ifs:   []iface{with(eth0, func(i *iface) { i.flags &^= unix.IFF_UP }), eth1},
			want:  map[string][]string{},
		},
		{
			name:  "IPv6 address skips an interface without a usable link-local address",
			owned: map[netip.Addr][]string{vip6: nil, vip4: nil},
			ifs:   []iface{with(eth0, func(i *iface) { i.linkLocal = netip.Addr{} }), eth1},
			want:  map[string][]string{"eth0": {"192.0.2.50"}},
		},
		{
			name: "several addresses share and split interfaces",
			owned: map[netip.Addr][]string{
				vip4:                                 nil,
				vip6:                                 nil,
				netip.MustParseAddr("198.51.100.50"): nil,
				netip.MustParseAddr("203.0.113.10"):  {"eth1"},
			},
			ifs: []iface{eth0, eth1},
			want: map[string][]string{
				"eth0": {"192.0.2.50", "2001:db8::50"},
				"eth1": {"198.51.100.50", "203.0.113.10"},
			},
		},
		{
			name:  "nothing owned, nothing selected",
			owned: map[netip.Addr][]string{},
			ifs:   []iface{eth0, eth1},
			want:  map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := placement(selectInterfaces(maps.All(tt.owned), tt.ifs))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected selection (-want +got):\n%s", diff)
			}
		})
	}
}

// Link flags of an Ethernet interface that is up, as netlink reports them.
const upFlags = unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_BROADCAST | unix.IFF_MULTICAST

// netlinkIface is an interface as scanInterfaces builds it from netlink's plain
// values: name, kind (IFLA_INFO_KIND: "" for a NIC), IFF_* flags and
// addresses. It goes through parseLink, so the table below also checks what
// is read from a real RTM_NEWLINK message.
func netlinkIface(t *testing.T, index int, name, kind string, flags uint32, addrs ...string) iface {
	t.Helper()
	attrs := rtattr(unix.IFLA_IFNAME, append([]byte(name), 0))
	attrs = append(attrs, rtattr(unix.IFLA_ADDRESS, []byte{0x02, 0, 0, 0, 0, byte(index)})...)
	attrs = append(attrs, rtattr(unix.IFLA_MTU, binary.NativeEndian.AppendUint32(nil, 1500))...)
	if kind != "" {
		attrs = append(attrs, rtattr(unix.IFLA_LINKINFO, rtattr(unix.IFLA_INFO_KIND, append([]byte(kind), 0)))...)
	}
	info := make([]byte, syscall.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(info[4:8], uint32(index))
	binary.NativeEndian.PutUint32(info[8:12], flags)
	msg := syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: syscall.RTM_NEWLINK}, Data: append(info, attrs...)}
	ifc, ok := parseLink(&msg)
	if !ok {
		t.Fatalf("parseLink refused %s", name)
	}
	for _, a := range addrs {
		p := netip.MustParsePrefix(a)
		ifc.prefixes = append(ifc.prefixes, p)
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() && !ifc.linkLocal.IsValid() {
			ifc.linkLocal = p.Addr()
		}
	}
	return ifc
}

// rtattr encodes one netlink attribute, padded to 4 bytes.
func rtattr(typ uint16, value []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(unix.SizeofRtAttr+len(value)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, value...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Issue 9: an address on no subnet of the node used to be answered for on
// every interface, pod veths and bridges included. It now goes only where
// the node's own networks are: NICs, bonds and VLANs that are up and have an
// address of its family; anything else only when named.
func TestInterfaceChoice(t *testing.T) {
	eth0 := netlinkIface(t, 1, "eth0", "", upFlags, "192.0.2.11/26", "2001:db8::11/64", "fe80::11/64")
	bond0 := netlinkIface(t, 2, "bond0", "bond", upFlags, "192.0.2.75/26", "fe80::12/64")
	vlan := netlinkIface(t, 3, "eth1.100", "vlan", upFlags, "192.0.2.139/26", "fe80::13/64")
	br0 := netlinkIface(t, 4, "br0", "bridge", upFlags, "198.51.100.11/26", "fe80::14/64")
	mv0 := netlinkIface(t, 5, "mv0", "macvlan", upFlags, "192.0.2.200/26", "fe80::15/64")
	others := []iface{
		netlinkIface(t, 10, "veth1a2b3c", "veth", upFlags, "fe80::20/64"),
		netlinkIface(t, 11, "cni0", "bridge", upFlags, "198.51.100.65/26", "fe80::21/64"),
		netlinkIface(t, 12, "flannel.1", "vxlan", upFlags, "198.51.100.128/32", "fe80::22/64"),
		netlinkIface(t, 13, "cilium_host", "veth", upFlags, "198.51.100.129/32", "fe80::23/64"),
		netlinkIface(t, 14, "genev_sys_6081", "geneve", upFlags, "fe80::24/64"),
		netlinkIface(t, 15, "kube-ipvs0", "dummy", upFlags|unix.IFF_NOARP, "198.51.100.130/32"),
		netlinkIface(t, 16, "lo", "", unix.IFF_UP|unix.IFF_RUNNING|unix.IFF_LOOPBACK, "127.0.0.1/8", "::1/128"),
		netlinkIface(t, 17, "eth2", "", upFlags&^unix.IFF_RUNNING, "198.51.100.193/26", "fe80::25/64"), // no carrier
		netlinkIface(t, 18, "eth3", "", upFlags, "169.254.0.11/16", "fe80::26/64"),                     // link-local only
	}
	all := append([]iface{eth0, bond0, vlan, br0, mv0}, others...)
	off4, off6 := netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("2001:db8:64::10")
	tests := []struct {
		name  string
		owned map[netip.Addr][]string
		want  map[string][]string
	}{
		{
			name:  "IPv4 address on no subnet: NICs, bonds, VLANs and macvlans with an IPv4 address",
			owned: map[netip.Addr][]string{off4: nil},
			want: map[string][]string{
				"eth0": {"203.0.113.10"}, "bond0": {"203.0.113.10"}, "eth1.100": {"203.0.113.10"}, "mv0": {"203.0.113.10"},
			},
		},
		{
			name:  "IPv6 address on no subnet: only where the node has a global IPv6 address",
			owned: map[netip.Addr][]string{off6: nil},
			want:  map[string][]string{"eth0": {"2001:db8:64::10"}},
		},
		{
			name:  "a bridge holding the address's subnet still carries it",
			owned: map[netip.Addr][]string{netip.MustParseAddr("198.51.100.50"): nil},
			want:  map[string][]string{"br0": {"198.51.100.50"}},
		},
		{
			name:  "a veth, a bridge or a tunnel is used when named",
			owned: map[netip.Addr][]string{off4: {"veth1a2b3c", "cni0", "flannel.1"}},
			want:  map[string][]string{"veth1a2b3c": {"203.0.113.10"}, "cni0": {"203.0.113.10"}, "flannel.1": {"203.0.113.10"}},
		},
		{
			name:  "named or not, never loopback, NOARP or a link without carrier",
			owned: map[netip.Addr][]string{off4: {"lo", "kube-ipvs0", "eth2"}},
			want:  map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := placement(selectInterfaces(maps.All(tt.owned), all))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected selection (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("only pod and tunnel links: nothing", func(t *testing.T) {
		got := placement(selectInterfaces(maps.All(map[netip.Addr][]string{off4: nil, off6: nil}), others))
		if diff := cmp.Diff(map[string][]string{}, got); diff != "" {
			t.Errorf("unexpected selection (-want +got):\n%s", diff)
		}
	})
}

// The log line and the status of an address nobody answers for say why, and
// what to change.
func TestWhyNoInterface(t *testing.T) {
	veth := netlinkIface(t, 10, "veth1a2b3c", "veth", upFlags, "fe80::20/64")
	eth0 := netlinkIface(t, 1, "eth0", "", upFlags, "192.0.2.11/24")
	down := with(eth0, func(i *iface) { i.flags &^= unix.IFF_RUNNING })
	tests := []struct {
		name  string
		ip    string
		names []string
		ifs   []iface
		want  string
	}{
		{"named interfaces missing", "203.0.113.10", []string{"eth7", "eth8"}, []iface{eth0},
			"none of the interfaces named in the L2Advertisement (eth7, eth8) exists, is up and answers ARP/NDP"},
		{"subnet's link down", "192.0.2.50", nil, []iface{down, veth},
			"the interfaces on its subnet (eth0) are down or cannot answer for IPv4 addresses yet"},
		{"only pod links", "203.0.113.10", nil, []iface{veth},
			"no interface is on its subnet, and no NIC, bond, team, VLAN or macvlan is up with an IPv4 address; name the interface to announce it on in the L2Advertisement's spec.interfaces"},
		{"no IPv6 network", "2001:db8:64::10", nil, []iface{eth0, veth},
			"no interface is on its subnet, and no NIC, bond, team, VLAN or macvlan is up with an IPv6 address; name the interface to announce it on in the L2Advertisement's spec.interfaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			if got := interfacesFor(ip, tt.names, tt.ifs); len(got) != 0 {
				t.Fatalf("interfacesFor = %v, want none", got)
			}
			if got := whyNoInterface(ip, tt.names, tt.ifs); got != tt.want {
				t.Errorf("whyNoInterface =\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
}

package lab

import (
	"context"
	"net"
	"net/netip"
)

// Host is one machine of the lab: a network namespace plugged into the bridge.
type Host struct {
	// Name is the role ("node-a", "client", "router"); for nodes it is also
	// the Kubernetes Node name.
	Name string
	// Netns is the network namespace the host lives in.
	Netns string
	// IPv4 and IPv6 are the addresses of eth0 on the lab LAN.
	IPv4, IPv6 netip.Addr
	// MAC is the hardware address of eth0.
	MAC net.HardwareAddr
	// MAC2 is the hardware address of eth1 with Options.SecondLAN, else nil.
	MAC2 net.HardwareAddr

	// port is the bridge port of eth0 in the switch namespace.
	port string
	// index is the last byte of every address of the host.
	index byte
}

// Lab LAN addressing. The bridge carries 198.51.100.0/24 and 2001:db8:100::/64;
// the second LAN 192.0.2.0/24 and 2001:db8:101::/64.
var (
	lan4     = netip.MustParsePrefix("198.51.100.0/24")
	lan6     = netip.MustParsePrefix("2001:db8:100::/64")
	lan2v4   = netip.MustParsePrefix("192.0.2.0/24")
	lan2v6   = netip.MustParsePrefix("2001:db8:101::/64")
	rootHost = byte(254)
)

// hostAddr returns the address of host i in prefix p. IPv4 ends in byte i;
// IPv6 ends in the decimal digits of i read as hex, so node .11 is also ::11.
func hostAddr(p netip.Prefix, i byte) netip.Addr {
	if p.Addr().Is4() {
		b := p.Addr().As4()
		b[3] = i
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	b[14], b[15] = bcd(i)
	return netip.AddrFrom16(b)
}

// bcd spells i in two bytes of binary-coded decimal: 254 -> 0x02 0x54.
func bcd(i byte) (byte, byte) {
	return i / 100, (i/10%10)<<4 | i%10
}

// hostMAC derives a locally administered MAC from the LAN and the host index,
// so a MAC in a test log tells which host it is: node .11 on the first LAN is
// 02:1b:01:00:00:11, the client .100 is 02:1b:01:00:01:00.
func hostMAC(lan, i byte) net.HardwareAddr {
	hi, lo := bcd(i)
	return net.HardwareAddr{0x02, 0x1b, lan, 0, hi, lo}
}

func newHost(prefix, name string, i byte) *Host {
	return &Host{
		Name:  name,
		Netns: prefix + name,
		IPv4:  hostAddr(lan4, i),
		IPv6:  hostAddr(lan6, i),
		MAC:   hostMAC(1, i),
		port:  name,
		index: i,
	}
}

// plug creates h's namespace, and a veth pair with eth0 (and eth1 when
// secondLAN) in h and the other end on the bridges of the switch namespace.
func (h *Host) plug(ctx context.Context, switchNS string, secondLAN bool) error {
	if err := addNetns(ctx, h.Netns); err != nil {
		return err
	}
	if err := plugLink(ctx, h.Netns, "eth0", switchNS, h.port, "br0", h.MAC,
		netip.PrefixFrom(h.IPv4, lan4.Bits()), netip.PrefixFrom(h.IPv6, lan6.Bits())); err != nil {
		return err
	}
	if !secondLAN {
		return nil
	}
	h.MAC2 = hostMAC(2, h.index)
	return plugLink(ctx, h.Netns, "eth1", switchNS, h.port+"-2", "br1", h.MAC2,
		netip.PrefixFrom(hostAddr(lan2v4, h.index), lan2v4.Bits()),
		netip.PrefixFrom(hostAddr(lan2v6, h.index), lan2v6.Bits()))
}

// plugLink connects ifname in ns to bridge br in switchNS through port.
func plugLink(ctx context.Context, ns, ifname, switchNS, port, br string, mac net.HardwareAddr, addrs ...netip.Prefix) error {
	if err := ip(ctx, "link", "add", ifname, "netns", ns, "address", mac.String(),
		"type", "veth", "peer", "name", port, "netns", switchNS); err != nil {
		return err
	}
	if err := ip(ctx, "-n", switchNS, "link", "set", port, "master", br, "up"); err != nil {
		return err
	}
	for _, a := range addrs {
		if err := ip(ctx, "-n", ns, "addr", "add", a.String(), "dev", ifname, "nodad"); err != nil {
			return err
		}
	}
	return ip(ctx, "-n", ns, "link", "set", ifname, "up")
}

// makeSwitch creates the switch namespace with bridge br0 (and br1): a dumb
// switch, without STP (ports forward at once) and without multicast snooping
// (NDP solicitations are flooded like on most access switches).
func makeSwitch(ctx context.Context, ns string, secondLAN bool) error {
	if err := addNetns(ctx, ns); err != nil {
		return err
	}
	// The switch itself takes no part in IPv6: no router solicitations from it.
	if err := sysctl(ctx, ns, map[string]string{
		"net.ipv6.conf.all.disable_ipv6":     "1",
		"net.ipv6.conf.default.disable_ipv6": "1",
	}); err != nil {
		return err
	}
	bridges := []string{"br0"}
	if secondLAN {
		bridges = append(bridges, "br1")
	}
	for _, br := range bridges {
		if err := ip(ctx, "-n", ns, "link", "add", br, "type", "bridge",
			"stp_state", "0", "mcast_snooping", "0"); err != nil {
			return err
		}
		if err := ip(ctx, "-n", ns, "link", "set", br, "up"); err != nil {
			return err
		}
	}
	return nil
}

// The remote network hangs off the router's eth1: only the router's BGP
// routes lead from it to a VIP.
var (
	remoteNet4 = netip.MustParsePrefix("203.0.113.192/26")
	remoteNet6 = netip.MustParsePrefix("2001:db8:114::/64")
)

// plugRemote creates the remote client, wired straight to the router's
// eth1, with the router as its default gateway; the router forwards, and
// every node routes the remote network back through the router.
func (l *Lab) plugRemote(ctx context.Context) (*Host, error) {
	r := l.Router
	h := &Host{Name: "remote", Netns: l.prefix + "remote",
		IPv4: hostAddr(remoteNet4, 200), IPv6: hostAddr(remoteNet6, 200), MAC: hostMAC(3, 200)}
	gw4, gw6 := hostAddr(remoteNet4, 193), hostAddr(remoteNet6, 193)
	if err := addNetns(ctx, h.Netns); err != nil {
		return nil, err
	}
	if err := ip(ctx, "link", "add", "eth0", "netns", h.Netns, "address", h.MAC.String(),
		"type", "veth", "peer", "name", "eth1", "netns", r.Netns); err != nil {
		return nil, err
	}
	ends := []struct {
		ns     string
		ifname string
		v4, v6 netip.Addr
	}{{h.Netns, "eth0", h.IPv4, h.IPv6}, {r.Netns, "eth1", gw4, gw6}}
	for _, e := range ends {
		for _, a := range []netip.Prefix{netip.PrefixFrom(e.v4, remoteNet4.Bits()), netip.PrefixFrom(e.v6, remoteNet6.Bits())} {
			if err := ip(ctx, "-n", e.ns, "addr", "add", a.String(), "dev", e.ifname, "nodad"); err != nil {
				return nil, err
			}
		}
		if err := ip(ctx, "-n", e.ns, "link", "set", e.ifname, "up"); err != nil {
			return nil, err
		}
	}
	for _, gw := range []netip.Addr{gw4, gw6} {
		if err := ip(ctx, "-n", h.Netns, "route", "add", "default", "via", gw.String()); err != nil {
			return nil, err
		}
	}
	if err := sysctl(ctx, r.Netns, map[string]string{
		"net.ipv4.ip_forward":          "1",
		"net.ipv6.conf.all.forwarding": "1",
	}); err != nil {
		return nil, err
	}
	for _, n := range l.Nodes {
		for _, rt := range [][2]string{{remoteNet4.String(), r.IPv4.String()}, {remoteNet6.String(), r.IPv6.String()}} {
			if err := ip(ctx, "-n", n.Netns, "route", "add", rt[0], "via", rt[1]); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// plugRoot joins the root namespace to br0 as 198.51.100.254 and
// 2001:db8:100::254 through a veth named link, so processes in the root
// namespace (API server, tests) and in the node namespaces reach each other.
func plugRoot(ctx context.Context, link, switchNS string) error {
	if err := ip(ctx, "link", "add", link, "address", hostMAC(1, rootHost).String(),
		"type", "veth", "peer", "name", "root", "netns", switchNS); err != nil {
		return err
	}
	if err := ip(ctx, "-n", switchNS, "link", "set", "root", "master", "br0", "up"); err != nil {
		return err
	}
	for _, a := range []netip.Prefix{
		netip.PrefixFrom(hostAddr(lan4, rootHost), lan4.Bits()),
		netip.PrefixFrom(hostAddr(lan6, rootHost), lan6.Bits()),
	} {
		if err := ip(ctx, "addr", "add", a.String(), "dev", link, "nodad"); err != nil {
			return err
		}
	}
	return ip(ctx, "link", "set", link, "up")
}

// CutLink takes h off the switch without telling it: its bridge port leaves
// the bridge, so h's eth0 stays up with carrier but nothing gets through, as
// when a switch port or an upstream cable fails. Only the other speakers'
// failure detector can notice.
func (l *Lab) CutLink(ctx context.Context, h *Host) error {
	return ip(ctx, "-n", l.switchNS, "link", "set", h.port, "nomaster")
}

// RestoreLink undoes CutLink.
func (l *Lab) RestoreLink(ctx context.Context, h *Host) error {
	return ip(ctx, "-n", l.switchNS, "link", "set", h.port, "master", "br0")
}

// Exec runs a command inside h's namespace and returns its standard output.
func (l *Lab) Exec(ctx context.Context, h *Host, args ...string) (string, error) {
	return nsCommand(ctx, h.Netns, args...)
}

// String is the host's name.
func (h *Host) String() string { return h.Name }

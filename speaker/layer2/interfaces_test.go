package layer2

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testIface(name string, prefixes ...string) iface {
	ifc := iface{
		name:      name,
		hw:        net.HardwareAddr{0x02, 0, 0, 0, 0, byte(len(name))},
		up:        true,
		canARP:    true,
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
	lo := with(testIface("lo", "127.0.0.1/8", "203.0.113.77/32"), func(i *iface) { i.canARP = false })
	noARP := with(testIface("kube-ipvs0", "192.0.2.50/32"), func(i *iface) { i.canARP = false })
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
			name:  "address on no known subnet goes to every interface that can carry it",
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
			ifs:   []iface{with(eth0, func(i *iface) { i.up = false }), eth1},
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
			got := placement(selectInterfaces(tt.owned, tt.ifs))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected selection (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOwnershipSame(t *testing.T) {
	stored := newOwnership(map[netip.Addr][]string{
		vip4: {"eth1", "eth0"},
		vip6: nil,
	})
	tests := []struct {
		name string
		in   map[netip.Addr][]string
		want bool
	}{
		{name: "identical", in: map[netip.Addr][]string{vip4: {"eth1", "eth0"}, vip6: nil}, want: true},
		{name: "names in another order", in: map[netip.Addr][]string{vip4: {"eth0", "eth1"}, vip6: {}}, want: true},
		{name: "duplicate name", in: map[netip.Addr][]string{vip4: {"eth0", "eth1", "eth0"}, vip6: nil}, want: true},
		{name: "IPv4-mapped IPv6 spelling of the same address", in: map[netip.Addr][]string{netip.AddrFrom16(vip4.As16()): {"eth0", "eth1"}, vip6: nil}, want: true},
		{name: "one name fewer", in: map[netip.Addr][]string{vip4: {"eth0"}, vip6: nil}, want: false},
		{name: "one name more", in: map[netip.Addr][]string{vip4: {"eth0", "eth1", "eth2"}, vip6: nil}, want: false},
		{name: "address dropped", in: map[netip.Addr][]string{vip4: {"eth0", "eth1"}}, want: false},
		{name: "address replaced", in: map[netip.Addr][]string{vip4: {"eth0", "eth1"}, notOwned6: nil}, want: false},
		{name: "address added", in: map[netip.Addr][]string{vip4: {"eth0", "eth1"}, vip6: nil, notOwned4: nil}, want: false},
		{name: "invalid address beside the same set is ignored", in: map[netip.Addr][]string{vip4: {"eth0", "eth1"}, vip6: nil, {}: nil}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stored.same(tt.in); got != tt.want {
				t.Errorf("same() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOwnershipAllows(t *testing.T) {
	o := newOwnership(map[netip.Addr][]string{vip4: {"eth0"}, vip6: nil})
	tests := []struct {
		name   string
		ip     netip.Addr
		ifname string
		want   bool
	}{
		{name: "owned on its named interface", ip: vip4, ifname: "eth0", want: true},
		{name: "owned but another interface named", ip: vip4, ifname: "eth1", want: false},
		{name: "owned with no names: any interface", ip: vip6, ifname: "eth7", want: true},
		{name: "not owned", ip: notOwned4, ifname: "eth0", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := o.allows(tt.ip, tt.ifname); got != tt.want {
				t.Errorf("allows(%s, %s) = %v, want %v", tt.ip, tt.ifname, got, tt.want)
			}
		})
	}
}

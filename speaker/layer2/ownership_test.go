package layer2

import (
	"net/netip"
	"testing"
)

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

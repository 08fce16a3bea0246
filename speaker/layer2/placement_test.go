package layer2

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// An owned address with no interface shows as 0 in
// ironlb_layer2_address_interfaces and in Unannounced; one no longer owned
// leaves both.
func TestReportPlacement(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	veth := netlinkIface(t, 10, "veth1a2b3c", "veth", upFlags, "fe80::20/64")
	eth0 := netlinkIface(t, 1, "eth0", "", upFlags, "192.0.2.11/24", "fe80::11/64")
	ifs := []iface{eth0, veth}
	off := netip.MustParseAddr("2001:db8:64::10")
	report := func(in map[netip.Addr][]string) {
		owned := newOwnership(in)
		a.reportPlacement(owned, selectInterfaces(owned.all(), ifs), ifs)
	}

	report(map[netip.Addr][]string{vip4: nil, off: nil})
	if diff := cmp.Diff(map[string]float64{"192.0.2.50": 1, "2001:db8:64::10": 0}, gauges(t, reg)); diff != "" {
		t.Errorf("ironlb_layer2_address_interfaces (-want +got):\n%s", diff)
	}
	if got := a.Unannounced(); len(got) != 1 || !strings.Contains(got[off], "no NIC, bond, team, VLAN or macvlan is up with an IPv6 address") {
		t.Errorf("Unannounced() = %v, want only %s, with its reason", got, off)
	}

	report(map[netip.Addr][]string{vip4: nil})
	if diff := cmp.Diff(map[string]float64{"192.0.2.50": 1}, gauges(t, reg)); diff != "" {
		t.Errorf("after %s is dropped, ironlb_layer2_address_interfaces (-want +got):\n%s", off, diff)
	}
	if got := a.Unannounced(); len(got) != 0 {
		t.Errorf("Unannounced() = %v, want empty", got)
	}
}

// gauges reads ironlb_layer2_address_interfaces by ip.
func gauges(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "ironlb_layer2_address_interfaces" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return out
}

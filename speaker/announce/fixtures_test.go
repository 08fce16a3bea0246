package announce_test

import (
	"fmt"
	"net/netip"

	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/speaker/announce"
)

var cmpAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// Fixtures: three ready nodes with live speakers, a pool per family range.
var (
	v4a = netip.MustParseAddr("192.0.2.10")
	v4b = netip.MustParseAddr("192.0.2.11")
	v6a = netip.MustParseAddr("2001:db8::10")
	off = netip.MustParseAddr("203.0.113.7") // in no pool's ranges
)

func node(name string, mods ...func(*announce.Node)) announce.Node {
	n := announce.Node{Name: name, Ready: true, Labels: map[string]string{"kubernetes.io/hostname": name}}
	for _, m := range mods {
		m(&n)
	}
	return n
}

func notReady(n *announce.Node)       { n.Ready = false }
func netUnavailable(n *announce.Node) { n.NetworkUnavailable = true }
func label(k, v string) func(*announce.Node) {
	return func(n *announce.Node) { n.Labels[k] = v }
}

func live(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func pool(name string, poolLabels map[string]string, cidrs ...string) announce.Pool {
	p := announce.Pool{Name: name, Labels: poolLabels}
	for _, c := range cidrs {
		p.Entries = append(p.Entries, announce.Entry{Range: iprange.FromPrefix(netip.MustParsePrefix(c)), Text: c})
	}
	return p
}

func svc(key string, ips ...netip.Addr) announce.Service {
	return announce.Service{Key: key, IPs: ips}
}

func local(s announce.Service, endpointNodes ...string) announce.Service {
	s.Local = true
	s.EndpointNodes = endpointNodes
	return s
}

func sel(k, v string) labels.Selector { return labels.SelectorFromSet(labels.Set{k: v}) }

func baseInput() announce.Input {
	return announce.Input{
		Nodes: []announce.Node{node("n1"), node("n2"), node("n3")},
		Live:  live("n1", "n2", "n3"),
		Pools: []announce.Pool{
			pool("lan", map[string]string{"tier": "lan"}, "192.0.2.0/24", "2001:db8::/64"),
			pool("dmz", map[string]string{"tier": "dmz"}, "198.51.100.0/24"),
		},
		L2Advertisements: []announce.L2Advertisement{{Name: "all"}},
	}
}

type l2Want map[netip.Addr]announce.L2Announcement

// manyIPs returns n distinct documentation addresses, half IPv4 (three /24s
// hold at most 768) and half IPv6.
func manyIPs(n int) []netip.Addr {
	var out []netip.Addr
	v4 := []netip.Addr{
		netip.MustParseAddr("192.0.2.0"),
		netip.MustParseAddr("198.51.100.0"),
		netip.MustParseAddr("203.0.113.0"),
	}
	for i := 0; len(out) < n/2; i++ {
		b := v4[i/256].As4()
		b[3] = byte(i % 256)
		out = append(out, netip.AddrFrom4(b))
	}
	v6 := netip.MustParseAddr("2001:db8::")
	for len(out) < n {
		v6 = v6.Next()
		out = append(out, v6)
	}
	return out
}

func manyServices(ips []netip.Addr) []announce.Service {
	svcs := make([]announce.Service, len(ips))
	for i, ip := range ips {
		svcs[i] = svc(fmt.Sprintf("ns/s%d", i), ip)
	}
	return svcs
}

func allPoolsInput(nodes []string, ips []netip.Addr) announce.Input {
	in := announce.Input{
		Live: live(nodes...),
		Pools: []announce.Pool{pool("docs", nil,
			"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")},
		Services:          manyServices(ips),
		L2Advertisements:  []announce.L2Advertisement{{Name: "all"}},
		BGPAdvertisements: []announce.BGPAdvertisement{{Name: "all"}},
	}
	for _, n := range nodes {
		in.Nodes = append(in.Nodes, node(n))
	}
	return in
}

func owners(r announce.Result) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for ip, a := range r.AllL2() {
		out[ip] = a.Node
	}
	return out
}

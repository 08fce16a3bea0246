package servicestatus

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// PeersFunc returns the BGPPeers node advertises ip to, sorted.
type PeersFunc func(node string, ip netip.Addr) []string

// Announced returns the keys of the Services the decision announces at
// least one address of, by either protocol.
func Announced(res announce.Result) map[string]bool {
	out := make(map[string]bool, len(res.L2)+len(res.BGP))
	for _, a := range res.L2 {
		for _, k := range a.Services {
			out[k] = true
		}
	}
	for _, a := range res.BGP {
		for _, k := range a.Services {
			out[k] = true
		}
	}
	return out
}

// Desired builds the status of the ServiceAnnouncement of every Service
// mine accepts that res announces, by key. Lists are sorted (addresses in
// address order) and empty ones nil, so that equal decisions give equal
// statuses and compare with what the API server returns.
func Desired(res announce.Result, mine func(key string) bool, peers PeersFunc) map[string]v1beta1.ServiceAnnouncementStatus {
	l2 := map[string][]netip.Addr{}
	for ip, a := range res.L2 {
		for _, k := range a.Services {
			if mine(k) {
				l2[k] = append(l2[k], ip)
			}
		}
	}
	bgp := map[string][]netip.Addr{}
	for ip, a := range res.BGP {
		if len(a.Nodes) == 0 {
			continue
		}
		for _, k := range a.Services {
			if mine(k) {
				bgp[k] = append(bgp[k], ip)
			}
		}
	}
	out := make(map[string]v1beta1.ServiceAnnouncementStatus, max(len(l2), len(bgp)))
	for k, ips := range l2 {
		st := out[k]
		st.Layer2 = layer2Of(res, ips)
		out[k] = st
	}
	for k, ips := range bgp {
		st := out[k]
		st.BGP = bgpOf(res, ips, peers)
		out[k] = st
	}
	for k, st := range out {
		out[k] = summarize(st)
	}
	return out
}

func layer2Of(res announce.Result, ips []netip.Addr) []v1beta1.L2AddressAnnouncement {
	slices.SortFunc(ips, netip.Addr.Compare)
	out := make([]v1beta1.L2AddressAnnouncement, len(ips))
	for i, ip := range ips {
		a := res.L2[ip]
		out[i] = v1beta1.L2AddressAnnouncement{IP: ip.String(), Node: a.Node}
		if len(a.Interfaces) > 0 {
			out[i].Interfaces = slices.Sorted(slices.Values(a.Interfaces))
		}
	}
	return out
}

func bgpOf(res announce.Result, ips []netip.Addr, peers PeersFunc) []v1beta1.BGPAddressAnnouncement {
	slices.SortFunc(ips, netip.Addr.Compare)
	out := make([]v1beta1.BGPAddressAnnouncement, len(ips))
	for i, ip := range ips {
		nodes := res.BGP[ip].Nodes // sorted
		out[i] = v1beta1.BGPAddressAnnouncement{IP: ip.String(), Nodes: slices.Clone(nodes), AdvertisedTo: groupByPeers(ip, nodes, peers)}
	}
	return out
}

// groupByPeers groups nodes (sorted) by the peers each sends ip to, the
// groups in the order of their first node.
func groupByPeers(ip netip.Addr, nodes []string, peers PeersFunc) []v1beta1.BGPPeerGroup {
	var out []v1beta1.BGPPeerGroup
	index := map[string]int{}
	for _, n := range nodes {
		ps := peers(n, ip)
		k := strings.Join(ps, ",")
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			g := v1beta1.BGPPeerGroup{}
			if len(ps) > 0 {
				g.Peers = slices.Clone(ps)
			}
			out = append(out, g)
		}
		out[i].Nodes = append(out[i].Nodes, n)
	}
	return out
}

// summarize fills the fields `kubectl get` prints from the lists.
func summarize(st v1beta1.ServiceAnnouncementStatus) v1beta1.ServiceAnnouncementStatus {
	var ips, l2Nodes []string
	for _, a := range st.Layer2 {
		ips = append(ips, a.IP)
		if !slices.Contains(l2Nodes, a.Node) {
			l2Nodes = append(l2Nodes, a.Node)
		}
	}
	bgpNodes := map[string]bool{}
	for _, a := range st.BGP {
		if !slices.Contains(ips, a.IP) {
			ips = append(ips, a.IP)
		}
		for _, n := range a.Nodes {
			bgpNodes[n] = true
		}
	}
	slices.SortFunc(ips, func(a, b string) int {
		return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
	})
	slices.Sort(l2Nodes)
	st.IPs = strings.Join(ips, ",")
	st.Layer2Nodes = strings.Join(l2Nodes, ",")
	st.BGPNodes = int32(len(bgpNodes))
	return st
}

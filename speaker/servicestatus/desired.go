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
// least one address of, by either protocol. O(addresses).
func Announced(res announce.Result) map[string]bool {
	out := make(map[string]bool, res.LenL2()+res.LenBGP())
	for _, a := range res.AllL2() {
		for _, k := range a.Services {
			out[k] = true
		}
	}
	for _, a := range res.AllBGP() {
		for _, k := range a.Services {
			out[k] = true
		}
	}
	return out
}

// Desired builds the status of the ServiceAnnouncement of every Service
// mine accepts that res announces, by key. Lists are sorted (addresses in
// address order) and empty ones nil, so that equal decisions give equal
// statuses and compare with what the API server returns. O(addresses).
func Desired(res announce.Result, mine func(key string) bool, peers PeersFunc) map[string]v1beta1.ServiceAnnouncementStatus {
	l2 := map[string][]netip.Addr{}
	for ip, a := range res.AllL2() {
		for _, k := range a.Services {
			if mine(k) {
				l2[k] = append(l2[k], ip)
			}
		}
	}
	bgp := map[string][]netip.Addr{}
	for ip, a := range res.AllBGP() {
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

// DesiredOf is Desired for the one Service key, whose addresses are ips:
// its status, and false when res announces none of them. It looks at ips
// only, so a decision that changed a few Services costs as many lookups.
func DesiredOf(res announce.Result, key string, ips []netip.Addr, peers PeersFunc) (v1beta1.ServiceAnnouncementStatus, bool) {
	var l2, bgp []netip.Addr
	for _, ip := range ips {
		if !ip.IsValid() {
			continue
		}
		ip = ip.Unmap() // as the decision keys addresses
		if slices.Contains(l2, ip) || slices.Contains(bgp, ip) {
			continue
		}
		if a, ok := res.L2At(ip); ok && uses(a.Services, key) {
			l2 = append(l2, ip)
		}
		if a, ok := res.BGPAt(ip); ok && len(a.Nodes) > 0 && uses(a.Services, key) {
			bgp = append(bgp, ip)
		}
	}
	if len(l2) == 0 && len(bgp) == 0 {
		return v1beta1.ServiceAnnouncementStatus{}, false
	}
	var st v1beta1.ServiceAnnouncementStatus
	if len(l2) > 0 {
		st.Layer2 = layer2Of(res, l2)
	}
	if len(bgp) > 0 {
		st.BGP = bgpOf(res, bgp, peers)
	}
	return summarize(st), true
}

// uses reports whether key is one of keys, sorted.
func uses(keys []string, key string) bool {
	_, found := slices.BinarySearch(keys, key)
	return found
}

func layer2Of(res announce.Result, ips []netip.Addr) []v1beta1.L2AddressAnnouncement {
	slices.SortFunc(ips, netip.Addr.Compare)
	out := make([]v1beta1.L2AddressAnnouncement, len(ips))
	for i, ip := range ips {
		a, _ := res.L2At(ip)
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
		a, _ := res.BGPAt(ip)
		nodes := a.Nodes // sorted
		out[i] = v1beta1.BGPAddressAnnouncement{IP: ip.String(), Nodes: slices.Clone(nodes), AdvertisedTo: groupByPeers(ip, nodes, peers)}
	}
	return out
}

// groupByPeers groups nodes (sorted) by the peers each sends ip to, the
// groups in the order of their first node. Nodes in a row usually have
// the same peers: those are found without building a key.
func groupByPeers(ip netip.Addr, nodes []string, peers PeersFunc) []v1beta1.BGPPeerGroup {
	var out []v1beta1.BGPPeerGroup
	index := map[string]int{}
	var last []string
	lastGroup := -1
	for _, n := range nodes {
		ps := peers(n, ip)
		i := lastGroup
		if i < 0 || !slices.Equal(ps, last) {
			k := strings.Join(ps, ",")
			var ok bool
			if i, ok = index[k]; !ok {
				i = len(out)
				index[k] = i
				g := v1beta1.BGPPeerGroup{}
				if len(ps) > 0 {
					g.Peers = slices.Clone(ps)
				}
				out = append(out, g)
			}
			last, lastGroup = ps, i
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
	for _, a := range st.BGP {
		if !slices.Contains(ips, a.IP) {
			ips = append(ips, a.IP)
		}
	}
	slices.SortFunc(ips, func(a, b string) int {
		return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
	})
	slices.Sort(l2Nodes)
	st.IPs = strings.Join(ips, ",")
	st.Layer2Nodes = strings.Join(l2Nodes, ",")
	st.BGPNodes = int32(countNodes(st.BGP))
	return st
}

// countNodes counts the distinct nodes advertising any of the addresses:
// with one address (the common case) the length of its sorted list,
// without building a set of up to every node.
func countNodes(bgp []v1beta1.BGPAddressAnnouncement) int {
	if len(bgp) == 1 {
		return len(bgp[0].Nodes)
	}
	set := map[string]bool{}
	for _, a := range bgp {
		for _, n := range a.Nodes {
			set[n] = true
		}
	}
	return len(set)
}

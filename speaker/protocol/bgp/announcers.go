package bgp

import (
	"net/netip"
	"slices"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// NodePeers returns, per node of nodes, the names of the BGPPeers whose
// nodeSelectors select it, sorted: the peers that node's speaker
// configures (see peersForNode). A peer whose selectors do not parse
// selects no node. Nodes no peer selects are absent.
func NodePeers(peers []v1beta1.BGPPeer, nodes []announce.Node) map[string][]string {
	out := make(map[string][]string, len(nodes))
	for i := range peers {
		for _, n := range nodes {
			if ok, err := selectsNode(peers[i].Spec.NodeSelectors, n.Labels); ok && err == nil {
				out[n.Name] = append(out[n.Name], peers[i].Name)
			}
		}
	}
	for n := range out {
		slices.Sort(out[n])
	}
	return out
}

// RoutePeers returns the peers a node sends ip to, sorted: the peers of
// every route of routes (the node's, announce.Result.Routes) whose prefix
// holds ip, a route naming no peers going to every peer of the node
// (nodePeers, sorted). A route naming a peer that does not select the node
// reaches nothing there, as speaker/bgp sends routes only to configured
// peers.
func RoutePeers(routes []announce.Route, ip netip.Addr, nodePeers []string) []string {
	var out []string
	for _, rt := range routes {
		if !rt.Prefix.Contains(ip) {
			continue
		}
		if len(rt.Peers) == 0 {
			return nodePeers
		}
		for _, p := range rt.Peers {
			if _, found := slices.BinarySearch(nodePeers, p); found && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

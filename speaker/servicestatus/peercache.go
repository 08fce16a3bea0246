package servicestatus

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	bgpprotocol "github.com/ironlb/ironlb/speaker/protocol/bgp"
)

// peerCache remembers the BGPPeers of every node (bgpprotocol.NodePeers)
// between writes: matching every peer's selectors against every node
// costs peers × nodes selector evaluations, milliseconds at 1,000 nodes,
// and neither changes with a Service.
type peerCache struct {
	nodes  []announce.Node // the decision's Nodes it was built for
	peers  string          // and the peers, as fingerprint makes them
	byNode map[string][]string
}

// nodePeers returns NodePeers(peers, nodes), computed again only when the
// Nodes (a new slice: the speaker reads them anew when one changes) or a
// peer's spec changed.
func (c *peerCache) nodePeers(peers []v1beta1.BGPPeer, nodes []announce.Node) map[string][]string {
	fp := fingerprint(peers)
	if c.byNode != nil && fp == c.peers && sameSlice(c.nodes, nodes) {
		return c.byNode
	}
	c.nodes, c.peers, c.byNode = nodes, fp, bgpprotocol.NodePeers(peers, nodes)
	return c.byNode
}

// fingerprint names each peer's spec: name, UID and generation.
func fingerprint(peers []v1beta1.BGPPeer) string {
	parts := make([]string, len(peers))
	for i := range peers {
		parts[i] = fmt.Sprintf("%s/%s/%d", peers[i].Name, peers[i].UID, peers[i].Generation)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// sameSlice reports whether a and b are the same slice (same array and
// length); two empty slices are.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

package announce

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
)

// Winner returns the node with the highest rendezvous score for ip:
// sha256(node + "#" + ip), ip in its canonical text form (netip.Addr's).
// Removing a node moves only the addresses it won; adding one moves only the
// addresses it now wins. A tie, which only a name given twice can cause,
// goes to the smaller name.
//
// The score is part of the speakers' protocol: speakers of different
// versions must agree on it, or two of them would answer for one address
// during an upgrade. TestWinnerVector pins it.
func Winner(ip netip.Addr, nodes []string) (string, bool) {
	return rendezvous(nodes, ip.AppendTo)
}

// WinnerOf is Winner for any key: the node with the highest
// sha256(node + "#" + key). The speakers use it to pick the one writer of
// a Service's ServiceAnnouncement, keyed by "namespace/name".
func WinnerOf(key string, nodes []string) (string, bool) {
	return rendezvous(nodes, func(b []byte) []byte { return append(b, key...) })
}

// rendezvous returns the node with the highest sha256(node + "#" + key),
// appendKey writing the key; a tie goes to the smaller name.
func rendezvous(nodes []string, appendKey func([]byte) []byte) (string, bool) {
	var best string
	var bestScore [sha256.Size]byte
	buf := make([]byte, 0, 96)
	for _, n := range nodes {
		buf = appendKey(append(append(buf[:0], n...), '#'))
		s := sha256.Sum256(buf)
		if best == "" || bytes.Compare(s[:], bestScore[:]) > 0 ||
			(s == bestScore && n < best) {
			best, bestScore = n, s
		}
	}
	return best, best != ""
}

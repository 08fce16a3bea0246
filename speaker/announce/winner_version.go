package announce

import (
	"fmt"
	"net/netip"
	"slices"
)

// WinnerVersion names a function electing the layer-2 owner of an address.
// It is part of the speakers' protocol: every speaker must use the same one,
// or two nodes would answer for some addresses (or none would). Each speaker
// advertises the versions it supports to the others (speaker/member) and all
// use the highest one every live speaker supports (AgreedWinner), so a
// rolling upgrade that adds a version keeps the old one in force until the
// last speaker without the new one is gone. Then every speaker switches at
// the same instant, which they agree on beforehand (speaker/member), so that
// no address is answered by the owners of two versions at once.
//
// The zero value means WinnerV1, the version of speakers that advertise
// nothing.
type WinnerVersion uint8

const (
	// WinnerV1 scores sha256(node + "#" + ip): Winner. TestWinnerVector pins it.
	WinnerV1 WinnerVersion = 1
	// WinnerV2 scores a 64-bit mix of FNV-1a hashes of the node name and of
	// the address: the same rendezvous election as WinnerV1, with the same
	// stability, for about a hundredth of the cost. TestWinnerV2Vector pins it.
	WinnerV2 WinnerVersion = 2
)

// WinnerVersions are the versions this build implements, oldest first: what
// a speaker advertises unless told otherwise.
var WinnerVersions = []WinnerVersion{WinnerV1, WinnerV2}

// orV1 maps the zero value, and a version this build does not know, to
// WinnerV1. AgreedWinner never returns an unknown version.
func (v WinnerVersion) orV1() WinnerVersion {
	if v == WinnerV2 {
		return v
	}
	return WinnerV1
}

func (v WinnerVersion) String() string {
	return fmt.Sprintf("v%d", uint8(v.orV1()))
}

// Winner returns the owner v elects for ip among nodes, and false when
// nodes is empty. Like Winner (version 1), the order of nodes does not
// matter and a tie goes to the smaller name.
func (v WinnerVersion) Winner(ip netip.Addr, nodes []string) (string, bool) {
	if v.orV1() == WinnerV1 {
		return Winner(ip, nodes)
	}
	keys := make([]uint64, len(nodes))
	for i, n := range nodes {
		keys[i] = nodeKeyV2(n)
	}
	return winnerV2(addrKeyV2(ip), nodes, keys)
}

// AgreedWinner is the highest version every speaker supports, given the
// versions each advertises; a speaker advertising none counts as supporting
// only WinnerV1, and with no speakers at all the answer is WinnerV1.
// Every speaker computes it over the same live set, so they all agree.
// It is the election of a settled cluster; during a rolling upgrade the
// speakers coordinate the moment they move to it (speaker/member).
func AgreedWinner(supported [][]WinnerVersion) WinnerVersion {
	best := WinnerV1
	if len(supported) == 0 {
		return best
	}
	for _, v := range WinnerVersions {
		if v > best && SupportedByAll(supported, v) {
			best = v
		}
	}
	return best
}

// SupportedByAll reports whether every speaker, given the versions each
// advertises, can elect with v; a speaker advertising none supports only
// WinnerV1, and a version this build does not implement is supported by
// nobody.
func SupportedByAll(supported [][]WinnerVersion, v WinnerVersion) bool {
	if !slices.Contains(WinnerVersions, v) {
		return false
	}
	for _, s := range supported {
		if !slices.Contains(s, v) && (len(s) > 0 || v != WinnerV1) {
			return false
		}
	}
	return true
}

// The version 2 score of node n for address ip is
//
//	mix(nodeKey(n) XOR addrKey(ip))
//	nodeKey(n)  = mix(fnv1a64(n))
//	addrKey(ip) = mix(fnv1a64(16-byte form of ip))
//
// with mix the 64-bit finalizer of MurmurHash3 (a bijection whose every
// output bit depends on every input bit). For a given address the scores of
// distinct nodes are thus unrelated pseudo-random numbers, which is all
// rendezvous hashing needs: the highest score wins, removing a node moves
// only the addresses it won, adding one moves only those it now wins, and
// each node wins about 1/N of them. Node keys are computed once per
// decision, so scoring one candidate is an XOR and a mix.
//
// IPv4 addresses are hashed in their IPv4-mapped IPv6 form; Compute unmaps
// addresses first, so ::ffff:192.0.2.1 and 192.0.2.1 never meet.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnv1a64(b []byte) uint64 {
	h := uint64(fnvOffset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

func fnv1a64String(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// mix64 is MurmurHash3's fmix64.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func nodeKeyV2(name string) uint64 { return mix64(fnv1a64String(name)) }

func addrKeyV2(ip netip.Addr) uint64 {
	b := ip.As16()
	return mix64(fnv1a64(b[:]))
}

// winnerV2 elects among nodes, keys[i] being nodeKeyV2(nodes[i]).
func winnerV2(addrKey uint64, nodes []string, keys []uint64) (string, bool) {
	var best string
	var bestScore uint64
	for i, n := range nodes {
		s := mix64(keys[i] ^ addrKey)
		if best == "" || s > bestScore || (s == bestScore && n < best) {
			best, bestScore = n, s
		}
	}
	return best, best != ""
}

// elector elects owners for one decision with one version. For version 2
// it keeps the keys of the last candidate list: under the Cluster policy
// every address of a pool has the same candidates, so their keys are
// computed once per pool, not once per address.
type elector struct {
	version   WinnerVersion
	lastNodes []string
	lastKeys  []uint64
}

func newElector(v WinnerVersion) *elector {
	return &elector{version: v.orV1()}
}

func (e *elector) winner(ip netip.Addr, nodes []string) (string, bool) {
	if e.version == WinnerV1 {
		return Winner(ip, nodes)
	}
	if !sameSlice(nodes, e.lastNodes) {
		keys := make([]uint64, len(nodes))
		for i, n := range nodes {
			keys[i] = nodeKeyV2(n)
		}
		e.lastNodes, e.lastKeys = nodes, keys
	}
	return winnerV2(addrKeyV2(ip), nodes, e.lastKeys)
}

// sameSlice reports whether a and b are the same slice (same array, same
// length), not merely equal.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

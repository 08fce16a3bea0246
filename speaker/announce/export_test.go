package announce

// SameTables reports whether a and b share their per-address tables: a
// Decide that changed nothing must hand back the previous Result, not a
// copy.
func SameTables(a, b Result) bool {
	return a.l2.root == b.l2.root && a.bgp.root == b.bgp.root &&
		a.l2Advertisements.root == b.l2Advertisements.root && a.bgpMatches.root == b.bgpMatches.root
}

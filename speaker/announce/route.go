package announce

import "net/netip"

// Route is one BGP route a node advertises: what the decision produces and
// what speaker/bgp announces (bgp.Route is this type).
type Route struct {
	// Prefix is a /32 or /128 for a single service address, or a shorter
	// prefix when the advertisement aggregates.
	Prefix netip.Prefix
	// Peers are the names of the BGPPeers the route goes to; empty means
	// every peer of the node.
	Peers []string
	// Communities are standard communities "a:b" (each 0-65535) or the
	// well-known names no-export, no-advertise, no-export-subconfed,
	// no-peer, blackhole and graceful-shutdown.
	Communities []string
	// LargeCommunities are "a:b:c" (each 0-4294967295), optionally written
	// "large:a:b:c" as in BGPAdvertisement.
	LargeCommunities []string
	// LocalPref is sent to iBGP peers only.
	LocalPref *uint32
}

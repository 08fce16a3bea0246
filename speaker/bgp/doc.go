// Package bgp announces load-balancer addresses to routers with an embedded
// GoBGP server (github.com/osrg/gobgp/v3, used as a library: no gobgpd
// process, no gRPC port).
//
// The wiring hands a Speaker the complete set of peers (SetPeers) and routes
// (SetRoutes) every time something changes; the Speaker diffs them against
// what it applied before and touches only the difference, so adding or
// removing a route never resets a session and editing one peer resets only
// that peer.
//
// # How the pieces map onto GoBGP
//
//   - One GoBGP server per BGP router ID. GoBGP has one router ID per server,
//     so peers asking for different router IDs (Peer.RouterID) get their own
//     server. Only the server of Options.RouterID listens (Options.ListenPort);
//     the others only dial out. Nearly every deployment has a single server.
//   - Each neighbour carries its own local ASN (Peer.MyASN, GoBGP's
//     PeerConf.LocalAsn), so iBGP and eBGP peers with different local ASNs
//     share one server. The server's global ASN is never sent on the wire.
//   - Every neighbour negotiates IPv4 and IPv6 unicast (MP-BGP), whatever the
//     transport family of its session, unless Peer.DisableMP asks for the
//     family of its address alone.
//   - Peer.DynamicASN: "internal" is GoBGP's PeerAsn set to MyASN; "external"
//     is PeerAsn 0, with which GoBGP takes any ASN from the router's OPEN.
//     The Speaker then disables a session whose router turns out to have
//     MyASN, and Sessions says why, until the peer's configuration changes.
//   - Peer.VRF binds the session's socket to the VRF device
//     (SO_BINDTODEVICE, GoBGP's Transport.BindInterface), so it is dialled
//     and routed in that VRF. The listener is not bound to it: a router in
//     a VRF reaches us only if the kernel accepts connections across VRFs
//     (net.ipv4.tcp_l3mdev_accept), so such sessions are in practice
//     dialled by the speaker.
//   - Nothing learned from routers is used or passed on: the global import
//     policy rejects everything, so a speaker never becomes a transit router.
//   - Route.Peers is enforced with one export policy per peer and markers on
//     the routes. GoBGP evaluates export policies per destination neighbour
//     only through a neighbour-set condition in the global policy, and
//     re-evaluates them only when a route changes, so the route itself must
//     say where it may go: every route carries internal large communities
//     (global administrator 4294967295, a reserved ASN): 4294967295:0:0 for
//     "every peer", or 4294967295:1:<id> for each peer name it is restricted
//     to. A peer's policy rejects a route without one of its markers and
//     strips all markers from the routes it accepts, so routers never see
//     them. Changing a route's peer list re-announces the route with new
//     markers, and GoBGP withdraws it from the peers that lost it.
//   - Next hop: Options.NextHopV4 / NextHopV6 when set, else GoBGP puts the
//     local address of each session (this node) as next hop. A route whose
//     family differs from the session's transport (IPv6 routes over an IPv4
//     session) needs the option of its family.
//   - LOCAL_PREF is sent to iBGP peers only; GoBGP strips it towards eBGP
//     peers.
//   - A peer that goes down is redialled by GoBGP: after a session failure the
//     neighbour idles 5 s, then dials every ConnectRetry (Peer.ConnectTime,
//     5 s by default) plus up to the same again of random jitter, until it
//     comes back.
//   - ResetPeer closes one session at once with a Cease NOTIFICATION; the
//     BFD wiring (speaker/protocol/bgp) calls it when BFD declares the path
//     down, so routers drop our routes without waiting for the hold time.
//     GoBGP then idles 30 s (its idle hold time after a reset) before it
//     dials again, which also damps a flapping path.
//   - A hold time of 0 (no keepalives, RFC 4271) cannot be configured: GoBGP
//     replaces a configured 0 with 90 s. Peer.HoldTime 0 therefore means
//     "the default", and the wiring refuses a BGPPeer asking for 0s.
//   - Session state comes from GoBGP's peer-state watch, the reason of the
//     last failure from its log lines; both feed Sessions() and the metrics
//     ironlb_bgp_session_up, ironlb_bgp_updates_total and
//     ironlb_bgp_announced_prefixes.
//
// Stop withdraws every route and closes every session with a Cease
// NOTIFICATION. Sessions with graceful restart are the exception: any
// NOTIFICATION makes the router drop our routes at once (RFC 4724, RFC 8538
// hard reset), so Stop leaves them open and they close without one when the
// process exits; the router then keeps our routes, marked stale, for the
// restart time (120 s) while the speaker comes back.
package bgp

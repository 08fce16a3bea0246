// Package layer2 makes this node answer for the load-balancer IPs it owns on
// its local links: ARP (RFC 826) for IPv4 and Neighbor Discovery (RFC 4861)
// for IPv6.
//
// An Announcer holds the set of owned IPs (SetOwned), picks the interfaces
// each one is announced on, and on each such interface
//   - answers ARP requests and Neighbor Solicitations whose target is owned,
//     never any other address,
//   - joins the solicited-node multicast group of each owned IPv6 address, so
//     switches doing MLD snooping deliver the solicitations here,
//   - sends a burst of gratuitous ARPs / unsolicited Neighbor Advertisements
//     (Override set) when it takes an address over, so neighbours replace the
//     previous owner's MAC at once instead of after their cache times out,
//   - optionally re-announces every owned address at a fixed interval.
//
// The decisions (is this a request we must answer, and what is the reply) are
// pure functions over bytes, decoded with github.com/mdlayher/arp and
// github.com/mdlayher/ndp, so they are tested without sockets. Frames are
// received and sent on whatever sockets Options.Listen opens: AF_PACKET
// sockets (github.com/mdlayher/packet) by default, in-memory ones in this
// package's tests.
//
// Where each rule lives:
//   - announcer.go: the API (Options, New, SetOwned, Run, Unannounced);
//   - ownership.go: the owned set, normalised, and who may answer for what;
//   - interfaces.go: on which interfaces an address is announced, and why
//     none (pure); netlink.go reads the interfaces from the kernel;
//   - reconcile.go: sockets and groups brought in line with both, per link
//     (link.go, answerset.go, groups.go); while the interfaces stay the
//     same, only for the addresses that changed; placement.go reports where
//     each address went;
//   - serve.go: the packet loop of one socket;
//   - responder.go, arp.go, ndp.go: the pure responders and frame builders;
//   - burst.go: takeover bursts and re-announcements;
//   - sockets.go: ListenFunc and the default AF_PACKET sockets;
//   - metrics.go: RegisterMetrics and the counters.
package layer2

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
// Frames are received and sent on AF_PACKET sockets (github.com/mdlayher/packet)
// and decoded with github.com/mdlayher/arp and github.com/mdlayher/ndp. The
// decisions (is this a request we must answer, and what is the reply) are pure
// functions over bytes so they are tested without sockets.
package layer2

// Package bfd implements Bidirectional Forwarding Detection (RFC 5880) in
// asynchronous mode for single-hop sessions over IPv4 and IPv6 (RFC 5881), so
// a BGP session can be torn down within a second of its path failing rather
// than when its hold timer expires.
//
// # Pieces
//
//   - packet.go: the control packet codec. Decode applies every check of RFC
//     5880 §6.8.6 that needs no session; a packet that fails one is dropped
//     and counted by reason.
//   - machine.go: one session's state and rules (§6.8.1–§6.8.7, §6.8.16),
//     pure: it takes the time and packets as arguments and returns the
//     packets to send, so it is table-tested without sockets or sleeping.
//   - manager.go and session.go: a Manager runs one goroutine per session
//     and one that reads the Transport and demultiplexes packets to
//     sessions: by Your Discriminator, or while the peer does not know it,
//     by source address and interface.
//   - udp.go: the RFC 5881 sockets. Listeners on UDP port 3784 for each
//     family report the received TTL or Hop Limit (IP_RECVTTL,
//     IPV6_RECVHOPLIMIT) and the interface; each session sends from its own
//     port in 49152–65535 with TTL 255, bound to its local address and, when
//     given, its interface (SO_BINDTODEVICE).
//
// # Behaviour
//
//   - A session starts Down and sends one packet a second until Up (§6.8.3);
//     once Up it moves to the profile's transmit interval with a Poll
//     sequence. The interval used is the larger of our transmit interval and
//     the peer's receive interval; the peer is declared down after its
//     multiplier times the larger of its transmit interval and our receive
//     interval without a packet (diagnostic Control Detection Time Expired).
//   - Every periodic packet's interval is cut by a random 0–25% (§6.8.7).
//   - A changed profile applies in place; new timers while Up go through a
//     Poll sequence, and a slower transmit or faster receive rate is used
//     only once the peer has answered with Final (§6.8.3).
//   - Only packets with TTL or Hop Limit 255 count (RFC 5881 §5, GTSM).
//   - Remove and Close send AdminDown (diagnostic Administratively Down)
//     for a detection time of the peer's before a session goes (§6.8.16):
//     RFC 5882 asks the peer's BGP not to treat that as a path failure.
//
// Not implemented: authentication (packets with the A bit are dropped, as
// §6.8.6 requires when none is configured), the Echo function, Demand mode
// on our side (a peer's Demand mode is honoured), and multihop (RFC 5883).
//
// # State changes and metrics
//
// Options.OnStateChange receives every state change in order from a
// goroutine of its own; Manager.Sessions reports state, discriminators,
// negotiated timers, diagnostics and the time of the last change. Metrics go
// to Options.Registerer: ironlb_bfd_session_state,
// ironlb_bfd_session_state_transitions_total,
// ironlb_bfd_control_packets_sent_total,
// ironlb_bfd_control_packets_received_total, ironlb_bfd_send_errors_total
// (labels peer and interface) and ironlb_bfd_dropped_packets_total (label
// reason).
package bfd

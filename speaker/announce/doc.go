// Package announce decides which nodes announce each load-balancer address, as
// the README's "Which node announces" specifies. It is pure: plain values in,
// plain values out, no clock, no I/O. Every speaker runs Compute over its own
// view of the cluster and, seeing the same objects and the same live speakers,
// reaches the same answer without talking to the others.
//
// Where the rules are:
//
//   - input.go: what the decision reads (nodes, live speakers, pools,
//     Services, advertisements);
//   - eligible.go: which nodes may announce at all;
//   - home.go: which pool, and which entry of it, an address belongs to;
//   - compute.go: Compute, and the rules every protocol shares: the
//     advertisements of an address's pool, the nodes they admit, the Local
//     traffic policy;
//   - layer2.go: one owner per address, its interfaces;
//   - bgp.go: the nodes advertising an address and the routes each node
//     sends, aggregation included;
//   - winner.go: the rendezvous hash electing the layer-2 owner (version 1),
//     and WinnerOf, the same rule for any key;
//   - winner_version.go: the election versions (version 2: FNV-1a and a
//     64-bit mix) and AgreedWinner, the version every live speaker supports;
//   - result.go and route.go: what the decision returns;
//   - decider.go (with decider_*.go): Decider, the same decision made
//     incrementally: a Service change recomputes only its addresses, a
//     change of the live set re-elects only what rendezvous hashing can
//     move, anything else recomputes everything; its Results are
//     copy-on-write, and a property test holds it equal to Compute.
package announce

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
//   - winner.go: the rendezvous hash electing the layer-2 owner;
//   - result.go and route.go: what the decision returns.
package announce

// Package allocator hands out load-balancer IPs from address pools, the core
// of IronLB's IPAddressPool and Service contract (docs/api.md, the
// IPAddressPool kind and the Service fields and annotations honoured).
//
// The package knows nothing about Kubernetes objects: pools and requests are
// plain data built by the Service and IPAddressPool reconcilers, addresses are
// [netip.Addr] values, and failures are [*Error] values whose Reason is one of
// the ironlb.io/IPAllocated condition reasons. Its outside dependencies are
// api/iprange, for address ranges, api/v1beta1 for those reason strings (and
// nothing else of the API), and k8s.io/apimachinery/pkg/labels, for pool
// selectors. Pools reach it already validated (controllers/ipam, by the
// rules of api/v1beta1/validation); [Allocator.SetPools] checks again only
// what would corrupt its state.
//
// # Files
//
//   - allocator.go: the [Allocator], its leases and held addresses, lookups;
//   - request.go: what a Service asks for ([Request]) and gets
//     ([Assignment]), and the checks a request must pass on its own;
//   - assign.go: [Allocator.Assign], choosing pools and addresses;
//   - failure.go: which failure Assign reports when no pool can serve;
//   - errors.go: [Error] and its sentinels for errors.Is;
//   - release.go: [Allocator.Release];
//   - pool.go: [Pool] and which Services it admits, pool order;
//   - setpools.go: [Allocator.SetPools], replacing the pools under leases;
//   - rangestate.go: handing out the addresses of one range without
//     enumerating it;
//   - sharing.go: who may share an address with whom;
//   - stats.go: usage counts;
//   - family.go, uint128.go: family policies and 128-bit address arithmetic.
//
// # Sharing
//
// Services share an address under a [Request.SharingKey] only within one
// namespace, unless each lists the other's namespace in
// [Request.SharingNamespaces]; under externalTrafficPolicy Local, only
// within one namespace. A key is no secret, so knowing it must not let
// another tenant onto an address.
//
// # Cost
//
// No operation enumerates a pool. Each range keeps a 128-bit cursor (every
// offset at or above it is free unless some service claimed it explicitly)
// and a stack of offsets released below the cursor, so Assign and Release
// cost the same, amortised O(1) per range tried, in a /28 as in a /64.
// Counts reported by [Allocator.Stats] are arithmetic and exact for any pool
// size. [Allocator.SetPools] costs O(ranges·log ranges + leases).
//
// # Concurrency
//
// An [Allocator] is safe for concurrent use; one mutex guards its state and
// Assign and Release hold it for about a microsecond (see the benchmarks).
package allocator

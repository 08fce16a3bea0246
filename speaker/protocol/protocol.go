// Package protocol is the seam between the speaker's decision loop (package
// speaker) and the ways a node announces addresses: layer 2
// (speaker/protocol/layer2) and BGP (speaker/protocol/bgp).
//
// The speaker drives every registered Protocol the same way. At setup each
// names the kinds whose changes recompute the decision. On every decision the
// speaker reads the cluster's Nodes, Services and pools, lets each protocol
// Read its own objects into the decision's input, computes the decision once
// (speaker/announce), and hands it to each protocol's Apply, which announces
// this node's share and writes its objects' status. Metrics
// (ironlb_announced{protocol}) and Service events are the speaker's, from
// each protocol's Announcers and EventNote.
//
// A new protocol is a package implementing Protocol, its rule in
// speaker/announce (pure and table-tested beside the others), and one line
// where the speaker's protocols are registered (speaker.Run).
//
// The rest of the package is what the protocols share: the status of their
// advertisements and the Ready condition of any kind (status.go: WriteReady),
// the typed server-side apply of status (apply.go), and the bookkeeping of
// status loops (loop.go).
package protocol

import (
	"context"
	"net/netip"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ironlb/ironlb/speaker/announce"
)

// Protocol is one way this node announces load-balancer addresses. Read
// and Apply are called from the speaker's one decision goroutine, in that
// order; Announcers and EventNote are pure.
type Protocol interface {
	// Name labels the protocol in ironlb_announced{protocol} and in logs.
	Name() string
	// Setup is called once, before the manager starts: the protocol takes
	// the manager's cache and client, adds any background work of its own
	// (status that changes between decisions), and returns the kinds whose
	// changes recompute the decision, besides Services, EndpointSlices,
	// Nodes and IPAddressPools, which every protocol depends on.
	Setup(mgr manager.Manager, env Env) ([]Watch, error)
	// Read lists the protocol's objects from the cache and adds what the
	// decision needs of them to in.
	Read(ctx context.Context, in *announce.Input) error
	// Apply announces this node's share of d.Result and withdraws the rest
	// (everything, when d.Isolated), and writes the status every speaker
	// shares when d.WritesShared. Unless d.All, only the addresses of
	// d.Changed may differ from the previous Decision applied, and Apply
	// may look at those only. The error returned is worth a retry; what a
	// retry would not fix (an invalid object) shows in status and logs
	// instead. A protocol whose Apply failed must not trust the next
	// Decision's Changed alone: what failed is not in it.
	Apply(ctx context.Context, d Decision) error
	// Announcers returns, per address this protocol announces in res, the
	// nodes announcing it, sorted. O(addresses): a decision that changed
	// a few addresses asks AnnouncersAt for those.
	Announcers(res announce.Result) map[netip.Addr][]string
	// AnnouncersAt returns the nodes announcing ip in res by this
	// protocol, sorted, as Announcers(res)[ip] would; nil when none does.
	AnnouncersAt(res announce.Result, ip netip.Addr) []string
	// EventNote words the Service event for a change of the nodes
	// announcing ip, from was to now (sorted; either may be empty).
	EventNote(ip netip.Addr, was, now []string) string
}

// Env is what the speaker lends its protocols at setup.
type Env struct {
	// Node is this speaker's node name.
	Node string
	// Log is the speaker's logger.
	Log logr.Logger
	// Live returns the speakers alive now, this one included.
	Live func() map[string]bool
	// WritesShared reports whether this speaker writes the status every
	// speaker shares, live being the speakers alive: it is the lowest live
	// one by name (all speakers agree on it once membership converges) and
	// not isolated (its view of the cluster is not the others').
	WritesShared func(live map[string]bool) bool
	// Applied reports whether the speaker has applied a decision yet.
	// Status loops write nothing before, not to write from an empty state.
	Applied func() bool
	// Decided receives, coalesced, after every decision applied (or
	// withdrawn).
	Decided <-chan struct{}
}

// Decision is one run of the decision, as every protocol is handed it.
type Decision struct {
	// Node is this speaker's node name.
	Node string
	// Self is this node's Node object; nil when it has none.
	Self *corev1.Node
	// Input is what the decision was computed from, every protocol's
	// advertisements included.
	Input announce.Input
	// Result is the decision for the whole cluster; empty when Isolated.
	Result announce.Result
	// Isolated is set while the speaker reaches none of the speakers it
	// expects: it must announce nothing, and its view of the cluster is
	// not the others', so nothing about the advertisements is reported.
	Isolated bool
	// WritesShared is set on the one speaker that writes the status every
	// speaker shares (see Env.WritesShared).
	WritesShared bool

	// What changed since the previous Decision handed to the protocols,
	// so that a Service change costs what it touches, not every address.
	//
	// All is set when anything may have changed: the first decision, the
	// first after a withdrawal, every Isolated one, and any decision the
	// Decider recomputed whole (a Node, pool or advertisement changed).
	// Then Changed and ChangedServices are empty and a protocol applies
	// the whole Result.
	All bool
	// Changed, unless All, lists (sorted) every address whose decision
	// may differ from the previous Decision's (announce.Decider.Changed):
	// layer-2 owner, interfaces or advertisements, BGP nodes or routes.
	// It may list an address that did not change, never omits one that
	// did.
	Changed []netip.Addr
	// ChangedServices, unless All, holds the Services whose announcement
	// may differ from the previous Decision's, each with its addresses
	// now (nil when it is gone or no longer handled): those read again
	// for this decision and those using an address of Changed, in this
	// Result or the previous one. Read-only: receivers may keep it.
	ChangedServices map[string][]netip.Addr
}

// SelfLabels returns the labels of this node's Node object, nil without
// one: what nodeSelectors are matched against.
func (d Decision) SelfLabels() map[string]string {
	if d.Self == nil {
		return nil
	}
	return d.Self.Labels
}

// Watch is a kind whose changes recompute the decision.
type Watch struct {
	Object client.Object
	// Predicates pass the changes that can alter the decision; none passes
	// every change.
	Predicates []predicate.Predicate
	// Matters, when set, is asked of each changed object the predicates
	// passed and may skip it (false). It may read the cache.
	Matters func(ctx context.Context, o client.Object) bool
}

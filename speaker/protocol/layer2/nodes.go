package layer2

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// This file says, in L2Advertisement status, which addresses a node owns but
// cannot announce on any interface (nobody answers ARP/NDP for them), and
// why. Each speaker writes its own entry of status.nodes; the speaker that
// writes shared status sums the entries up in the Announced condition and
// removes the entries of speakers that are gone.

const (
	// nodeStatusInterval is how often the addresses the announcer cannot
	// announce are compared with status. The announcer finds them at its
	// own scans, after SetOwned returns, so they are polled, not pushed.
	// Writes happen only on change.
	nodeStatusInterval = time.Second
	// announcedFieldOwner owns the Announced condition. It is not
	// protocol.AdvertisementFieldOwner: that manager's apply holds
	// matchedPools and Ready only, and would drop a condition it does not
	// list.
	announcedFieldOwner = "ironlb-speaker.announced"
	// maxReasonLen bounds one reason in status (an interface list in it
	// comes from the spec and has no bound of its own).
	maxReasonLen = 512
	// maxMessageAddresses bounds the addresses the condition message
	// spells out; status.nodes has the rest.
	maxMessageAddresses = 5
)

// runNodeStatus keeps this node's entries of L2Advertisement status.nodes in
// step with what the announcer cannot announce and, on the speaker writing
// shared status, the Announced conditions with all the entries.
func (p *Protocol) runNodeStatus(ctx context.Context) error {
	recent := recentWrites{}
	return protocol.Every(ctx, nodeStatusInterval, nil, p.env.Applied, func(ctx context.Context) { p.syncNodeStatus(ctx, recent) })
}

func (p *Protocol) syncNodeStatus(ctx context.Context, recent recentWrites) {
	var advs v1beta1.L2AdvertisementList
	if err := p.reader.List(ctx, &advs, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	recent.expire()
	unannounced := p.announcer.Unannounced()
	mine := unannouncedByAdvertisement(p.advertisementsOf, unannounced)
	live := p.env.Live()
	// Like the rest of shared status, one speaker writes the conditions, and
	// not an isolated one: its view of the cluster is not the others'.
	summarise := p.env.WritesShared(live)
	for i := range advs.Items {
		adv := &advs.Items[i]
		p.syncOwnEntry(ctx, adv, nodeEntry(p.env.Node, mine[adv.Name], unannounced), recent)
		if summarise {
			p.pruneGoneNodes(ctx, adv, live, recent)
			p.syncAnnounced(ctx, adv, live, recent)
		}
	}
}

// unannouncedByAdvertisement groups the addresses the announcer cannot
// announce by the advertisements owning them, sorted by address. An address
// no longer owned (the announcer has not rescanned yet) is left out.
func unannouncedByAdvertisement(owners func(netip.Addr) []string, unannounced map[netip.Addr]string) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for ip := range unannounced {
		for _, name := range owners(ip) {
			out[name] = append(out[name], ip)
		}
	}
	for _, ips := range out {
		slices.SortFunc(ips, netip.Addr.Compare)
	}
	return out
}

// nodeEntry is node's entry for the sorted addresses ips, bounded: at most
// MaxUnannouncedListed addresses listed, the others counted.
func nodeEntry(node string, ips []netip.Addr, reasons map[netip.Addr]string) v1beta1.L2NodeStatus {
	e := v1beta1.L2NodeStatus{Node: node}
	listed := ips[:min(len(ips), v1beta1.MaxUnannouncedListed)]
	for _, ip := range listed {
		e.Unannounced = append(e.Unannounced, v1beta1.UnannouncedAddress{IP: ip.String(), Reason: truncate(reasons[ip], maxReasonLen)})
	}
	e.MoreUnannounced = int32(len(ips) - len(listed))
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}

// sameEntry compares entries, leaving out when they changed.
func sameEntry(a, b v1beta1.L2NodeStatus) bool {
	return a.Node == b.Node && a.MoreUnannounced == b.MoreUnannounced && slices.Equal(a.Unannounced, b.Unannounced)
}

// syncOwnEntry writes this node's entry when it differs from want, and
// removes it when want lists nothing.
func (p *Protocol) syncOwnEntry(ctx context.Context, adv *v1beta1.L2Advertisement, want v1beta1.L2NodeStatus, recent recentWrites) {
	key := recentKey{uid: adv.UID, part: "node/" + want.Node}
	have, found := entryOf(adv, want.Node)
	empty := len(want.Unannounced) == 0
	if (empty && !found) || (found && sameEntry(have, want)) {
		delete(recent, key)
		return
	}
	what := fmt.Sprint(want.Unannounced, want.MoreUnannounced)
	if recent.pending(key, what) {
		return
	}
	var entry *v1beta1.L2NodeStatus
	if !empty {
		want.LastTransitionTime = metav1.Now()
		entry = &want
	}
	if err := p.applyNodeEntry(ctx, adv, want.Node, entry); err != nil {
		p.log.V(1).Info("Could not write L2Advertisement node status; retrying", "advertisement", adv.Name, "error", err.Error())
		return
	}
	recent.wrote(key, what)
}

func entryOf(adv *v1beta1.L2Advertisement, node string) (v1beta1.L2NodeStatus, bool) {
	for _, e := range adv.Status.Nodes {
		if e.Node == node {
			return e, true
		}
	}
	return v1beta1.L2NodeStatus{}, false
}

// pruneGoneNodes removes the entries of nodes whose speaker is not live: a
// speaker that is gone owns nothing any more, its addresses went to others,
// and it cannot remove its entry itself. A speaker that comes back writes
// its entry again.
func (p *Protocol) pruneGoneNodes(ctx context.Context, adv *v1beta1.L2Advertisement, live map[string]bool, recent recentWrites) {
	for _, e := range adv.Status.Nodes {
		if live[e.Node] {
			continue
		}
		key := recentKey{uid: adv.UID, part: "node/" + e.Node}
		if recent.pending(key, "") {
			continue
		}
		if err := p.applyNodeEntry(ctx, adv, e.Node, nil); err != nil {
			p.log.V(1).Info("Could not remove a gone speaker's L2Advertisement node status; retrying",
				"advertisement", adv.Name, "entryNode", e.Node, "error", err.Error())
			continue
		}
		recent.wrote(key, "")
	}
}

// nodesApply is the part of status one node's field manager owns: its entry
// of status.nodes, or none (an empty list gives the entry up).
type nodesApply struct {
	Nodes []v1beta1.L2NodeStatus `json:"nodes"`
}

// applyNodeEntry writes node's entry (nil removes it) with server-side apply
// under that node's field manager: status.nodes is a map keyed by node, so
// each speaker owns exactly its own entry, as in BGPPeer status.sessions.
func (p *Protocol) applyNodeEntry(ctx context.Context, adv *v1beta1.L2Advertisement, node string, e *v1beta1.L2NodeStatus) error {
	status := nodesApply{Nodes: []v1beta1.L2NodeStatus{}}
	if e != nil {
		status.Nodes = append(status.Nodes, *e)
	}
	return protocol.ApplyStatus(ctx, p.writer, adv, status, protocol.NodeFieldOwner(node))
}

// conditionsApply is the Announced condition, all announcedFieldOwner
// owns.
type conditionsApply struct {
	Conditions []metav1.Condition `json:"conditions"`
}

// syncAnnounced writes the Announced condition when it differs from what
// the live nodes' entries say.
func (p *Protocol) syncAnnounced(ctx context.Context, adv *v1beta1.L2Advertisement, live map[string]bool, recent recentWrites) {
	want := announcedCondition(adv.Generation, adv.Status.Nodes, live)
	have := meta.FindStatusCondition(adv.Status.Conditions, v1beta1.L2Announced)
	key := recentKey{uid: adv.UID, part: "condition"}
	if protocol.SameConditionAs(have, want) {
		delete(recent, key)
		return
	}
	what := fmt.Sprint(want.Status, want.Reason, want.Message, want.ObservedGeneration)
	if recent.pending(key, what) {
		return
	}
	conds := slices.Clone(adv.Status.Conditions) // the cache's own: never modified
	meta.SetStatusCondition(&conds, want)        // keeps the transition time unless the status flips
	status := conditionsApply{Conditions: []metav1.Condition{*meta.FindStatusCondition(conds, v1beta1.L2Announced)}}
	if err := protocol.ApplyStatus(ctx, p.writer, adv, status, announcedFieldOwner); err != nil {
		p.log.V(1).Info("Could not write the Announced condition; retrying", "advertisement", adv.Name, "error", err.Error())
		return
	}
	recent.wrote(key, what)
}

// announcedCondition is False while a live node's entry lists an address,
// naming the first few with their node and reason, and what to change.
func announcedCondition(gen int64, entries []v1beta1.L2NodeStatus, live map[string]bool) metav1.Condition {
	c := metav1.Condition{
		Type: v1beta1.L2Announced, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonAllAnnounced,
		Message:            "no node reports an address of this advertisement that it cannot announce",
		ObservedGeneration: gen,
	}
	entries = slices.SortedFunc(slices.Values(entries), func(a, b v1beta1.L2NodeStatus) int {
		return strings.Compare(a.Node, b.Node)
	})
	var spelled []string
	total := 0
	for _, e := range entries {
		if !live[e.Node] {
			continue // being removed (pruneGoneNodes)
		}
		for _, u := range e.Unannounced {
			if len(spelled) < maxMessageAddresses {
				spelled = append(spelled, fmt.Sprintf("%s on %s: %s", u.IP, e.Node, u.Reason))
			}
		}
		total += len(e.Unannounced) + int(e.MoreUnannounced)
	}
	if total == 0 {
		return c
	}
	msg := strings.Join(spelled, "; ")
	if more := total - len(spelled); more > 0 {
		msg += fmt.Sprintf("; and %d more (status.nodes lists them by node)", more)
	}
	c.Status, c.Reason = metav1.ConditionFalse, v1beta1.ReasonNoInterface
	c.Message = msg + ". Nobody answers ARP/NDP for these addresses: bring the node's interface on their network up, " +
		"or name one that is up in spec.interfaces"
	return c
}

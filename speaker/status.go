package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// advertisementFieldOwner is the field manager of advertisement status. One
// speaker writes it at a time (the lowest live one), under one shared name,
// so a change of writer takes the fields over instead of duplicating them.
const advertisementFieldOwner = "ironlb-speaker"

// Reasons of the Ready condition of L2Advertisement and BGPAdvertisement.
const (
	ReasonMatched         = "Matched"
	ReasonUnknownPool     = "UnknownPool"
	ReasonUnknownPeer     = "UnknownPeer"
	ReasonInvalidSelector = "InvalidSelector"
	// ReasonInvalidCommunity: a community the speaker cannot announce (out
	// of range, or IronLB's reserved global administrator); the
	// advertisement announces nothing.
	ReasonInvalidCommunity = "InvalidCommunity"
	// ReasonInvalidAggregation: an aggregation length that would announce
	// addresses outside a pool entry; the advertisement announces nothing.
	ReasonInvalidAggregation = "InvalidAggregation"
)

// advStatus is what an advertisement's status should say.
type advStatus struct {
	matched []string
	ready   metav1.Condition
}

// refusal is why the speaker announces nothing for an advertisement.
type refusal struct {
	reason, message string
}

// bgpRefusals lists, by name, the BGPAdvertisements this decision left out,
// with the reason their status and the logs give.
func bgpRefusals(st *clusterState, res announce.Result) map[string]refusal {
	out := map[string]refusal{}
	for _, a := range st.bgp {
		var reason string
		var msgs []string
		if !a.parsed.usable() {
			reason = ReasonInvalidCommunity
			for _, e := range a.parsed.badCommunities {
				msgs = append(msgs, e.Error())
			}
		} else if errs := res.RefusedAggregation[a.obj.Name]; len(errs) > 0 {
			reason = ReasonInvalidAggregation
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
		} else {
			continue
		}
		out[a.obj.Name] = refusal{reason: reason,
			message: strings.Join(msgs, "; ") + "; none of this advertisement's routes are announced until it is fixed"}
	}
	return out
}

// logRefusals logs the advertisements refused or accepted again since the
// last decision (every decision would repeat them).
func (s *Speaker) logRefusals(now map[string]refusal) {
	for name, r := range now {
		if s.lastRefusals[name] != r {
			s.log.Error(errors.New(r.message), "Refusing BGPAdvertisement", "advertisement", name, "reason", r.reason)
		}
	}
	for name := range s.lastRefusals {
		if _, still := now[name]; !still {
			s.log.Info("BGPAdvertisement accepted again", "advertisement", name)
		}
	}
	s.lastRefusals = now
}

// writeAdvertisementStatus writes status.matchedPools and the Ready
// condition of every advertisement that needs it. Only the lowest live
// speaker writes, so N speakers do not race to write the same thing.
func (s *Speaker) writeAdvertisementStatus(ctx context.Context, st *clusterState, refusals map[string]refusal, live map[string]bool) error {
	if lowestLive(live) != s.cfg.NodeName {
		return nil
	}
	peerNames := map[string]bool{}
	for _, p := range st.peers {
		peerNames[p.Name] = true
	}
	var errs []error
	for _, a := range st.l2 {
		want := advertisementStatus(a.obj.Generation, a.parsed.adv.Pools, st, a.parsed.err, nil, nil, nil)
		if !sameAdvStatus(a.obj.Status.MatchedPools, a.obj.Status.Conditions, want) {
			errs = append(errs, s.applyAdvStatus(ctx, "L2Advertisement", a.obj.Name, a.obj.UID, a.obj.Status.Conditions, want))
		}
	}
	for _, a := range st.bgp {
		var why *refusal
		if r, ok := refusals[a.obj.Name]; ok {
			why = &r
		}
		want := advertisementStatus(a.obj.Generation, a.parsed.adv.Pools, st, a.parsed.err, why, a.obj.Spec.Peers, peerNames)
		if !sameAdvStatus(a.obj.Status.MatchedPools, a.obj.Status.Conditions, want) {
			errs = append(errs, s.applyAdvStatus(ctx, "BGPAdvertisement", a.obj.Name, a.obj.UID, a.obj.Status.Conditions, want))
		}
	}
	return errors.Join(errs...)
}

// advertisementStatus computes matchedPools and Ready: False when the
// speaker refuses the advertisement (why), a selector does not parse, a
// named pool or peer does not exist. A refusal comes first: it means
// nothing at all is announced.
func advertisementStatus(gen int64, sel announce.PoolSelector, st *clusterState, selErr error, why *refusal,
	peers []string, knownPeers map[string]bool) advStatus {
	out := advStatus{
		matched: sel.MatchedPools(st.input.Pools),
		ready: metav1.Condition{
			Type: "Ready", Status: metav1.ConditionTrue, Reason: ReasonMatched,
			ObservedGeneration: gen,
		},
	}
	slices.Sort(out.matched)
	out.ready.Message = fmt.Sprintf("%d pools matched", len(out.matched))
	var unknownPools, unknownPeers []string
	for _, n := range sel.Names {
		if _, found := slices.BinarySearch(st.pools, n); !found {
			unknownPools = append(unknownPools, n)
		}
	}
	for _, p := range peers {
		if !knownPeers[p] {
			unknownPeers = append(unknownPeers, p)
		}
	}
	switch {
	case why != nil:
		out.ready.Status, out.ready.Reason, out.ready.Message = metav1.ConditionFalse, why.reason, why.message
	case selErr != nil:
		out.ready.Status, out.ready.Reason = metav1.ConditionFalse, ReasonInvalidSelector
		out.ready.Message = selErr.Error()
	case len(unknownPools) > 0:
		out.ready.Status, out.ready.Reason = metav1.ConditionFalse, ReasonUnknownPool
		out.ready.Message = "no IPAddressPool named " + strings.Join(unknownPools, ", ")
	case len(unknownPeers) > 0:
		out.ready.Status, out.ready.Reason = metav1.ConditionFalse, ReasonUnknownPeer
		out.ready.Message = "no BGPPeer named " + strings.Join(unknownPeers, ", ")
	}
	return out
}

func sameAdvStatus(matched []string, conds []metav1.Condition, want advStatus) bool {
	have := slices.Clone(matched)
	slices.Sort(have)
	if !slices.Equal(have, want.matched) {
		return false
	}
	c := meta.FindStatusCondition(conds, "Ready")
	return c != nil && c.Status == want.ready.Status && c.Reason == want.ready.Reason &&
		c.Message == want.ready.Message && c.ObservedGeneration == want.ready.ObservedGeneration
}

// applyAdvStatus writes the status with server-side apply, keeping the
// condition's transition time when its status did not flip.
func (s *Speaker) applyAdvStatus(ctx context.Context, kind, name string, uid types.UID, conds []metav1.Condition, want advStatus) error {
	ltt := time.Now().UTC()
	if c := meta.FindStatusCondition(conds, "Ready"); c != nil && c.Status == want.ready.Status {
		ltt = c.LastTransitionTime.UTC()
	}
	matched := make([]any, len(want.matched))
	for i, m := range want.matched {
		matched[i] = m
	}
	cond := map[string]any{
		"type":               want.ready.Type,
		"status":             string(want.ready.Status),
		"reason":             want.ready.Reason,
		"message":            want.ready.Message,
		"observedGeneration": want.ready.ObservedGeneration,
		"lastTransitionTime": ltt.Format(time.RFC3339),
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{"matchedPools": matched, "conditions": []any{cond}},
	}}
	u.SetGroupVersionKind(v1beta1.GroupVersion.WithKind(kind))
	u.SetName(name)
	u.SetUID(uid)
	err := s.writer.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(advertisementFieldOwner), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("writing status of %s %s: %w", kind, name, err)
	}
	return nil
}

// The rest of this file says, in L2Advertisement status, which addresses a
// node owns but cannot announce on any interface (nobody answers ARP/NDP
// for them), and why. Each speaker writes its own entry of status.nodes;
// the lowest live speaker sums the entries up in the Announced condition and
// removes the entries of speakers that are gone.

const (
	// l2StatusInterval is how often the addresses the announcer cannot
	// announce are compared with status. The announcer finds them at its
	// own scans, after SetOwned returns, so they are polled, not pushed.
	// Writes happen only on change.
	l2StatusInterval = time.Second
	// announcedFieldOwner owns the Announced condition. It is not
	// advertisementFieldOwner: that manager's apply holds matchedPools and
	// Ready only, and would drop a condition it does not list.
	announcedFieldOwner = "ironlb-speaker.announced"
	// maxReasonLen bounds one reason in status (an interface list in it
	// comes from the spec and has no bound of its own).
	maxReasonLen = 512
	// maxMessageAddresses bounds the addresses the condition message
	// spells out; status.nodes has the rest.
	maxMessageAddresses = 5
	// recentWriteGrace is how long a write is trusted over a cache that does
	// not show it yet (see recentWrites).
	recentWriteGrace = 10 * time.Second
)

// l2Owners names, for each address node answers for at layer 2, the
// L2Advertisements that make it do so: those selecting node and the
// address's pool. Their status is where a problem announcing it shows.
func l2Owners(st *clusterState, res announce.Result, node string) map[netip.Addr][]string {
	var nodeLabels map[string]string
	if st.self != nil {
		nodeLabels = st.self.Labels
	}
	var admitting []*l2Status
	for i := range st.l2 {
		if selectedBy(st.l2[i].parsed.adv.NodeSelectors, nodeLabels) {
			admitting = append(admitting, &st.l2[i])
		}
	}
	out := map[netip.Addr][]string{}
	for ip, a := range res.L2 {
		if a.Node != node {
			continue
		}
		pool := homePool(ip, recordedPools(st, a.Services), st.input.Pools)
		for _, adv := range admitting {
			if pool != nil && adv.parsed.adv.Pools.Matches(*pool) {
				out[ip] = append(out[ip], adv.obj.Name)
			}
		}
	}
	return out
}

// selectedBy applies parsed nodeSelectors: empty = every node.
func selectedBy(sels []labels.Selector, nodeLabels map[string]string) bool {
	return len(sels) == 0 || slices.ContainsFunc(sels, func(s labels.Selector) bool {
		return s.Matches(labels.Set(nodeLabels))
	})
}

// recordedPools are the pools recorded on the Services using an address.
func recordedPools(st *clusterState, keys []string) []string {
	var out []string
	for _, k := range keys {
		if svc := st.services[k]; svc != nil {
			out = append(out, svc.Annotations[v1beta1.AnnotationAllocatedFromPool])
		}
	}
	return out
}

// homePool is the pool ip belongs to, by the rule of announce.Compute: the
// pool recorded on its Services when that pool contains it, else the first
// Ready pool by name containing it, else the recorded pool. It must agree
// with Compute, or a problem would show on an advertisement that has nothing
// to do with the address (TestL2OwnersAgreeWithTheDecision).
func homePool(ip netip.Addr, recorded []string, pools []announce.Pool) *announce.Pool {
	named := func(name string) *announce.Pool {
		i := slices.IndexFunc(pools, func(p announce.Pool) bool { return p.Name == name })
		if i < 0 {
			return nil
		}
		return &pools[i]
	}
	holds := func(p *announce.Pool) bool {
		return slices.ContainsFunc(p.Ranges, func(r announce.Range) bool { return r.Contains(ip) })
	}
	for _, name := range recorded {
		if p := named(name); p != nil && holds(p) {
			return p
		}
	}
	var first *announce.Pool
	for i := range pools {
		if p := &pools[i]; !p.NotReady && holds(p) && (first == nil || p.Name < first.Name) {
			first = p
		}
	}
	if first != nil {
		return first
	}
	for _, name := range recorded {
		if p := named(name); p != nil {
			return p
		}
	}
	return nil
}

func (s *Speaker) setL2Owners(owners map[netip.Addr][]string) { s.l2Owners.Store(&owners) }

// ownersNow is the last setL2Owners, empty before the first decision.
func (s *Speaker) ownersNow() map[netip.Addr][]string {
	if o := s.l2Owners.Load(); o != nil {
		return *o
	}
	return nil
}

// unannouncedByAdvertisement groups the addresses the announcer cannot
// announce by the advertisements owning them, sorted by address. An address
// no longer owned (the announcer has not rescanned yet) is left out.
func unannouncedByAdvertisement(owners map[netip.Addr][]string, unannounced map[netip.Addr]string) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for ip := range unannounced {
		for _, name := range owners[ip] {
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

// runL2Status keeps this node's entries of L2Advertisement status.nodes in
// step with what the announcer cannot announce and, on the lowest live
// speaker, the Announced conditions with all the entries.
func (s *Speaker) runL2Status(ctx context.Context) error {
	recent := recentWrites{}
	return s.everyApplied(ctx, l2StatusInterval, nil, func(ctx context.Context) { s.syncL2Status(ctx, recent) })
}

func (s *Speaker) syncL2Status(ctx context.Context, recent recentWrites) {
	var advs v1beta1.L2AdvertisementList
	if err := s.reader.List(ctx, &advs, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	recent.expire()
	unannounced := s.l2.Unannounced()
	mine := unannouncedByAdvertisement(s.ownersNow(), unannounced)
	live := s.members.Live()
	// Like the rest of shared status, one speaker writes the conditions, and
	// not an isolated one: its view of the cluster is not the others'.
	summarise := lowestLive(live) == s.cfg.NodeName && s.isolation.Load() == nil
	for i := range advs.Items {
		adv := &advs.Items[i]
		s.syncOwnEntry(ctx, adv, nodeEntry(s.cfg.NodeName, mine[adv.Name], unannounced), recent)
		if summarise {
			s.pruneGoneNodes(ctx, adv, live, recent)
			s.syncAnnounced(ctx, adv, live, recent)
		}
	}
}

// syncOwnEntry writes this node's entry when it differs from want, and
// removes it when want lists nothing.
func (s *Speaker) syncOwnEntry(ctx context.Context, adv *v1beta1.L2Advertisement, want v1beta1.L2NodeStatus, recent recentWrites) {
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
	if err := s.applyNodeEntry(ctx, adv, want.Node, entry); err != nil {
		s.log.V(1).Info("Could not write L2Advertisement node status; retrying", "advertisement", adv.Name, "error", err.Error())
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
func (s *Speaker) pruneGoneNodes(ctx context.Context, adv *v1beta1.L2Advertisement, live map[string]bool, recent recentWrites) {
	for _, e := range adv.Status.Nodes {
		if live[e.Node] {
			continue
		}
		key := recentKey{uid: adv.UID, part: "node/" + e.Node}
		if recent.pending(key, "") {
			continue
		}
		if err := s.applyNodeEntry(ctx, adv, e.Node, nil); err != nil {
			s.log.V(1).Info("Could not remove a gone speaker's L2Advertisement node status; retrying",
				"advertisement", adv.Name, "entryNode", e.Node, "error", err.Error())
			continue
		}
		recent.wrote(key, "")
	}
}

// applyNodeEntry writes node's entry (nil removes it) with server-side apply
// under that node's field manager: status.nodes is a map keyed by node, so
// each speaker owns exactly its own entry, as in BGPPeer status.sessions.
func (s *Speaker) applyNodeEntry(ctx context.Context, adv *v1beta1.L2Advertisement, node string, e *v1beta1.L2NodeStatus) error {
	nodes := []any{}
	if e != nil {
		items := make([]any, len(e.Unannounced))
		for i, u := range e.Unannounced {
			items[i] = map[string]any{"ip": u.IP, "reason": u.Reason}
		}
		entry := map[string]any{
			"node": e.Node, "unannounced": items,
			"lastTransitionTime": e.LastTransitionTime.UTC().Format(time.RFC3339),
		}
		if e.MoreUnannounced > 0 {
			entry["moreUnannounced"] = int64(e.MoreUnannounced)
		}
		nodes = append(nodes, entry)
	}
	return s.applyL2Status(ctx, adv, map[string]any{"nodes": nodes}, sessionFieldOwner(node))
}

// syncAnnounced writes the Announced condition when it differs from what
// the live nodes' entries say.
func (s *Speaker) syncAnnounced(ctx context.Context, adv *v1beta1.L2Advertisement, live map[string]bool, recent recentWrites) {
	want := announcedCondition(adv.Generation, adv.Status.Nodes, live)
	have := meta.FindStatusCondition(adv.Status.Conditions, v1beta1.L2Announced)
	key := recentKey{uid: adv.UID, part: "condition"}
	if have != nil && have.Status == want.Status && have.Reason == want.Reason &&
		have.Message == want.Message && have.ObservedGeneration == want.ObservedGeneration {
		delete(recent, key)
		return
	}
	what := fmt.Sprint(want.Status, want.Reason, want.Message, want.ObservedGeneration)
	if recent.pending(key, what) {
		return
	}
	ltt := time.Now().UTC()
	if have != nil && have.Status == want.Status {
		ltt = have.LastTransitionTime.UTC()
	}
	cond := map[string]any{
		"type": want.Type, "status": string(want.Status), "reason": want.Reason, "message": want.Message,
		"observedGeneration": want.ObservedGeneration, "lastTransitionTime": ltt.Format(time.RFC3339),
	}
	err := s.applyL2Status(ctx, adv, map[string]any{"conditions": []any{cond}}, announcedFieldOwner)
	if err != nil {
		s.log.V(1).Info("Could not write the Announced condition; retrying", "advertisement", adv.Name, "error", err.Error())
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

// applyL2Status applies status fields of adv under fieldOwner. The UID
// pins the object: a newer one of the same name is never written.
func (s *Speaker) applyL2Status(ctx context.Context, adv *v1beta1.L2Advertisement, status map[string]any, fieldOwner string) error {
	u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	u.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("L2Advertisement"))
	u.SetName(adv.Name)
	u.SetUID(adv.UID)
	return s.writer.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(fieldOwner), client.ForceOwnership)
}

// recentWrites remembers, per object and part of its status, what this
// speaker last wrote and when. The cache shows a write only a moment
// later: meanwhile the same write is not repeated. After recentWriteGrace
// the cache is believed again, so an entry someone else removed is written
// back, and two speakers that disagree (a partition) write at most once per
// grace period each.
type recentWrites map[recentKey]recentWrite

type recentKey struct {
	uid  types.UID
	part string
}

type recentWrite struct {
	what string
	at   time.Time
}

func (r recentWrites) pending(k recentKey, what string) bool {
	w, ok := r[k]
	return ok && w.what == what && time.Since(w.at) < recentWriteGrace
}

func (r recentWrites) wrote(k recentKey, what string) { r[k] = recentWrite{what: what, at: time.Now()} }

// expire forgets writes past the grace period, so deleted objects do not
// accumulate.
func (r recentWrites) expire() {
	for k, w := range r {
		if time.Since(w.at) >= recentWriteGrace {
			delete(r, k)
		}
	}
}

package speaker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/member"
)

// rejoinInterval is how often speakers on Nodes that are not live are
// joined again. It is what heals a partition: memberlist forgets dead members
// and never dials them again on its own. Failure detection does not wait on
// it; only a node coming back does.
const rejoinInterval = 5 * time.Second

// runMembership joins the speakers of every other Node, then lets decisions
// run, forwards membership changes as recomputations, and keeps rejoining
// Nodes whose speaker is not live.
func (s *Speaker) runMembership(ctx context.Context) error {
	// First meet the others (this lists Nodes, waiting for the cache), so
	// the first decision is not made by a speaker that believes it is alone
	// and would claim every address.
	res := s.join(ctx, s.peers(ctx, false))
	s.log.Info("Joined speakers", "answered", res.Count(member.Joined), "alive", len(s.alive()))
	s.joined.Store(true)
	s.recompute()

	go s.rejoinLoop(ctx)
	go s.activateWhenApplied(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.members.Changes():
			s.recompute()
		}
	}
}

// rejoinLoop joins Nodes that are not live, periodically and after each
// decision (a new Node). It runs apart from change forwarding: a join of an
// unreachable address may take a while and must not delay a failover.
func (s *Speaker) rejoinLoop(ctx context.Context) {
	t := time.NewTicker(rejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.joinKick:
		}
		if peers := s.peers(ctx, true); len(peers) > 0 {
			if n := s.join(ctx, peers).Count(member.Joined); n > 0 {
				s.log.V(1).Info("Rejoined speakers", "answered", n)
			}
		}
	}
}

// peer is another Node's speaker: its name and memberlist address.
type peer struct {
	node string
	addr netip.AddrPort
}

// peers lists the other Nodes' speakers (InternalIP and the memberlist
// port), only those not live when onlyMissing is set.
func (s *Speaker) peers(ctx context.Context, onlyMissing bool) []peer {
	var nodes corev1.NodeList
	if err := s.reader.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var live map[string]bool
	if onlyMissing {
		live = s.alive()
	}
	var out []peer
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == s.cfg.NodeName || live[n.Name] {
			continue
		}
		if ip, ok := InternalIP(n); ok {
			out = append(out, peer{node: n.Name, addr: netip.AddrPortFrom(ip, uint16(s.cfg.MemberlistPort))})
		}
	}
	return out
}

// join joins peers and records how each answered: the evidence the
// isolation check weighs. A change of evidence recomputes the decision.
func (s *Speaker) join(ctx context.Context, peers []peer) member.JoinResult {
	addrs := make([]netip.AddrPort, len(peers))
	for i, p := range peers {
		addrs[i] = p.addr
	}
	res := s.members.Join(ctx, addrs)
	if s.reach.record(peers, res) {
		s.recompute()
	}
	return res
}

// reachability remembers how each other node's speaker answered the last
// join. It is written by the join loops and read by Reconcile.
type reachability struct {
	mu     sync.Mutex
	byNode map[string]member.Outcome
}

// record stores the outcomes of peers and reports whether any changed.
func (r *reachability) record(peers []peer, res member.JoinResult) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byNode == nil {
		r.byNode = map[string]member.Outcome{}
	}
	changed := false
	for _, p := range peers {
		o, ok := res[p.addr]
		if ok && r.byNode[p.node] != o {
			r.byNode[p.node] = o
			changed = true
		}
	}
	return changed
}

func (r *reachability) snapshot() map[string]member.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.byNode)
}

// gossipView is what a speaker knows of the speakers it should reach.
type gossipView struct {
	// Expected are the other nodes whose speaker should answer, sorted:
	// eligible by their Node (Ready, network available, not excluded from
	// load balancers), with an InternalIP to dial, and not known to run no
	// speaker. A node whose memberlist port refused the last join runs
	// none (the DaemonSet does not cover it, or its speaker is not up yet):
	// it cannot answer ARP beside this one, so it is not waited for.
	Expected []string
	// Missing are the expected nodes that are not live, sorted, with how
	// each answered its last join (absent: not tried yet).
	Missing []string
	Outcome map[string]member.Outcome
	// OtherLive counts the live members besides this one.
	OtherLive int
	// Isolated: other speakers are expected, none is live, and this one
	// has not met any since it started. It must then claim nothing: it
	// cannot tell which addresses the others hold, and answering for all
	// of them would answer beside their real owners.
	Isolated bool
}

// assessGossip judges whether self is isolated. settled is set once the
// speaker was not isolated: it met another speaker, or none was expected
// and it announced alone. From then on, losing every other speaker is a
// failure or a partition, where each side keeps announcing among its own
// live speakers (README "Network partitions"); only a speaker that never
// reached anyone since it started is held back. That is the speaker with a
// wrong or rotated key, or a blocked port, and it must not take addresses
// from the speakers that have been serving them.
func assessGossip(self string, elig announce.Eligibility, nodes []corev1.Node, live map[string]bool, reach map[string]member.Outcome, settled bool) gossipView {
	v := gossipView{Outcome: map[string]member.Outcome{}}
	for n := range live {
		if n != self {
			v.OtherLive++
		}
	}
	for i := range nodes {
		n := &nodes[i]
		if n.Name == self || !expectedSpeaker(n, elig, live, reach) {
			continue
		}
		v.Expected = append(v.Expected, n.Name)
		if !live[n.Name] {
			v.Missing = append(v.Missing, n.Name)
			if o, ok := reach[n.Name]; ok {
				v.Outcome[n.Name] = o
			}
		}
	}
	slices.Sort(v.Expected)
	slices.Sort(v.Missing)
	v.Isolated = !settled && v.OtherLive == 0 && len(v.Expected) > 0
	return v
}

// expectedSpeaker reports whether n's speaker should answer this one.
func expectedSpeaker(n *corev1.Node, elig announce.Eligibility, live map[string]bool, reach map[string]member.Outcome) bool {
	all := map[string]bool{n.Name: true}
	if !elig.Eligible(nodeFrom(n), all) {
		return false
	}
	if live[n.Name] {
		return true
	}
	if _, ok := InternalIP(n); !ok {
		return false // no address to dial it at, nor for it to gossip on
	}
	return reach[n.Name] != member.Refused
}

// members counts the speakers this one expects alive, itself and every live
// one included, so that live < expected exactly when an expected speaker is
// missing (ironlb_speaker_expected_members).
func (v gossipView) members(self string, live map[string]bool) int {
	set := maps.Clone(live)
	set[self] = true
	for _, n := range v.Expected {
		set[n] = true
	}
	return len(set)
}

// maxNamed bounds the node names a message lists (an Event's note is at
// most 1 kB).
const maxNamed = 5

// problem says why the speaker is isolated and what to check, by the way
// the missing speakers answered.
func (v gossipView) problem(port int) string {
	var rejected, silent []string
	for _, n := range v.Missing {
		if v.Outcome[n] == member.Rejected {
			rejected = append(rejected, n)
		} else {
			silent = append(silent, n)
		}
	}
	var why []string
	if len(rejected) > 0 {
		why = append(why, fmt.Sprintf("%s %s on port %d but not with this speaker's key: every speaker needs the same IRONLB_MEMBERLIST_KEY "+
			"(while rotating, the other key in IRONLB_MEMBERLIST_OLD_KEYS)", nameList(rejected), verb(rejected, "answers", "answer"), port))
	}
	if len(silent) > 0 {
		why = append(why, fmt.Sprintf("%s %s not answer on port %d: TCP and UDP %d must be open between the nodes, "+
			"and every speaker needs the same IRONLB_MEMBERLIST_KEY", nameList(silent), verb(silent, "does", "do"), port, port))
	}
	return fmt.Sprintf("cannot reach any of the %d other speakers, so announcing nothing: %s",
		len(v.Expected), strings.Join(why, "; "))
}

func nameList(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

func verb(names []string, one, many string) string {
	if len(names) == 1 {
		return one
	}
	return many
}

// checkIsolation assesses this speaker's gossip for Reconcile: it exports
// the gauges, keeps readiness, logs and reports on the Node when isolation
// starts, changes or ends, and returns whether the speaker must claim
// nothing. Isolation is about reaching the others, so it counts every
// speaker alive in the memberlist, not only the candidates for addresses
// the decision runs over: speakers that start together are all standbys
// until each has made a first decision, and must not judge each other
// unreachable for it.
func (s *Speaker) checkIsolation(st *clusterState, _ map[string]bool) bool {
	alive := s.alive()
	v := assessGossip(s.cfg.NodeName, s.cfg.Eligibility, st.nodes, alive, s.reach.snapshot(), s.settled)
	s.metrics.expected.Set(float64(v.members(s.cfg.NodeName, alive)))
	msg := ""
	if v.Isolated {
		s.metrics.isolated.Set(1)
		msg = v.problem(s.cfg.MemberlistPort)
		s.isolation.Store(&msg)
	} else {
		s.metrics.isolated.Set(0)
		s.settled = true
		s.isolation.Store(nil)
	}
	if msg != s.lastIsolation {
		s.reportIsolation(st, msg, v)
		s.lastIsolation = msg
	}
	return v.Isolated
}

// reportIsolation logs and records an Event on this speaker's Node when
// isolation starts or changes (msg set) or ends (msg empty).
func (s *Speaker) reportIsolation(st *clusterState, msg string, v gossipView) {
	if msg != "" {
		s.log.Error(errors.New(msg), "Isolated from the other speakers", "expected", v.Expected)
		if st.self != nil {
			s.recorder.Eventf(st.self, nil, corev1.EventTypeWarning, EventSpeakerIsolated, "Gossip", "%s", msg)
		}
		return
	}
	note := fmt.Sprintf("Reached %d other speakers: announcing again", v.OtherLive)
	if v.OtherLive == 0 {
		note = "No other speaker is expected any more: announcing alone"
	}
	s.log.Info(note, "live", v.OtherLive+1)
	if st.self != nil {
		s.recorder.Eventf(st.self, nil, corev1.EventTypeNormal, EventSpeakerJoined, "Gossip", "%s", note)
	}
}

// What *member.List adds to Membership: the coordinated layer-2 election
// and hand-offs (speaker/member, election.go).
type (
	// coordinated elects with the version in force at this instant, which
	// every speaker switches to at the same planned instant.
	coordinated interface {
		Election() announce.WinnerVersion
	}
	// winnerVersions reports the election versions each live speaker
	// advertises, for a Membership that does not coordinate.
	winnerVersions interface {
		WinnerVersions() map[string][]announce.WinnerVersion
	}
	// standby is a membership that starts alive but not a candidate for
	// addresses, and becomes one at an instant every speaker agrees on.
	standby interface {
		Activate() time.Time
	}
	// aliveLister tells the speakers memberlist believes alive, candidates
	// for addresses or not (Live names only the candidates).
	aliveLister interface {
		Alive() map[string]bool
	}
)

// agreedWinner is the layer-2 election for a decision over live. With a
// coordinating Membership it is the version in force now: during a rolling
// upgrade every speaker keeps the old election until the last speaker
// without the new one is gone, and all then switch at the instant one of
// them planned, a couple of seconds ahead, rather than each on the moment
// it happens to learn of the change. Settled, it is the highest version
// every live speaker supports (announce.AgreedWinner), which is what a
// Membership that only exchanges versions gives at once; one that exchanges
// none means version 1.
func (s *Speaker) agreedWinner(live map[string]bool) announce.WinnerVersion {
	v := announce.WinnerV1
	switch m := s.members.(type) {
	case coordinated:
		v = m.Election()
	case winnerVersions:
		v = agree(live, m.WinnerVersions())
	}
	s.metrics.winner.Set(float64(v))
	return v
}

// alive names the speakers memberlist believes alive: those to leave out of
// rejoins, a standby among them.
func (s *Speaker) alive() map[string]bool {
	if m, ok := s.members.(aliveLister); ok {
		return m.Alive()
	}
	return s.members.Live()
}

// activatePoll is how often a standby speaker looks whether its first
// decision was applied.
const activatePoll = 10 * time.Millisecond

// activateWhenApplied makes a standby speaker a candidate for addresses
// once it has applied its first decision, made as a standby: its caches
// are read and its protocols set up, so when the instant comes the one
// decision it makes is quick, and the others stop answering for its
// addresses at the same instant it starts.
func (s *Speaker) activateWhenApplied(ctx context.Context) {
	m, ok := s.members.(standby)
	if !ok {
		return
	}
	t := time.NewTicker(activatePoll)
	defer t.Stop()
	for !s.applied.Load() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	m.Activate() // it logs the instant
}

// agree applies announce.AgreedWinner to the speakers of live, by the
// versions they advertise.
func agree(live map[string]bool, advertised map[string][]announce.WinnerVersion) announce.WinnerVersion {
	supported := make([][]announce.WinnerVersion, 0, len(live))
	for _, n := range slices.Sorted(maps.Keys(live)) {
		supported = append(supported, advertised[n])
	}
	return announce.AgreedWinner(supported)
}

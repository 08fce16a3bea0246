// Package speaker is ironlb-speaker's decision loop: it watches Services,
// EndpointSlices, Nodes, IPAddressPools and what its protocols name, runs
// the announce decision over them and the live speakers, and hands it to
// every protocol (layer 2 and BGP, see speaker/protocol), which announces
// this node's share (the README's "Which node announces").
//
// Where things are: speaker.go runs one decision; state.go and input.go read
// the cluster for it; watches.go says which changes recompute; membership.go
// meets the other speakers and judges isolation; events.go and metrics.go
// report what is announced; run.go wires ironlb-speaker together and is the
// one place its protocols are registered. New adds the writer of the
// ServiceAnnouncements, who announces what per Service (speaker/servicestatus).
//
// The decision follows what changed: the watches note which Services
// changed (changes.go), and one work item, coalesced, reads just those from
// the informer cache into an incremental decider (announce.Decider), which
// recomputes only the addresses they touch; a Node, pool, advertisement or
// peer change re-reads the cluster-wide part and recomputes everything, and
// a membership change re-elects only what the rendezvous rule can move.
// When the API server is unreachable the cache simply stops changing and
// the last known state stays announced; membership changes still run, so
// failover works without the API server.
package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/member"
	"github.com/ironlb/ironlb/speaker/protocol"
	"github.com/ironlb/ironlb/speaker/servicestatus"
)

// Membership says which speakers are alive (*member.List).
type Membership interface {
	Live() map[string]bool
	Changes() <-chan struct{}
	Join(ctx context.Context, addrs []netip.AddrPort) member.JoinResult
}

// Config is what the wiring needs besides its collaborators.
type Config struct {
	// NodeName is this speaker's node. Required.
	NodeName string
	// Class selects the Services handled (--load-balancer-class, --default-class).
	Class v1beta1.ClassFilter
	// MemberlistPort is the port every speaker gossips on; other speakers
	// are joined at their node's InternalIP and this port.
	MemberlistPort int
	// SecretNamespace is the only namespace BGP password Secrets are read
	// from and cached; "" reads any namespace (and needs cluster-wide
	// Secret access).
	SecretNamespace string
	// Registerer gets ironlb_announced and the ironlb_speaker_* gauges.
	Registerer prometheus.Registerer
	// Eligibility is the rule of which nodes may announce at all; every
	// speaker must run with the same one (--ignore-exclude-lb).
	Eligibility announce.Eligibility
}

// Speaker recomputes the decision and hands it to its protocols.
type Speaker struct {
	cfg      Config
	reader   client.Reader // the informer cache
	recorder events.EventRecorder
	log      logr.Logger

	protocols []protocol.Protocol
	members   Membership
	metrics   *metrics

	trigger   chan event.TypedGenericEvent[string]
	joinKick  chan struct{}
	decided   []chan struct{}        // per protocol (protocol.Env.Decided)
	joined    atomic.Bool            // first join attempt done: the live set is meaningful
	applied   atomic.Bool            // something was applied once: ready
	isolation atomic.Pointer[string] // why the speaker is isolated; nil when it is not
	reach     reachability           // how other speakers answered their last join

	changes *changes // what the watches saw change since the last decision

	// Owned by Reconcile (MaxConcurrentReconciles is 1).
	decider       *announce.Decider
	state         *clusterState           // the cluster-wide part, as last read
	serviceIPs    map[string][]netip.Addr // the decider's Services and their addresses, by key
	servicesRead  bool                    // every Service was read once
	last          announce.Result         // the last decision applied
	haveLast      bool                    // last holds one: not before the first, nor after a withdrawal
	events        *eventTracker
	lastNodes     string
	nextRun       time.Time // no decision runs before this (see Reconcile)
	settled       bool      // not isolated once: see assessGossip
	lastIsolation string    // isolation message, as last reported
}

// New returns a Speaker announcing by the protocols given, each with a
// name of its own; call SetupWithManager to start it with a manager.
func New(cfg Config, members Membership, protocols ...protocol.Protocol) (*Speaker, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("speaker: NodeName is required")
	}
	names := map[string]bool{}
	for _, p := range protocols {
		if names[p.Name()] {
			return nil, fmt.Errorf("speaker: protocol %q registered twice", p.Name())
		}
		names[p.Name()] = true
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Speaker{
		cfg: cfg,
		// The ServiceAnnouncement writer rides on the protocol seam: it
		// is set up like a protocol and handed every decision, and it
		// announces nothing, so neither events nor metrics see it.
		protocols:  append(slices.Clone(protocols), servicestatus.New(cfg.NodeName)),
		members:    members,
		metrics:    m,
		trigger:    make(chan event.TypedGenericEvent[string], 1),
		joinKick:   make(chan struct{}, 1),
		events:     newEventTracker(protocols...),
		changes:    newChanges(),
		decider:    announce.NewDecider(),
		serviceIPs: map[string][]netip.Addr{},
	}
	for range s.protocols {
		s.decided = append(s.decided, make(chan struct{}, 1))
	}
	return s, nil
}

// Ready reports whether the speaker has joined the others and applied its
// first decision, and is not isolated from them; it is the manager's readyz
// check.
func (s *Speaker) Ready(*http.Request) error {
	if msg := s.isolation.Load(); msg != nil {
		return errors.New(*msg)
	}
	if !s.applied.Load() {
		return errors.New("no announcement applied yet")
	}
	return nil
}

// minRecomputeGap bounds how often a decision runs while changes keep
// coming, so that a burst of thousands of Services is handled in batches
// instead of one run per event.
const minRecomputeGap = 50 * time.Millisecond

// recompute asks for a new decision, coalescing with any pending one.
func (s *Speaker) recompute() {
	select {
	case s.trigger <- event.TypedGenericEvent[string]{Object: "membership"}:
	default:
	}
}

// Reconcile brings the decision up to date with what changed since the last
// one (changes: the Services to read again, the cluster-wide objects, the
// live speakers) and applies this node's share. The request is always the
// same single key, so that a burst of changes is handled in one run.
func (s *Speaker) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	if !s.joined.Load() {
		// Before meeting the others, this node would believe it is alone and
		// claim every address; the join loop triggers a run when it is done.
		return reconcile.Result{}, nil
	}
	// During a burst of changes, run at most every max(minRecomputeGap,
	// twice the last run's time); a lone change, such as a speaker dying,
	// is still handled at once.
	if wait := time.Until(s.nextRun); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	start := time.Now()
	defer func() { s.nextRun = time.Now().Add(max(minRecomputeGap, 2*time.Since(start))) }()

	read, err := s.readChanges(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	st := s.state
	live := s.members.Live()
	s.metrics.members.Set(float64(len(live)))
	if s.checkIsolation(st, live) {
		return reconcile.Result{}, s.withdraw(ctx, st)
	}
	version := s.agreedWinner(live)
	s.decider.SetCluster(st.cluster(live, version, s.cfg.Eligibility))
	res := s.decider.Decide()
	changed, all := s.decider.Changed()
	in := st.input
	in.Live, in.WinnerVersion, in.Eligibility = live, version, s.cfg.Eligibility
	lowest := lowestLive(live)
	d := protocol.Decision{
		Node: s.cfg.NodeName, Self: st.self, Input: in, Result: res,
		// Only the lowest live speaker writes shared status, so N speakers
		// do not race to write the same thing.
		WritesShared: lowest == s.cfg.NodeName,
		// After a withdrawal (or before the first run), every address may
		// differ from what was last applied.
		All: all || !s.haveLast,
	}
	var only map[string]bool // the Services whose events may change; nil: all
	if !d.All {
		d.Changed = changed
		only = affectedServices(read, s.last, res, changed)
		d.ChangedServices = make(map[string][]netip.Addr, len(only))
		for k := range only {
			d.ChangedServices[k] = s.serviceIPs[k] // never modified: setService stores new slices
		}
	}
	announced, err := s.apply(ctx, d)
	s.emitEvents(ctx, announced, only, lowest)
	s.last, s.haveLast = res, true
	s.applied.Store(true)
	s.kickDecided()
	return reconcile.Result{}, err
}

// readChanges reads what the watches saw change into the decider and
// returns the Services it read again. On error nothing is lost: the changes
// are read again at the next run.
func (s *Speaker) readChanges(ctx context.Context) (map[types.NamespacedName]struct{}, error) {
	p := s.changes.take()
	if err := s.read(ctx, p); err != nil {
		s.changes.giveBack(p)
		return nil, err
	}
	return p.services, nil
}

func (s *Speaker) read(ctx context.Context, p pending) error {
	if p.cluster || s.state == nil {
		st, err := s.readCluster(ctx)
		if err != nil {
			return err
		}
		s.state = st
		s.kickJoinOnNewNodes(st.nodes)
	}
	if !s.servicesRead {
		if err := s.readAllServices(ctx); err != nil {
			return err
		}
		s.servicesRead = true
		return nil
	}
	for key := range p.services {
		if err := s.readService(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// apply hands d to every protocol and exports what this node announces:
// the addresses of d.Changed, or all when d.All. It returns, by protocol,
// the nodes announcing each address: every address when d.All, else those
// of d.Changed and of d.ChangedServices (see announcedAt).
func (s *Speaker) apply(ctx context.Context, d protocol.Decision) (map[string]map[netip.Addr][]string, error) {
	var errs []error
	for _, p := range s.protocols {
		errs = append(errs, p.Apply(ctx, d))
	}
	var announced map[string]map[netip.Addr][]string
	if d.All {
		announced = announcedBy(s.protocols, d.Result)
	} else {
		announced = announcedAt(s.protocols, d.Result, d.Changed, d.ChangedServices)
	}
	s.metrics.setAnnounced(announced, s.cfg.NodeName, d.Changed, d.All)
	return announced, errors.Join(errs...)
}

// kickJoinOnNewNodes meets the speaker of a Node that appeared or changed
// address at once rather than at the next rejoin round.
func (s *Speaker) kickJoinOnNewNodes(nodes []corev1.Node) {
	if fp := nodesFingerprint(nodes); fp != s.lastNodes {
		s.lastNodes = fp
		s.kickJoin()
	}
}

// withdraw makes an isolated speaker announce nothing. No Service event and
// no shared status is written: its view of the cluster is not the others'.
func (s *Speaker) withdraw(ctx context.Context, st *clusterState) error {
	_, err := s.apply(ctx, protocol.Decision{Node: s.cfg.NodeName, Self: st.self, Input: st.input, Isolated: true, All: true})
	s.last, s.haveLast = announce.Result{}, false // the next decision applies everything again
	s.kickDecided()
	return err
}

// kickDecided tells the protocols' status loops a decision was applied.
func (s *Speaker) kickDecided() {
	for _, c := range s.decided {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

func (s *Speaker) kickJoin() {
	select {
	case s.joinKick <- struct{}{}:
	default:
	}
}

// nodesFingerprint summarises the Nodes' names and gossip addresses.
func nodesFingerprint(nodes []corev1.Node) string {
	parts := make([]string, 0, len(nodes))
	for i := range nodes {
		ip, _ := InternalIP(&nodes[i])
		parts = append(parts, nodes[i].Name+"="+ip.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// lowestLive is the speaker that writes shared status and reports losses:
// the live member with the smallest name. Every speaker agrees on it as
// soon as membership converges.
func lowestLive(live map[string]bool) string {
	var lowest string
	for n := range live {
		if lowest == "" || n < lowest {
			lowest = n
		}
	}
	return lowest
}

// writesShared reports whether this speaker writes the status every
// speaker shares (protocol.Env.WritesShared).
func (s *Speaker) writesShared(live map[string]bool) bool {
	return lowestLive(live) == s.cfg.NodeName && s.isolation.Load() == nil
}

// ctrlName is the controller's name in logs and metrics.
const ctrlName = "speaker"

var _ reconcile.Reconciler = (*Speaker)(nil)

// Package speaker is ironlb-speaker's Kubernetes side: it watches Services,
// EndpointSlices, Nodes and IronLB's CRDs, runs the announce decision over
// them and the live speakers, and hands this node's share to the layer-2
// announcer and the BGP speaker (the README's "Which node announces").
//
// Every change, whatever its kind, recomputes the whole decision from the
// informer cache: one work item, coalesced, so a burst of changes costs one
// computation. When the API server is unreachable the cache simply stops
// changing and the last known state stays announced; membership changes
// still recompute, so failover works without the API server.
package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/member"
)

// L2Announcer answers ARP/NDP for the addresses it is given
// (*layer2.Announcer).
type L2Announcer interface {
	SetOwned(owned map[netip.Addr][]string)
	// Unannounced returns the owned addresses no interface could carry at
	// the last interface scan, with why: for the L2Advertisement status.
	Unannounced() map[netip.Addr]string
}

// BGPSpeaker advertises routes to peers (*bgp.Speaker).
type BGPSpeaker interface {
	SetPeers(ctx context.Context, peers []bgp.Peer) error
	SetRoutes(ctx context.Context, routes []bgp.Route) error
	Sessions() map[string]bgp.SessionState
}

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
	// from; "" reads any namespace (and needs cluster-wide Secret access).
	SecretNamespace string
	// Registerer gets ironlb_announced and the ironlb_speaker_* gauges.
	Registerer prometheus.Registerer
}

// Speaker recomputes and applies this node's announcements.
type Speaker struct {
	cfg      Config
	reader   client.Reader // the informer cache
	writer   client.Client // status patches go straight to the API server
	recorder events.EventRecorder
	log      logr.Logger

	l2      L2Announcer
	bgp     BGPSpeaker
	members Membership
	metrics *metrics

	trigger    chan event.TypedGenericEvent[string]
	joinKick   chan struct{}
	statusKick chan struct{}
	joined     atomic.Bool            // first join attempt done: the live set is meaningful
	applied    atomic.Bool            // something was applied once: ready
	isolation  atomic.Pointer[string] // why the speaker is isolated; nil when it is not
	reach      reachability           // how other speakers answered their last join
	// l2Owners: the addresses this node answers for at layer 2, each with
	// the L2Advertisements that make it do so (see l2Owners); read by the
	// L2Advertisement status loop.
	l2Owners atomic.Pointer[map[netip.Addr][]string]

	// Owned by Reconcile (MaxConcurrentReconciles is 1).
	events        *eventTracker
	lastNodes     string
	nextRun       time.Time          // no full recompute before this (see Reconcile)
	lastRefusals  map[string]refusal // BGPAdvertisements refused, as last logged
	lastRouteErr  string             // routes GoBGP refused, as last logged
	settled       bool               // not isolated once: see assessGossip
	lastIsolation string             // isolation message, as last reported

	mu           sync.Mutex
	peerProblems map[string]string // BGPPeer name -> why it is not configured
}

// New returns a Speaker; call SetupWithManager to start it with a manager.
func New(cfg Config, l2 L2Announcer, bgpSpeaker BGPSpeaker, members Membership) (*Speaker, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("speaker: NodeName is required")
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Speaker{
		cfg:          cfg,
		l2:           l2,
		bgp:          bgpSpeaker,
		members:      members,
		metrics:      m,
		trigger:      make(chan event.TypedGenericEvent[string], 1),
		joinKick:     make(chan struct{}, 1),
		statusKick:   make(chan struct{}, 1),
		events:       newEventTracker(),
		peerProblems: map[string]string{},
	}, nil
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

// minRecomputeGap bounds how often the whole decision is recomputed while
// changes keep coming, so that a burst of thousands of Services costs a
// bounded share of a core instead of one recompute per event.
const minRecomputeGap = 50 * time.Millisecond

// recompute asks for a new decision, coalescing with any pending one.
func (s *Speaker) recompute() {
	select {
	case s.trigger <- event.TypedGenericEvent[string]{Object: "membership"}:
	default:
	}
}

// Reconcile recomputes the decision for the whole cluster from the cache and
// applies this node's share. The request is always the same single key.
func (s *Speaker) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	if !s.joined.Load() {
		// Before meeting the others, this node would believe it is alone and
		// claim every address; the join loop triggers a run when it is done.
		return reconcile.Result{}, nil
	}
	// During a burst of changes, recompute at most every
	// max(minRecomputeGap, twice the last run's time); a lone change, such
	// as a speaker dying, is still handled at once.
	if wait := time.Until(s.nextRun); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	start := time.Now()
	defer func() { s.nextRun = time.Now().Add(max(minRecomputeGap, 2*time.Since(start))) }()

	st, err := s.readState(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	live := s.members.Live()
	s.metrics.members.Set(float64(len(live)))
	s.kickJoinOnNewNodes(st.nodes)
	if s.checkIsolation(st, live) {
		return reconcile.Result{}, retryable(s.claimNothing(ctx, st))
	}
	st.input.Live = live
	res := announce.Compute(st.input)

	s.l2.SetOwned(res.L2Owned(s.cfg.NodeName))
	s.setL2Owners(l2Owners(st, res, s.cfg.NodeName))
	bgpErr := s.applyBGP(ctx, st, res)
	s.metrics.setAnnounced(res, s.cfg.NodeName)
	s.emitEvents(st, res, live)
	refusals := bgpRefusals(st, res)
	s.logRefusals(refusals)
	statusErr := s.writeAdvertisementStatus(ctx, st, refusals, live)
	s.applied.Store(true)
	s.kickStatus()
	return reconcile.Result{}, errors.Join(retryable(bgpErr), statusErr)
}

// kickJoinOnNewNodes meets the speaker of a Node that appeared or changed
// address at once rather than at the next rejoin round.
func (s *Speaker) kickJoinOnNewNodes(nodes []corev1.Node) {
	if fp := nodesFingerprint(nodes); fp != s.lastNodes {
		s.lastNodes = fp
		s.kickJoin()
	}
}

// claimNothing withdraws every announcement of an isolated speaker. Its BGP
// peers stay configured (their session status is still written), so routes
// return as soon as it meets the others. No Service event and no shared
// status is written: its view of the cluster is not the others'.
func (s *Speaker) claimNothing(ctx context.Context, st *clusterState) error {
	var none announce.Result
	s.l2.SetOwned(map[netip.Addr][]string{})
	s.setL2Owners(map[netip.Addr][]string{})
	err := s.applyBGP(ctx, st, none)
	s.metrics.setAnnounced(none, s.cfg.NodeName)
	s.kickStatus()
	return err
}

// clusterState is one consistent read of the cache.
type clusterState struct {
	self     *corev1.Node // nil when this node has no Node object
	nodes    []corev1.Node
	services map[string]*corev1.Service // handled Services with addresses, by key
	input    announce.Input             // without Live
	pools    []string                   // names, sorted
	l2       []l2Status
	bgp      []bgpStatus
	peers    []v1beta1.BGPPeer
}

type l2Status struct {
	obj    *v1beta1.L2Advertisement
	parsed parsedL2
}

type bgpStatus struct {
	obj    *v1beta1.BGPAdvertisement
	parsed parsedBGP
}

// readState lists everything from the cache. The objects are the cache's
// own (no deep copy): they are only read.
func (s *Speaker) readState(ctx context.Context) (*clusterState, error) {
	var (
		nodes corev1.NodeList
		svcs  corev1.ServiceList
		eps   discoveryv1.EndpointSliceList
		pools v1beta1.IPAddressPoolList
		l2s   v1beta1.L2AdvertisementList
		bgps  v1beta1.BGPAdvertisementList
		peers v1beta1.BGPPeerList
	)
	for _, l := range []client.ObjectList{&nodes, &svcs, &eps, &pools, &l2s, &bgps, &peers} {
		if err := s.reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing from cache: %w", err)
		}
	}
	st := &clusterState{nodes: nodes.Items, services: map[string]*corev1.Service{}, peers: peers.Items}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == s.cfg.NodeName {
			st.self = n
		}
		st.input.Nodes = append(st.input.Nodes, nodeFrom(n))
	}
	endpoints := readyEndpointNodes(eps.Items)
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if !s.cfg.Class.Handles(svc) {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		if a, ok := serviceFrom(svc, endpoints[key]); ok {
			st.input.Services = append(st.input.Services, a)
			st.services[key] = svc
		}
	}
	for i := range pools.Items {
		st.input.Pools = append(st.input.Pools, poolFrom(&pools.Items[i]))
		st.pools = append(st.pools, pools.Items[i].Name)
	}
	slices.Sort(st.pools)
	for i := range l2s.Items {
		p := l2From(&l2s.Items[i])
		st.l2 = append(st.l2, l2Status{obj: &l2s.Items[i], parsed: p})
		st.input.L2Advertisements = append(st.input.L2Advertisements, p.adv)
	}
	for i := range bgps.Items {
		p := bgpFrom(&bgps.Items[i])
		st.bgp = append(st.bgp, bgpStatus{obj: &bgps.Items[i], parsed: p})
		if p.usable() {
			st.input.BGPAdvertisements = append(st.input.BGPAdvertisements, p.adv)
		}
	}
	return st, nil
}

// applyBGP configures the peers that select this node and this node's routes.
func (s *Speaker) applyBGP(ctx context.Context, st *clusterState, res announce.Result) error {
	peers, problems := s.peersForNode(ctx, st)
	s.mu.Lock()
	s.peerProblems = problems
	s.mu.Unlock()
	peerErr := s.bgp.SetPeers(ctx, peers)
	routes := res.Routes(s.cfg.NodeName)
	out := make([]bgp.Route, len(routes))
	for i, r := range routes {
		out[i] = bgp.Route{
			Prefix:           r.Prefix,
			Peers:            r.Peers,
			Communities:      r.Communities,
			LargeCommunities: r.LargeCommunities,
			LocalPref:        r.LocalPref,
		}
	}
	routeErr := s.bgp.SetRoutes(ctx, out)
	s.logRefusedRoutes(routeErr)
	return errors.Join(peerErr, routeErr)
}

// logRefusedRoutes logs the routes GoBGP refused, once per change: the
// advertisements' own faults were caught before (see bgpRefusals), so what
// is left here would otherwise vanish without a trace (retryable drops it).
func (s *Speaker) logRefusedRoutes(err error) {
	msg := ""
	if errors.Is(err, bgp.ErrInvalidRoute) {
		msg = err.Error()
	}
	if msg != "" && msg != s.lastRouteErr {
		s.log.Error(err, "BGP routes refused; they are not announced")
	}
	s.lastRouteErr = msg
}

// retryable drops errors a retry would not fix from err: an invalid peer or
// route is reported in status and logged. What is left
// (GoBGP failing to apply) is worth a retry with back-off.
func retryable(err error) error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var keep []error
		for _, e := range joined.Unwrap() {
			if e = retryable(e); e != nil {
				keep = append(keep, e)
			}
		}
		return errors.Join(keep...)
	}
	// ErrNotRunning: BGP stopped during shutdown; nothing to retry.
	if errors.Is(err, bgp.ErrInvalidPeer) || errors.Is(err, bgp.ErrInvalidRoute) || errors.Is(err, bgp.ErrNotRunning) {
		return nil
	}
	return err
}

func (s *Speaker) kickStatus() {
	select {
	case s.statusKick <- struct{}{}:
	default:
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

// ctrlName is the controller's name in logs and metrics.
const ctrlName = "speaker"

var _ reconcile.Reconciler = (*Speaker)(nil)

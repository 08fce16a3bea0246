// Package bgp is BGP announcement as the speaker drives it: it reads
// BGPAdvertisements into the decision, configures the BGPPeers that select
// this node (peers.go) and this node's routes on the embedded GoBGP speaker
// of speaker/bgp, runs BFD beside the peers that name a BFDProfile
// (bfd.go), and writes status: BGPAdvertisement matchedPools and Ready
// (advertisement.go), BFDProfile Ready (bfdprofile.go), this node's entry
// of BGPPeer status.sessions (sessions.go). Which nodes advertise an
// address, and under which prefixes, is decided in speaker/announce (bgp.go
// there).
package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/bfd"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// Name labels BGP in ironlb_announced{protocol}.
const Name = "bgp"

// Speaker advertises routes to peers (*bgp.Speaker of speaker/bgp).
type Speaker interface {
	SetPeers(ctx context.Context, peers []bgpspeaker.Peer) error
	SetRoutes(ctx context.Context, routes []bgpspeaker.Route) error
	Sessions() map[string]bgpspeaker.SessionState
	// ResetPeer closes one peer's session at once (BFD went down).
	ResetPeer(ctx context.Context, name, reason string) error
}

// RouteUpdater is a Speaker that changes the routes of some prefixes
// without being handed every route (*bgp.Speaker of speaker/bgp). A
// Speaker that is not one is handed every route at every change.
type RouteUpdater interface {
	// UpdateRoutes makes routes the announced routes of prefixes, leaving
	// every other prefix as it is; a prefix of prefixes without a route
	// in routes is withdrawn.
	UpdateRoutes(ctx context.Context, prefixes []netip.Prefix, routes []bgpspeaker.Route) error
}

// Protocol announces this node's routes through a Speaker.
type Protocol struct {
	speaker Speaker
	// secretNamespace is the only namespace BGP password Secrets are read
	// from; "" reads any namespace.
	secretNamespace string
	env             protocol.Env
	reader          client.Reader // the informer cache
	writer          client.Client // status writes go straight to the API server
	log             logr.Logger

	// Written by Read, used by Apply (the decision goroutine).
	advertisements []advertisement
	peers          []v1beta1.BGPPeer
	bfdProfiles    []v1beta1.BFDProfile
	lastRefusals   map[string]protocol.Refusal // BGPAdvertisements refused, as last logged
	// lastBFDProblems are the peers running without the BFD they ask
	// for, as last logged.
	lastBFDProblems map[string]string
	bfd             BFD    // nil: no BFD
	lastRouteErr    string // routes GoBGP refused, as last logged
	// routesCurrent: the speaker holds the routes of the last Decision
	// applied, so the next one may set the changed routes only. False
	// before the first Apply and after one failed (what failed is not in
	// the next Decision's Changed).
	routesCurrent bool

	mu           sync.Mutex
	peerProblems map[string]string // BGPPeer name -> why it is not configured; read by the session loop
	// bfdRunning are the BFD sessions applied, with the peer each guards;
	// read by BFDStateChanged.
	bfdRunning map[bfd.SessionKey]bfdSession
}

var _ protocol.Protocol = (*Protocol)(nil)

// New returns BGP driving s. Password Secrets are read from secretNamespace
// only ("" reads any namespace, and needs cluster-wide Secret access).
func New(s Speaker, secretNamespace string) *Protocol {
	return &Protocol{speaker: s, secretNamespace: secretNamespace, peerProblems: map[string]string{}}
}

// Name implements protocol.Protocol.
func (*Protocol) Name() string { return Name }

// Setup implements protocol.Protocol: BGPAdvertisement and BGPPeer spec
// changes recompute, and so does a change to a Secret a BGPPeer reads its
// password from, so a rotated password is applied (it resets that peer
// only). The session status loop runs beside the manager.
func (p *Protocol) Setup(mgr manager.Manager, env protocol.Env) ([]protocol.Watch, error) {
	p.env, p.log = env, env.Log
	p.reader, p.writer = mgr.GetCache(), mgr.GetClient()
	if err := mgr.Add(manager.RunnableFunc(p.runSessionStatus)); err != nil {
		return nil, err
	}
	specChanged := []predicate.Predicate{predicate.GenerationChangedPredicate{}}
	return []protocol.Watch{
		{Object: &v1beta1.BGPAdvertisement{}, Predicates: specChanged},
		{Object: &v1beta1.BGPPeer{}, Predicates: specChanged},
		{Object: &corev1.Secret{}, Matters: p.referencedSecret},
		// A new or changed alias can make a refused advertisement usable.
		{Object: &v1beta1.Community{}, Predicates: specChanged},
		{Object: &v1beta1.BFDProfile{}, Predicates: specChanged},
	}, nil
}

// Read implements protocol.Protocol. The objects are the cache's own (no
// deep copy): they are only read. An advertisement the speaker cannot
// announce (see advertisement.usable) stays out of the decision.
func (p *Protocol) Read(ctx context.Context, in *announce.Input) error {
	var advs v1beta1.BGPAdvertisementList
	var peers v1beta1.BGPPeerList
	var communities v1beta1.CommunityList
	var profiles v1beta1.BFDProfileList
	for _, l := range []client.ObjectList{&advs, &peers, &communities, &profiles} {
		if err := p.reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("listing from cache: %w", err)
		}
	}
	aliases := validation.CommunityAliases(communities.Items)
	p.advertisements = p.advertisements[:0]
	for i := range advs.Items {
		a := parse(&advs.Items[i], aliases)
		p.advertisements = append(p.advertisements, a)
		if a.usable() {
			in.BGPAdvertisements = append(in.BGPAdvertisements, a.adv)
		}
	}
	p.peers = peers.Items
	p.bfdProfiles = profiles.Items
	return nil
}

// Apply implements protocol.Protocol: the peers that select this node and
// this node's routes. Peers stay configured while the speaker is isolated
// (their session status is still kept), so routes return as soon as it
// meets the others.
func (p *Protocol) Apply(ctx context.Context, d protocol.Decision) error {
	peers, problems := p.peersForNode(ctx, d.SelfLabels())
	p.mu.Lock()
	p.peerProblems = problems
	p.mu.Unlock()
	peerErr := errors.Join(p.speaker.SetPeers(ctx, peers), p.applyBFD(peers))
	routeErr := p.applyRoutes(ctx, d)
	err := retryable(errors.Join(peerErr, routeErr))
	if d.Isolated {
		return err
	}
	refusals := p.refusals(d.Result)
	p.logRefusals(refusals)
	if d.WritesShared {
		err = errors.Join(err, p.writeAdvertisementStatus(ctx, d.Input.Pools, refusals), p.writeBFDProfileStatus(ctx))
	}
	return err
}

// applyRoutes sets this node's routes: every route when d.All, after a
// failure, or when an advertisement aggregates; otherwise only the routes
// of the addresses of d.Changed (see applyChangedRoutes).
func (p *Protocol) applyRoutes(ctx context.Context, d protocol.Decision) error {
	u, canUpdate := p.speaker.(RouteUpdater)
	if d.All || d.Isolated || !canUpdate || !p.routesCurrent || aggregates(d.Input.BGPAdvertisements) {
		err := p.speaker.SetRoutes(ctx, d.Result.Routes(d.Node))
		p.logRefusedRoutes(err)
		p.routesCurrent = err == nil
		return err
	}
	if len(d.Changed) == 0 {
		return nil
	}
	err := applyChangedRoutes(ctx, u, d)
	if err != nil {
		p.logRefusedRoutes(err)
	}
	p.routesCurrent = err == nil
	return err
}

// applyChangedRoutes replaces the routes of each address of d.Changed.
// Without aggregation an address's routes all have its own prefix (a /32
// or /128) and no other address's routes do (announce.Result.RoutesAt),
// so replacing the routes of those prefixes is the same as setting every
// route. With aggregation an address maps to an aggregate route that
// others share, and that whole route would have to be rebuilt from every
// address it covers: applyRoutes sets every route instead.
func applyChangedRoutes(ctx context.Context, u RouteUpdater, d protocol.Decision) error {
	prefixes := make([]netip.Prefix, 0, len(d.Changed))
	var routes []bgpspeaker.Route
	for _, ip := range d.Changed {
		prefixes = append(prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		routes = append(routes, d.Result.RoutesAt(d.Node, ip)...)
	}
	return u.UpdateRoutes(ctx, prefixes, routes)
}

// aggregates reports whether an advertisement aggregates addresses into
// shorter prefixes.
func aggregates(advs []announce.BGPAdvertisement) bool {
	for i := range advs {
		if advs[i].AggregationLength != nil || advs[i].AggregationLengthV6 != nil {
			return true
		}
	}
	return false
}

// logRefusedRoutes logs the routes GoBGP refused, once per change: the
// advertisements' own faults were caught before (see refusals), so what
// is left here would otherwise vanish without a trace (retryable drops it).
func (p *Protocol) logRefusedRoutes(err error) {
	msg := ""
	if errors.Is(err, bgpspeaker.ErrInvalidRoute) {
		msg = err.Error()
	}
	if msg != "" && msg != p.lastRouteErr {
		p.log.Error(err, "BGP routes refused; they are not announced")
	}
	p.lastRouteErr = msg
}

// retryable drops errors a retry would not fix from err: an invalid peer or
// route is reported in status and logged. What is left (GoBGP failing to
// apply) is worth a retry with back-off.
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
	if errors.Is(err, bgpspeaker.ErrInvalidPeer) || errors.Is(err, bgpspeaker.ErrInvalidRoute) || errors.Is(err, bgpspeaker.ErrNotRunning) {
		return nil
	}
	return err
}

// Announcers implements protocol.Protocol.
func (*Protocol) Announcers(res announce.Result) map[netip.Addr][]string {
	out := make(map[netip.Addr][]string, res.LenBGP())
	for ip, a := range res.AllBGP() {
		out[ip] = a.Nodes
	}
	return out
}

// AnnouncersAt implements protocol.Protocol.
func (*Protocol) AnnouncersAt(res announce.Result, ip netip.Addr) []string {
	a, _ := res.BGPAt(ip)
	return a.Nodes
}

// EventNote implements protocol.Protocol.
func (*Protocol) EventNote(ip netip.Addr, was, now []string) string {
	if len(now) == 0 {
		return fmt.Sprintf("%s is no longer advertised by BGP (was nodes %s): no eligible node", ip, strings.Join(was, ", "))
	}
	return fmt.Sprintf("Advertising %s by BGP from nodes %s", ip, strings.Join(now, ", "))
}

package bgp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/log"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Speaker.
type Options struct {
	// Logger receives the Speaker's and GoBGP's log lines; the zero value
	// discards them.
	Logger logr.Logger
	// Registerer, when set, gets the collector of ironlb_bgp_session_up,
	// ironlb_bgp_updates_total and ironlb_bgp_announced_prefixes (label
	// peer), registered by New and unregistered by Stop.
	Registerer prometheus.Registerer
	// RouterID is the BGP identifier of peers that name none; it must be
	// an IPv4 address (usually the node's).
	RouterID netip.Addr
	// NextHopV4 and NextHopV6 are the next hops of IPv4 and IPv6 routes.
	// The zero value lets each session use its own local address.
	NextHopV4, NextHopV6 netip.Addr
	// ListenPort is the TCP port to accept sessions on: -1 does not listen
	// (the speaker only dials out, and can share the node with a routing
	// daemon), 0 means 179.
	ListenPort int32
	// ListenAddresses are the addresses ListenPort is bound on. Empty is
	// GoBGP's default, every address of the host (0.0.0.0 and ::): on the
	// host's network that includes pod bridges and other networks, so
	// ironlb-speaker passes the node's InternalIPs.
	ListenAddresses []netip.Addr
}

// ErrNotRunning is returned by SetPeers and SetRoutes before Start and
// after Stop.
var ErrNotRunning = errors.New("BGP speaker is not running")

// Speaker announces routes to BGP peers with embedded GoBGP servers. Its
// methods are safe for concurrent use.
type Speaker struct {
	opts     Options
	log      logr.Logger
	sessions *sessionTable
	metrics  *collector

	// mu serialises Start, SetPeers, SetRoutes and Stop, and guards the
	// fields below it.
	mu        sync.Mutex
	started   bool
	stopped   bool
	instances map[netip.Addr]*instance // by router ID
	peers     map[string]peerConfig    // applied peers, by name
	ids       peerIDs
	routes    map[netip.Prefix]routeSpec // announced routes
	paths     map[netip.Prefix]*api.Path // and their GoBGP paths

	// live is a copy of instances for readers that must not wait for mu
	// (peer-state events, metrics) while a long SetRoutes runs.
	live atomic.Pointer[map[netip.Addr]*instance]
}

// New checks the options and returns a Speaker that is not started yet.
func New(opts Options) (*Speaker, error) {
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	opts.RouterID = opts.RouterID.Unmap()
	switch {
	case !opts.RouterID.Is4():
		return nil, fmt.Errorf("router ID %v is not an IPv4 address", opts.RouterID)
	case opts.NextHopV4.IsValid() && !opts.NextHopV4.Unmap().Is4():
		return nil, fmt.Errorf("IPv4 next hop %s is not an IPv4 address", opts.NextHopV4)
	case opts.NextHopV6.IsValid() && (!opts.NextHopV6.Is6() || opts.NextHopV6.Is4In6()):
		return nil, fmt.Errorf("IPv6 next hop %s is not an IPv6 address", opts.NextHopV6)
	case opts.ListenPort < -1 || opts.ListenPort > 65535:
		return nil, fmt.Errorf("listen port %d is not -1 or a TCP port", opts.ListenPort)
	}
	opts.ListenAddresses = slices.Clone(opts.ListenAddresses)
	for i, a := range opts.ListenAddresses {
		// GoBGP parses the address without a zone and would refuse it
		// only when Start binds.
		if !a.IsValid() || a.Zone() != "" {
			return nil, fmt.Errorf("listen address %q is not an IP address without a zone", a)
		}
		opts.ListenAddresses[i] = a.Unmap()
	}
	s := &Speaker{
		opts:      opts,
		log:       opts.Logger,
		sessions:  newSessionTable(),
		instances: map[netip.Addr]*instance{},
		peers:     map[string]peerConfig{},
		routes:    map[netip.Prefix]routeSpec{},
		paths:     map[netip.Prefix]*api.Path{},
	}
	s.publish()
	s.metrics = newCollector(s)
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(s.metrics); err != nil {
			return nil, fmt.Errorf("registering BGP metrics: %w", err)
		}
	}
	return s, nil
}

// Start starts the GoBGP server of Options.RouterID, listening when asked.
// The Speaker runs until Stop; ctx bounds only the start itself.
func (s *Speaker) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errors.New("BGP speaker already started")
	}
	if _, err := s.instanceFor(ctx, s.opts.RouterID); err != nil {
		return err
	}
	s.started = true
	return nil
}

// SetPeers makes peers the complete set of neighbours. Peers are matched by
// name: an unchanged peer keeps its session, a changed one (any field) is
// deleted and added again, which resets only its session. Invalid peers are
// skipped, reported in Sessions with the reason, and in the returned error
// (wrapping ErrInvalidPeer); the others are applied all the same.
func (s *Speaker) SetPeers(ctx context.Context, peers []Peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopped {
		return ErrNotRunning
	}
	wanted, rejected, err := normalizePeers(peers, s.opts.RouterID)
	errs := []error{err}
	plan := diffPeers(s.peers, wanted)
	for _, name := range plan.Remove {
		old := s.peers[name]
		if inst := s.instances[old.RouterID]; inst != nil {
			errs = append(errs, inst.removePeer(ctx, name, s.ids.id(name)))
		}
		delete(s.peers, name)
		s.sessions.remove(name)
		s.log.Info("Removed BGP peer", "peer", name, "address", old.Address)
	}
	for _, name := range plan.Add {
		if err := s.addPeer(ctx, name, wanted[name]); err != nil {
			rejected[name] = err.Error()
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.stopIdleInstances(ctx))
	s.sessions.setRejected(rejected)
	return errors.Join(errs...)
}

func (s *Speaker) addPeer(ctx context.Context, name string, c peerConfig) error {
	inst, err := s.instanceFor(ctx, c.RouterID)
	if err != nil {
		return err
	}
	// Known before GoBGP sees it, so no state event is missed.
	s.sessions.add(name, c)
	if err := inst.addPeer(ctx, name, s.ids.id(name), c); err != nil {
		s.sessions.remove(name)
		return err
	}
	s.peers[name] = c
	s.log.Info("Added BGP peer", "peer", name, "address", c.Address, "myASN", c.MyASN, "peerASN", c.PeerASN, "routerID", c.RouterID)
	return nil
}

// instanceFor returns the GoBGP server of a router ID, starting it, with
// every announced route, if needed. Callers hold mu.
func (s *Speaker) instanceFor(ctx context.Context, routerID netip.Addr) (*instance, error) {
	if inst, ok := s.instances[routerID]; ok {
		return inst, nil
	}
	// Only the server of the node's router ID listens: one port, one owner.
	listen := listenOn{port: -1}
	if routerID == s.opts.RouterID {
		listen = listenOn{port: s.opts.ListenPort, addrs: s.opts.ListenAddresses}
	}
	logger := gobgpLogger{
		log:       s.log.WithValues("routerID", routerID),
		wantDebug: func() bool { return !s.sessions.allUp.Load() },
		observe:   func(msg string, f log.Fields) { s.sessions.observeLog(routerID, msg, f) },
	}
	inst, err := startInstance(ctx, routerID, listen, logger, func(address string) { s.peerEvent(routerID, address) })
	if err != nil {
		return nil, err
	}
	s.instances[routerID] = inst
	s.publish()
	for _, prefix := range slices.SortedFunc(maps.Keys(s.paths), comparePrefixes) {
		if err := inst.announce(ctx, s.paths[prefix]); err != nil {
			return nil, fmt.Errorf("announcing %s: %w", prefix, err)
		}
	}
	return inst, nil
}

// stopIdleInstances stops the servers of other router IDs that have no peer
// left. Callers hold mu.
func (s *Speaker) stopIdleInstances(ctx context.Context) error {
	var errs []error
	for id, inst := range s.instances {
		if id != s.opts.RouterID && len(inst.peers) == 0 {
			errs = append(errs, inst.stopIdle(ctx))
			delete(s.instances, id)
		}
	}
	s.publish()
	return errors.Join(errs...)
}

// SetRoutes makes routes the complete set of announced routes. Only the
// difference reaches GoBGP: new and changed routes are announced (a change
// replaces the old path, with no withdrawal in between), missing ones are
// withdrawn. No session is reset. Routes with the same prefix are merged
// (see Route). Invalid routes are left out (and withdrawn if they were
// announced) and reported in the returned error, wrapping ErrInvalidRoute.
func (s *Speaker) SetRoutes(ctx context.Context, routes []Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopped {
		return ErrNotRunning
	}
	wanted, err := parseRoutes(routes)
	upsert, withdraw := diffRoutes(s.routes, wanted)
	return s.changeRoutes(ctx, upsert, withdraw, err)
}

// changeRoutes announces upsert and withdraws withdraw, recording what
// reached GoBGP; errs are the errors met before, joined to the result.
// Callers hold mu.
func (s *Speaker) changeRoutes(ctx context.Context, upsert []routeSpec, withdraw []netip.Prefix, errs ...error) error {
	nh := nextHops{V4: s.opts.NextHopV4, V6: s.opts.NextHopV6}
	for _, r := range upsert {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		p, err := apiPath(r, routeMarkers(r.Peers, &s.ids), nh)
		if err == nil {
			err = s.onEveryInstance(func(i *instance) error { return i.announce(ctx, p) })
		}
		if err != nil {
			// Not recorded as announced: the next SetRoutes tries again.
			errs = append(errs, fmt.Errorf("announcing %s: %w", r.Prefix, err))
			continue
		}
		s.routes[r.Prefix], s.paths[r.Prefix] = r, p
	}
	for _, prefix := range withdraw {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		p := s.paths[prefix]
		if err := s.onEveryInstance(func(i *instance) error { return i.withdraw(ctx, p) }); err != nil {
			errs = append(errs, fmt.Errorf("withdrawing %s: %w", prefix, err))
			continue
		}
		delete(s.routes, prefix)
		delete(s.paths, prefix)
	}
	if len(upsert)+len(withdraw) > 0 {
		s.log.V(1).Info("Updated BGP routes", "announced", len(upsert), "withdrawn", len(withdraw), "total", len(s.routes))
	}
	return errors.Join(errs...)
}

func (s *Speaker) onEveryInstance(f func(*instance) error) error {
	var errs []error
	for _, inst := range s.instances {
		errs = append(errs, f(inst))
	}
	return errors.Join(errs...)
}

// Sessions returns the session state of every peer given to SetPeers, by
// name, including the peers it refused (Idle, with the reason).
func (s *Speaker) Sessions() map[string]SessionState {
	return s.sessions.snapshot()
}

// Stop withdraws every route and closes every session with a Cease
// NOTIFICATION, then stops GoBGP. Sessions with graceful restart stay open
// (the router would drop our routes on any NOTIFICATION): they end without
// one when the process exits, and the router keeps our routes for the
// restart time. Stop after Stop does nothing.
func (s *Speaker) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	if s.opts.Registerer != nil {
		s.opts.Registerer.Unregister(s.metrics)
	}
	var errs []error
	for id, inst := range s.instances {
		stopped, err := inst.stop(ctx)
		errs = append(errs, err)
		if stopped {
			delete(s.instances, id)
		}
	}
	var kept []string
	for name, c := range s.peers {
		if inst, ok := s.instances[c.RouterID]; ok && inst.peers[name] == c {
			kept = append(kept, name)
			continue
		}
		delete(s.peers, name)
		s.sessions.remove(name)
	}
	s.publish()
	if len(kept) > 0 {
		slices.Sort(kept)
		s.log.Info("Leaving graceful-restart BGP sessions open until the process exits, so routers keep our routes", "peers", kept)
	}
	return errors.Join(errs...)
}

// publish copies the instance map for lock-free readers. Callers hold mu.
func (s *Speaker) publish() {
	m := maps.Clone(s.instances)
	s.live.Store(&m)
}

// running returns the running GoBGP servers.
func (s *Speaker) running() []*instance {
	return slices.Collect(maps.Values(*s.live.Load()))
}

// peerEvent refreshes a neighbour's state after GoBGP reported a change. It
// asks GoBGP for the current state rather than trusting the event, which may
// be a late one from a session that was just reconfigured.
func (s *Speaker) peerEvent(routerID netip.Addr, address string) {
	inst := (*s.live.Load())[routerID]
	if inst == nil {
		return
	}
	ctx := context.Background()
	var state *api.PeerState
	_ = inst.bgp.ListPeer(ctx, &api.ListPeerRequest{Address: address}, func(p *api.Peer) { state = p.GetState() })
	if state == nil {
		return
	}
	s.sessions.setState(routerID, address, stateName(state.GetSessionState()))
	if state.GetSessionState() != api.PeerState_ESTABLISHED {
		return
	}
	// GoBGP accepts any ASN from a peer without one (dynamicASN external):
	// the rule that it must not be our own is enforced here, once the
	// router's OPEN has told its ASN. The peer stays disabled until its
	// configuration changes, so a misconfigured router is not redialled
	// in a loop.
	if msg := s.sessions.refusedASN(routerID, address, state.GetPeerAsn()); msg != "" {
		_ = inst.bgp.DisablePeer(ctx, &api.DisablePeerRequest{Address: address, Communication: msg})
		s.sessions.setCause(routerID, address, msg)
		s.log.Info("Closed BGP session: unexpected router ASN", "address", address, "reason", msg)
	}
}

// ResetPeer closes the session of the peer named name at once, with a Cease
// NOTIFICATION (Administrative Reset) carrying reason, so the router drops
// our routes now rather than when its hold timer expires; the session is
// then redialled as after any failure. Sessions reports reason until the
// session is Established again. The BFD wiring calls it when BFD declares
// the path down. It does not wait for SetPeers or SetRoutes.
func (s *Speaker) ResetPeer(ctx context.Context, name, reason string) error {
	routerID, address, ok := s.sessions.addressOf(name)
	if !ok {
		return fmt.Errorf("no BGP peer %q", name)
	}
	inst := (*s.live.Load())[routerID]
	if inst == nil {
		return fmt.Errorf("no BGP peer %q", name)
	}
	err := inst.bgp.ResetPeer(ctx, &api.ResetPeerRequest{Address: address.String(), Communication: reason})
	if err != nil {
		return fmt.Errorf("resetting BGP peer %q: %w", name, err)
	}
	s.sessions.setCause(routerID, address.String(), reason)
	s.log.Info("Reset BGP session", "peer", name, "reason", reason)
	return nil
}

package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// globalASN is the ASN GoBGP's server is started with. GoBGP refuses to run
// without one, but every neighbour here has its own local ASN, so this one is
// never sent. 23456 is AS_TRANS (RFC 6793), which no real speaker uses.
const globalASN = 23456

// globalTable names GoBGP's global policy assignment.
const globalTable = "global"

// instance is one GoBGP server: the neighbours that share one router ID.
type instance struct {
	routerID netip.Addr
	bgp      *server.BgpServer
	// stopWatch ends the peer-state watch.
	stopWatch context.CancelFunc
	peers     map[string]peerConfig
}

// listenOn is where a GoBGP server accepts sessions: port -1 does not
// listen; no addrs is every address.
type listenOn struct {
	port  int32
	addrs []netip.Addr
}

// global is GoBGP's global configuration for a router ID.
func global(routerID netip.Addr, listen listenOn) *api.Global {
	g := &api.Global{Asn: globalASN, RouterId: routerID.String(), ListenPort: listen.port}
	for _, a := range listen.addrs {
		g.ListenAddresses = append(g.ListenAddresses, a.String())
	}
	return g
}

// startInstance starts a GoBGP server that listens as listen says and calls
// onPeerEvent with a neighbour's address whenever its session changes state.
func startInstance(ctx context.Context, routerID netip.Addr, listen listenOn, logger log.Logger, onPeerEvent func(address string)) (*instance, error) {
	s := server.NewBgpServer(server.LoggerOption(logger))
	// Serve is GoBGP's main loop. It has no way to end: after StopBgp it
	// idles, so a stopped instance leaves this goroutine behind.
	go s.Serve()
	err := s.StartBgp(ctx, &api.StartBgpRequest{Global: global(routerID, listen)})
	if err != nil {
		return nil, fmt.Errorf("starting GoBGP with router ID %s: %w", routerID, err)
	}
	if err := setGlobalPolicies(ctx, s); err != nil {
		_ = s.StopBgp(ctx, &api.StopBgpRequest{})
		return nil, fmt.Errorf("setting GoBGP's global policies: %w", err)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	err = s.WatchEvent(watchCtx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		if p := r.GetPeer(); p.GetType() == api.WatchEventResponse_PeerEvent_STATE {
			onPeerEvent(p.GetPeer().GetState().GetNeighborAddress())
		}
	})
	if err != nil {
		stopWatch()
		_ = s.StopBgp(ctx, &api.StopBgpRequest{})
		return nil, fmt.Errorf("watching GoBGP peer states: %w", err)
	}
	return &instance{routerID: routerID, bgp: s, stopWatch: stopWatch, peers: map[string]peerConfig{}}, nil
}

// setGlobalPolicies installs the import policy, and makes exports default
// to reject: each peer's own policy accepts what is meant for it.
func setGlobalPolicies(ctx context.Context, s *server.BgpServer) error {
	imp := importPolicy()
	if err := s.AddPolicy(ctx, &api.AddPolicyRequest{Policy: imp}); err != nil {
		return err
	}
	err := s.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: globalTable, Direction: api.PolicyDirection_IMPORT, Policies: []*api.Policy{{Name: imp.Name}}, DefaultAction: api.RouteAction_REJECT,
	}})
	if err != nil {
		return err
	}
	return s.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: globalTable, Direction: api.PolicyDirection_EXPORT, DefaultAction: api.RouteAction_REJECT,
	}})
}

// addPeer installs the peer's export policy, then the neighbour, so no route
// can reach it before its policy is in place.
func (i *instance) addPeer(ctx context.Context, name string, id uint32, c peerConfig) error {
	pol := exportPolicy(id, c.Address)
	err := i.addPolicy(ctx, pol)
	if err == nil {
		err = i.bgp.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(name, c)})
	}
	if err != nil {
		return errors.Join(fmt.Errorf("adding BGP peer %q: %w", name, err), i.removePolicy(ctx, pol))
	}
	i.peers[name] = c
	return nil
}

func (i *instance) addPolicy(ctx context.Context, pol peerPolicy) error {
	for _, set := range pol.Sets {
		if err := i.bgp.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: set}); err != nil {
			return err
		}
	}
	if err := i.bgp.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol.Policy}); err != nil {
		return err
	}
	return i.bgp.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: globalTable, Direction: api.PolicyDirection_EXPORT, Policies: []*api.Policy{{Name: pol.Policy.Name}},
	}})
}

// removePeer deletes the neighbour, which closes its session with a Cease
// NOTIFICATION, then its policy.
func (i *instance) removePeer(ctx context.Context, name string, id uint32) error {
	c, ok := i.peers[name]
	if !ok {
		return nil
	}
	delete(i.peers, name)
	err := i.bgp.DeletePeer(ctx, &api.DeletePeerRequest{Address: c.Address.String()})
	if err != nil {
		err = fmt.Errorf("deleting BGP peer %q: %w", name, err)
	}
	return errors.Join(err, i.removePolicy(ctx, exportPolicy(id, c.Address)))
}

// removePolicy removes what addPolicy added, ignoring what is not there.
func (i *instance) removePolicy(ctx context.Context, pol peerPolicy) error {
	var errs []error
	_ = i.bgp.DeletePolicyAssignment(ctx, &api.DeletePolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: globalTable, Direction: api.PolicyDirection_EXPORT, Policies: []*api.Policy{{Name: pol.Policy.Name}},
	}})
	if i.hasPolicy(ctx, pol.Policy.Name) {
		errs = append(errs, i.bgp.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: pol.Policy.Name}, All: true}))
	}
	for _, set := range pol.Sets {
		if i.hasDefinedSet(ctx, set) {
			errs = append(errs, i.bgp.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{
				DefinedSet: &api.DefinedSet{DefinedType: set.DefinedType, Name: set.Name}, All: true,
			}))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing export policy %s: %w", pol.Policy.Name, err)
	}
	return nil
}

func (i *instance) hasPolicy(ctx context.Context, name string) bool {
	found := false
	_ = i.bgp.ListPolicy(ctx, &api.ListPolicyRequest{Name: name}, func(*api.Policy) { found = true })
	return found
}

func (i *instance) hasDefinedSet(ctx context.Context, set *api.DefinedSet) bool {
	found := false
	_ = i.bgp.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: set.DefinedType, Name: set.Name}, func(*api.DefinedSet) { found = true })
	return found
}

// announce adds a path, or replaces the path of the same prefix.
func (i *instance) announce(ctx context.Context, p *api.Path) error {
	_, err := i.bgp.AddPath(ctx, &api.AddPathRequest{Path: p})
	return err
}

// withdraw removes the path of the same prefix.
func (i *instance) withdraw(ctx context.Context, p *api.Path) error {
	return i.bgp.DeletePath(ctx, &api.DeletePathRequest{Family: p.Family, Path: p})
}

// hasGracefulRestart reports whether any peer uses graceful restart.
func (i *instance) hasGracefulRestart() bool {
	for _, c := range i.peers {
		if c.GracefulRestart {
			return true
		}
	}
	return false
}

// stop withdraws every route and closes every session with a Cease. It
// leaves sessions with graceful restart open (see the package comment) and
// then reports false: the server keeps running for them.
func (i *instance) stop(ctx context.Context) (stopped bool, err error) {
	if i.hasGracefulRestart() {
		var errs []error
		for name, c := range i.peers {
			if !c.GracefulRestart {
				delete(i.peers, name)
				errs = append(errs, i.bgp.DeletePeer(ctx, &api.DeletePeerRequest{Address: c.Address.String()}))
			}
		}
		return false, errors.Join(errs...)
	}
	err = i.bgp.DeletePath(ctx, &api.DeletePathRequest{})
	i.stopWatch()
	return true, errors.Join(err, i.bgp.StopBgp(ctx, &api.StopBgpRequest{}))
}

// stopIdle stops a server that has no peer left.
func (i *instance) stopIdle(ctx context.Context) error {
	i.stopWatch()
	return i.bgp.StopBgp(ctx, &api.StopBgpRequest{})
}

// peerStates lists the neighbours GoBGP has, with the advertised-route
// counts when advertised is true.
func (i *instance) peerStates(ctx context.Context, advertised bool) ([]*api.Peer, error) {
	var peers []*api.Peer
	err := i.bgp.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: advertised}, func(p *api.Peer) { peers = append(peers, p) })
	return peers, err
}

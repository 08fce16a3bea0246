package speaker

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/bfd"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/member"
	bgpprotocol "github.com/ironlb/ironlb/speaker/protocol/bgp"
	l2protocol "github.com/ironlb/ironlb/speaker/protocol/layer2"
)

// Options is everything ironlb-speaker is configured with (its flags).
type Options struct {
	Config
	// MemberlistBindAddress is the gossip address; zero = the Node's InternalIP.
	MemberlistBindAddress netip.Addr
	// MemberlistKey is the shared gossip secret (IRONLB_MEMBERLIST_KEY).
	MemberlistKey string
	// MemberlistOldKeys are secrets still accepted, never sent with
	// (IRONLB_MEMBERLIST_OLD_KEYS): they let the key be rotated.
	MemberlistOldKeys []string
	// InsecureMemberlist allows gossip without a key.
	InsecureMemberlist bool
	// GratuitousCount and ReannounceInterval are passed to layer2.Options.
	GratuitousCount    int
	ReannounceInterval time.Duration
	// BGPListenPort is the port GoBGP accepts sessions on; -1 = do not listen.
	BGPListenPort int32
	// BGPListenAddresses are the addresses BGPListenPort is bound on;
	// empty = the Node's InternalIPs, never every address of the host.
	BGPListenAddresses []netip.Addr
	// IgnoreExcludeLB lets nodes with the exclude-from-external-load-balancers
	// label announce (announce.Eligibility.IgnoreExcludeLabel).
	IgnoreExcludeLB bool
	// MetricsBindAddress and HealthProbeBindAddress: "0" disables.
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// PprofBindAddress serves Go's /debug/pprof there; "" or "0" = off.
	PprofBindAddress string
}

// Timeouts of the shutdown sequence.
const (
	// handoffSettle is how long after its hand-off instant a stopping
	// speaker still waits before leaving the memberlist: the others have
	// taken its addresses over at that instant by their own clocks, which
	// may lag this one's by a few milliseconds. Leaving makes any that has
	// not heard of the hand-off at all take over at once.
	handoffSettle  = 200 * time.Millisecond
	leaveTimeout   = 2 * time.Second  // wait for the goodbye to reach a member
	bgpStopTimeout = 10 * time.Second // withdraw and close sessions
	drainTimeout   = 10 * time.Second // manager and responders wind down
	// bfdCloseTimeout bounds the AdminDown packets sent for a peer's
	// detection time (at most a few seconds) before the sessions go.
	bfdCloseTimeout = 5 * time.Second
)

// Validate reports the first invalid option with the flag or variable to fix.
func (o Options) Validate() error {
	switch {
	case o.NodeName == "":
		return errors.New("--node-name (or NODE_NAME) is required")
	case o.MemberlistKey == "" && !o.InsecureMemberlist:
		return errors.New("IRONLB_MEMBERLIST_KEY is empty: set it to the shared key (any string), or pass --insecure-memberlist to gossip unauthenticated")
	case o.MemberlistKey == "" && len(o.MemberlistOldKeys) > 0:
		return errors.New("IRONLB_MEMBERLIST_OLD_KEYS is set but IRONLB_MEMBERLIST_KEY is empty: the key to send with is required")
	case o.MemberlistPort < 1 || o.MemberlistPort > 65535:
		return fmt.Errorf("--memberlist-port %d is not a port", o.MemberlistPort)
	case o.Class.Class == "":
		return errors.New("--load-balancer-class must not be empty")
	case o.GratuitousCount < 0:
		return fmt.Errorf("--gratuitous-count %d must not be negative", o.GratuitousCount)
	case o.ReannounceInterval < 0:
		return fmt.Errorf("--reannounce-interval %s must not be negative", o.ReannounceInterval)
	case o.BGPListenPort < -1 || o.BGPListenPort > 65535:
		return fmt.Errorf("--bgp-listen-port %d is not -1 or a port", o.BGPListenPort)
	}
	return nil
}

// Run runs the speaker until ctx is cancelled (SIGTERM), then hands over
// (handOff): it keeps answering until an instant it advertised to the
// others, at which they take its addresses and it stops, leaves the
// memberlist, stops BGP (withdrawing its routes, unless graceful restart
// keeps them), and only then stops watching.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	log := ctrl.Log.WithName("speaker")
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Cache:                  CacheOptions(opts.SecretNamespace),
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress: opts.HealthProbeBindAddress,
		PprofBindAddress:       opts.PprofBindAddress,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	var node corev1.Node
	if err := mgr.GetAPIReader().Get(ctx, types.NamespacedName{Name: opts.NodeName}, &node); err != nil {
		return fmt.Errorf("reading this speaker's Node %q (check --node-name): %w", opts.NodeName, err)
	}
	bind := opts.MemberlistBindAddress
	if !bind.IsValid() {
		var ok bool
		if bind, ok = InternalIP(&node); !ok {
			return fmt.Errorf("node %s has no InternalIP to gossip on: set --memberlist-bind-address", opts.NodeName)
		}
	}

	// A standby until its first decision is applied (see
	// Speaker.activateWhenApplied): the others keep its addresses until it
	// can answer.
	members, err := member.New(member.Options{
		Name: opts.NodeName, BindAddr: bind, Port: opts.MemberlistPort,
		Key: opts.MemberlistKey, OldKeys: opts.MemberlistOldKeys, Insecure: opts.InsecureMemberlist,
		Logger: log.WithName("memberlist"), Standby: true,
	})
	if err != nil {
		return err
	}
	defer func() { _ = members.Shutdown() }()

	l2, err := layer2.New(layer2.Options{
		Logger: log.WithName("layer2"), Registerer: crmetrics.Registry,
		ReannounceInterval: opts.ReannounceInterval, GratuitousCount: opts.GratuitousCount,
	})
	if err != nil {
		return err
	}
	// IPv4 routes take each session's local address as next hop. IPv6
	// routes need the node's IPv6 address: over an IPv4 session GoBGP would
	// otherwise send an IPv4-mapped next hop that routers cannot install.
	nextHopV6, _ := firstIPv6(&node)
	listen, err := bgpListenAddresses(opts, &node)
	if err != nil {
		return err
	}
	bgpSpeaker, err := bgp.New(bgp.Options{
		Logger: log.WithName("bgp"), Registerer: crmetrics.Registry,
		RouterID: routerID(&node), ListenPort: opts.BGPListenPort, ListenAddresses: listen,
		NextHopV6: nextHopV6,
	})
	if err != nil {
		return err
	}
	if err := bgpSpeaker.Start(ctx); err != nil {
		return fmt.Errorf("starting BGP: %w", err)
	}

	// The protocols this speaker announces by: the one place they are
	// registered. Each is driven the same way (speaker/protocol).
	opts.Config.Registerer = crmetrics.Registry
	opts.Config.Eligibility = announce.Eligibility{IgnoreExcludeLabel: opts.IgnoreExcludeLB}
	bgpProto := bgpprotocol.New(bgpSpeaker, opts.SecretNamespace)
	bfdManager := startBFD(log, bgpProto)
	if bfdManager != nil {
		defer closeBFD(log, bfdManager)
	}
	sp, err := New(opts.Config, members,
		l2protocol.New(l2),
		bgpProto,
	)
	if err != nil {
		return err
	}
	if err := sp.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the speaker: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("announcing", sp.Ready); err != nil {
		return err
	}

	// The manager and the responders get their own context: on SIGTERM they
	// keep running until the hand-over below is done.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	l2Done := make(chan error, 1)
	go func() { l2Done <- l2.Run(runCtx) }()
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(runCtx) }()
	log.Info("Speaker running", "node", opts.NodeName, "memberlist", netip.AddrPortFrom(bind, uint16(opts.MemberlistPort)).String())

	var runErr error
	select {
	case <-ctx.Done():
		handOff(log, members)
	case runErr = <-mgrDone:
		mgrDone <- runErr
	case runErr = <-l2Done:
		runErr = fmt.Errorf("layer 2 responder: %w", runErr)
		l2Done <- nil
	}

	if err := members.Leave(leaveTimeout); err != nil {
		log.Info("Leaving the memberlist timed out; the others will notice by probing", "error", err.Error())
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bgpStopTimeout)
	if err := bgpSpeaker.Stop(stopCtx); err != nil {
		log.Error(err, "Stopping BGP")
	}
	cancel()
	stop()
	wait(mgrDone, drainTimeout)
	wait(l2Done, drainTimeout)
	return runErr
}

// handOff gives this speaker's addresses to the others without a moment
// where no node, or two, answer for one. It advertises an instant a little
// ahead (member.List.Handoff) and keeps answering until then; at that
// instant it stops (its memberlist wakes its decision loop, which no longer
// counts it a candidate) and the others start, each by its own clock. Then
// it returns, for the memberlist Leave. A failing speaker (the manager or
// the responder ended) skips this: its decisions no longer run, so it could
// not stop at the instant, and leaving at once is the shorter overlap.
func handOff(log logr.Logger, members *member.List) {
	log.Info("Shutting down: handing addresses over to the other speakers")
	at := members.Handoff()
	if wait := time.Until(at); wait > 0 {
		time.Sleep(wait + handoffSettle)
	}
}

// startBFD starts the BFD sessions' manager (BGPPeer spec.bfdProfile) and
// lends it to BGP. BFD listens on UDP port 3784 of the host; if it cannot
// (another BFD daemon holds the port), the speaker runs without BFD, which
// only makes failure detection as slow as BGP's hold timer.
func startBFD(log logr.Logger, bgpProto *bgpprotocol.Protocol) *bfd.Manager {
	m, err := bfd.New(bfd.Options{
		Registerer: crmetrics.Registry, Logger: log.WithName("bfd"),
		OnStateChange: bgpProto.BFDStateChanged,
	})
	if err != nil {
		log.Error(err, "Cannot run BFD; BGPPeers with spec.bfdProfile run without it")
		return nil
	}
	bgpProto.UseBFD(m)
	return m
}

// closeBFD ends every BFD session with AdminDown, which routers do not take
// for a path failure (RFC 5882 section 3.2).
func closeBFD(log logr.Logger, m *bfd.Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), bfdCloseTimeout)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		log.Error(err, "Closing BFD sessions")
	}
}

func wait(done <-chan error, timeout time.Duration) {
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

// bgpListenAddresses are the addresses GoBGP accepts sessions on: the ones
// asked for, else every InternalIP of the Node (both families). The speaker
// shares the host's network, and GoBGP's default, every address, would take
// BGP connections on pod bridges and any other network of the host too.
func bgpListenAddresses(opts Options, n *corev1.Node) ([]netip.Addr, error) {
	if opts.BGPListenPort < 0 || len(opts.BGPListenAddresses) > 0 {
		return opts.BGPListenAddresses, nil
	}
	var out []netip.Addr
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && !slices.Contains(out, ip.Unmap()) {
			out = append(out, ip.Unmap())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("node %s has no InternalIP to accept BGP sessions on: set --bgp-listen-address", n.Name)
	}
	return out, nil
}

// routerID is the node's first IPv4 InternalIP. An IPv6-only node has none,
// so a stable ID is derived from its name (BGP needs a 32-bit ID, not an
// address; a BGPPeer's routerID overrides it).
func routerID(n *corev1.Node) netip.Addr {
	if ip, ok := firstIPv4(n); ok {
		return ip
	}
	h := sha256.Sum256([]byte(n.Name))
	h[0] |= 1 // never 0.0.0.0
	return netip.AddrFrom4([4]byte{h[0], h[1], h[2], h[3]})
}

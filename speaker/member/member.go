// Package member tells a speaker which other speakers are alive, without the
// API server in the loop. It wraps github.com/hashicorp/memberlist (SWIM
// failure detection with Lifeguard suspicion) with timings tuned for sub-second
// failover and with gossip encrypted and authenticated by a shared key. Its
// packets and streams go over this package's own transport (transport.go),
// which makes almost no garbage per packet received.
//
// Speakers are named after their nodes. They find each other from Node
// objects (each node's InternalIP and the memberlist port); the caller passes
// those addresses to Join.
//
// In a network partition each side declares the other side dead within the
// failure-detection time and elects owners among its own live speakers, so
// every address is announced on each side that has an eligible node: clients
// keep working on their side. If the partition cuts only the gossip path
// while the layer-2 segment stays shared, two nodes may answer ARP for the
// same address until it heals (the most recent gratuitous ARP wins at each
// client). Memberlist forgets dead members and never dials them again, so the
// caller rejoins Nodes that are not live; once one join succeeds the two
// sides merge and every speaker again agrees on a single owner.
//
// Speakers also tell each other, in their node metadata (meta.go), the
// layer-2 election versions they support and the instants at which planned
// changes take effect: a speaker becoming a candidate for addresses or
// ceasing to be one, and a switch of election version. Every speaker acts
// at the same instant, so a rolling restart or upgrade moves an address
// from one node to the next without a moment where both or neither answer
// (election.go). Live is the set of candidates at this instant, Election
// the version.
package member

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/hashicorp/memberlist"

	"github.com/ironlb/ironlb/speaker/announce"
)

// DefaultPort is the memberlist port (TCP and UDP), the same as MetalLB's and
// Serf's so firewall rules written for them fit.
const DefaultPort = 7946

// Label is sent with, and authenticated with, every packet: gossip of another
// memberlist cluster on the same port (a MetalLB install, say) is dropped
// instead of being merged.
const Label = "ironlb"

// ErrNoKey is returned by New when no shared key is given and insecure
// operation was not asked for.
var ErrNoKey = errors.New("member: no shared key: set IRONLB_MEMBERLIST_KEY, or pass --insecure-memberlist to gossip in clear text")

// Options configure a List.
type Options struct {
	// Name of this member: the node name. Required.
	Name string
	// BindAddr is the address gossip listens on and advertises: the node's
	// InternalIP. Required: binding to every address would advertise a guess.
	BindAddr netip.Addr
	// Port for TCP and UDP; 0 picks a free port (tests), default in production
	// is DefaultPort, set by the caller.
	Port int
	// Key is the shared secret (any string). A 256-bit AES-GCM key is derived
	// from it with SHA-256; memberlist then encrypts and authenticates every
	// packet and stream, and drops what was not sealed with the same key.
	Key string
	// OldKeys are further secrets whose packets are accepted but never used
	// to send: they let a key be rotated while every speaker keeps
	// understanding every other (see Keyring). Key is required with them.
	OldKeys []string
	// Insecure allows an empty Key: gossip in clear text, unauthenticated.
	Insecure bool
	// Logger receives memberlist's own messages: debug at V(1), the rest at info.
	Logger logr.Logger
	// WinnerVersions are the layer-2 election versions this speaker
	// advertises to the others (see announce.WinnerVersion). Empty means
	// every version this build implements, unless the testing knob
	// IRONLB_WINNER_VERSIONS (WinnerVersionsEnv) lists fewer.
	WinnerVersions []announce.WinnerVersion
	// Standby starts the member alive but not a candidate for addresses
	// until Activate: a speaker that starts takes its addresses over only
	// once it is ready to answer, at an instant every member agrees on (see
	// election.go). Without it a member is a candidate as soon as it is
	// alive, as builds before this coordination were.
	Standby bool
}

// List is this speaker's membership view.
type List struct {
	ml      *memberlist.Memberlist
	dials   *dialLog // the transport's, for classify
	log     logr.Logger
	name    string
	changes chan struct{}
	meta    atomic.Pointer[[]byte] // own metadata, encoded, for memberlist

	mu       sync.Mutex // Leave and Shutdown
	left     bool
	shutdown bool

	amu   sync.Mutex      // the alive table
	alive map[string]meta // the alive members and what they advertise

	cmu       sync.Mutex          // the coordination (coordinate.go)
	own       meta                // what this member advertises
	met       bool                // a Join completed: the others' plans are known
	firstSeen map[instant]instant // when each advertised instant was first seen (localize)

	wake    chan struct{} // re-evaluate the plan and the next instant
	publish chan struct{} // broadcast own metadata
	done    chan struct{}
	wg      sync.WaitGroup
}

// New starts listening and gossiping as a cluster of one; call Join to meet
// the others.
func New(opts Options) (*List, error) {
	if opts.Name == "" {
		return nil, errors.New("member: Name is required")
	}
	if !opts.BindAddr.IsValid() {
		return nil, errors.New("member: BindAddr is required")
	}
	if opts.Key == "" && !opts.Insecure {
		return nil, ErrNoKey
	}
	if opts.Key == "" && len(opts.OldKeys) > 0 {
		return nil, errors.New("member: OldKeys without Key: the key to send with is required")
	}
	versions, err := winnerVersions(opts.WinnerVersions)
	if err != nil {
		return nil, err
	}
	l := &List{
		log: opts.Logger, name: opts.Name, changes: make(chan struct{}, 1), alive: map[string]meta{},
		own:  meta{versions: versions, coordinated: true, standby: opts.Standby},
		wake: make(chan struct{}, 1), publish: make(chan struct{}, 1), done: make(chan struct{}),
	}
	l.storeMeta()

	cfg := tunedConfig()
	cfg.Name = opts.Name
	cfg.BindAddr = opts.BindAddr.String()
	cfg.AdvertiseAddr = opts.BindAddr.String()
	cfg.Label = Label
	if opts.Key != "" {
		kr, err := Keyring(opts.Key, opts.OldKeys)
		if err != nil {
			return nil, err
		}
		cfg.Keyring = kr
	}
	cfg.Events = &eventDelegate{l}
	cfg.Delegate = metaDelegate{meta: &l.meta}
	cfg.Logger = log.New(logWriter{opts.Logger}, "", 0)

	where := netip.AddrPortFrom(opts.BindAddr, uint16(opts.Port))
	tr, err := newTransport(where, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("member: start gossip on %s: %w", where, err)
	}
	cfg.Transport = tr
	cfg.BindPort, cfg.AdvertisePort = tr.port(), tr.port()
	ml, err := memberlist.Create(cfg)
	if err != nil {
		_ = tr.Shutdown()
		return nil, fmt.Errorf("member: start gossip on %s: %w", where, err)
	}
	l.ml, l.dials = ml, &tr.dials
	l.wg.Add(2)
	go l.coordinate()
	go l.publishLoop()
	return l, nil
}

// Keyring holds the AES-256 keys derived from key, which seals everything
// sent, and from oldKeys, which only open what arrives. memberlist tries
// every key of the ring on what it receives, so a rotation in three rolling
// restarts never splits the speakers: (1) add the new secret to oldKeys,
// (2) make it the key and the previous one an old key, (3) drop the old key.
// At every step each speaker opens what any other sends.
func Keyring(key string, oldKeys []string) (*memberlist.Keyring, error) {
	derive := func(s string) []byte {
		k := sha256.Sum256([]byte(s))
		return k[:]
	}
	var old [][]byte
	for _, k := range oldKeys {
		if k != "" && k != key {
			old = append(old, derive(k))
		}
	}
	kr, err := memberlist.NewKeyring(old, derive(key))
	if err != nil {
		return nil, fmt.Errorf("member: keyring: %w", err)
	}
	return kr, nil
}

// tunedConfig is memberlist's LAN profile with failure detection tightened
// so that a dead or cut-off speaker is declared dead within half a second
// in a cluster of up to 9 nodes (log10 scaling stretches the suspicion time
// beyond that):
//
//   - ProbeInterval 100ms: each member probes one other member per interval,
//     so with N members a given member is probed by someone about every
//     100ms (every member probes it once per N-1 intervals).
//   - ProbeTimeout 50ms: a LAN round trip is well under a millisecond; 50ms
//     leaves room for a busy node before indirect probes (through
//     IndirectChecks other members) and a TCP probe are tried within the
//     same interval.
//   - SuspicionMult 2: a suspect is declared dead after 2 probe intervals
//     (200ms) unless it refutes. memberlist waits for SuspicionMult-2
//     confirmations from other members before it shortens a suspicion from
//     its maximum to that minimum; with 2 it expects none, so the minimum
//     always applies. With 3 the suspicion lasted 600ms whenever the other
//     survivor's confirmation came late, which put the p99 of a failover
//     above 600ms.
//   - GossipInterval 50ms: news that is not carried on a probe or ack
//     reaches every member of a small cluster in about 100ms, which the
//     agreed instants of the election (handoffLead, 500ms) rely on. At 20ms
//     the ticks, mostly with nothing to send, were a third of a member's
//     CPU at rest; detecting a crash does not wait for them: each survivor
//     probes the dead member itself, and suspicions ride on probes and acks.
//
// From death to "dead" is one probe round (100-200ms: waiting to be probed,
// then the round) + suspicion (200ms), under 450ms in BenchmarkDetectDeadMember.
//
// The trade-off is false suspicion: a speaker stalled for more than ~300ms
// (CPU starvation, a saturated link) may be declared dead; another node then
// takes its addresses, and when the stalled speaker answers again it
// refutes and the addresses move back, each move with a gratuitous ARP
// burst. Lifeguard's awareness (AwarenessMaxMultiplier) makes a member that
// notices it is itself slow stretch its own timeouts, which damps this.
// Bandwidth stays small: a probe is ~100 bytes, so 10 probes and at most 20
// gossip rounds per second per member. Push-pull full-state sync is kept
// for anti-entropy but is not on the failure path.
func tunedConfig() *memberlist.Config {
	cfg := memberlist.DefaultLANConfig()
	cfg.ProbeInterval = 100 * time.Millisecond
	cfg.ProbeTimeout = 50 * time.Millisecond
	cfg.SuspicionMult = 2
	cfg.SuspicionMaxTimeoutMult = 2
	cfg.GossipInterval = 50 * time.Millisecond
	cfg.GossipNodes = 3
	// Dead members stay in gossip for a while so that a partition that heals
	// quickly learns the verdict, then are forgotten.
	cfg.GossipToTheDeadTime = 10 * time.Second
	cfg.PushPullInterval = 10 * time.Second
	// Join and the background TCP stream use this; a LAN peer answers or
	// refuses within milliseconds, so a blackholed address should not stall
	// a join for long.
	cfg.TCPTimeout = 2 * time.Second
	// A node that comes back with a new address (re-IPed) may take its name
	// back after this long instead of being refused as a conflict.
	cfg.DeadNodeReclaimTime = 5 * time.Second
	// No compression: probes and gossip are ~100-byte packets that LZW
	// does not shrink, and compressing one allocates a 64 KiB LZW table.
	// At rest that garbage, and the collections it caused over a large
	// informer cache, were most of a speaker's CPU (docs/scale.md, "Idle
	// CPU"). Receivers decode compressed messages whatever this setting,
	// so speakers of either setting understand each other.
	cfg.EnableCompression = false
	return cfg
}

// Outcome is how an address answered a join: whether a speaker listens
// there, and whether it shares this one's key.
type Outcome int

const (
	// Joined: a speaker with this key answered; it is live now.
	Joined Outcome = iota + 1
	// Rejected: something accepted the connection but the exchange failed:
	// most likely a speaker with another key.
	Rejected
	// Refused: the connection was refused: nothing listens there, so no
	// speaker runs on that node (or it has not started yet).
	Refused
	// Unreachable: no answer in time, or no route: the node is down, or the
	// port is filtered on the way.
	Unreachable
)

func (o Outcome) String() string {
	switch o {
	case Joined:
		return "joined"
	case Rejected:
		return "rejected"
	case Refused:
		return "refused"
	case Unreachable:
		return "unreachable"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// JoinResult holds the outcome of each address joined. Addresses still
// being tried when the context ended are absent.
type JoinResult map[netip.AddrPort]Outcome

// Count is the number of addresses with outcome o.
func (r JoinResult) Count(o Outcome) int {
	n := 0
	for _, got := range r {
		if got == o {
			n++
		}
	}
	return n
}

// Join contacts the given members (InternalIP and memberlist port of other
// nodes) in parallel and says how each answered. One answer is enough to
// learn the whole cluster. Addresses that do not answer are only logged: they
// are joined again on the caller's next attempt.
func (l *List) Join(ctx context.Context, addrs []netip.AddrPort) JoinResult {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := JoinResult{}
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := l.joinOne(a)
			mu.Lock()
			out[a] = o
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	l.cmu.Lock()
	l.met = true
	l.cmu.Unlock()
	kick(l.wake)
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(out)
}

func (l *List) joinOne(a netip.AddrPort) Outcome {
	l.dials.forget(a.String())
	n, err := l.ml.Join([]string{a.String()})
	if err == nil && n > 0 {
		return Joined
	}
	dialed, dialErr := l.dials.lastDial(a.String())
	o := classify(dialed, dialErr)
	msg := "<nil>"
	if err != nil {
		msg = err.Error()
	}
	l.log.V(1).Info("Memberlist join failed", "address", a.String(), "outcome", o.String(), "error", msg)
	return o
}

// classify tells why a join failed from its TCP dial: memberlist's own error
// is flattened into text, the dial's is not.
func classify(dialed bool, dialErr error) Outcome {
	switch {
	case !dialed:
		return Unreachable
	case dialErr == nil:
		return Rejected // connected, then the exchange failed
	case errors.Is(dialErr, syscall.ECONNREFUSED):
		return Refused
	default:
		return Unreachable
	}
}

// Changes delivers a value after the live set or the election may have
// changed: a member joined, left, died or changed what it advertises, or an
// instant it advertised came. Notifications are coalesced: read Live and
// Election after receiving one.
func (l *List) Changes() <-chan struct{} {
	return l.changes
}

// LocalPort is the port gossip listens on (useful with Options.Port 0).
func (l *List) LocalPort() int {
	return int(l.ml.LocalNode().Port)
}

// Leave tells the other members this one is going away so that they take
// over at once instead of waiting for failure detection. It waits for the
// broadcast up to timeout. Safe to call more than once and after Shutdown.
func (l *List) Leave(timeout time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left || l.shutdown {
		return nil
	}
	l.left = true
	if err := l.ml.Leave(timeout); err != nil {
		return fmt.Errorf("member: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossip without a goodbye: the others notice by probing.
func (l *List) Shutdown() error {
	l.mu.Lock()
	if l.shutdown {
		l.mu.Unlock()
		return nil
	}
	l.shutdown = true
	close(l.done)
	err := l.ml.Shutdown()
	l.mu.Unlock()
	l.wg.Wait()
	if err != nil {
		return fmt.Errorf("member: shutdown: %w", err)
	}
	return nil
}

func (l *List) notify() {
	select {
	case l.changes <- struct{}{}:
	default: // one pending notification is enough
	}
}

// eventDelegate keeps the table of alive members and turns memberlist's
// callbacks into change notifications. The callbacks run on memberlist's
// goroutines, with its node lock held, and must not block. They are the
// one safe place to read a node's metadata: the nodes Members returns are
// memberlist's own, rewritten in place when an update arrives.
type eventDelegate struct{ l *List }

func (d *eventDelegate) NotifyJoin(n *memberlist.Node)   { d.l.observe(n.Name, n.Meta, true) }
func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) { d.l.observe(n.Name, n.Meta, true) }
func (d *eventDelegate) NotifyLeave(n *memberlist.Node)  { d.l.observe(n.Name, nil, false) }

// logWriter carries memberlist's "[LEVEL] memberlist: text" lines into logr.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	level, msg := "INFO", line
	if len(line) > 2 && line[0] == '[' {
		if end := bytes.IndexByte(p, ']'); end > 0 {
			level, msg = line[1:end], string(bytes.TrimSpace([]byte(line[end+1:])))
		}
	}
	switch level {
	case "DEBUG", "TRACE":
		w.log.V(1).Info(msg, "source", "memberlist")
	case "ERR", "ERROR":
		w.log.Info(msg, "source", "memberlist", "level", "error")
	case "WARN":
		w.log.Info(msg, "source", "memberlist", "level", "warning")
	default:
		w.log.Info(msg, "source", "memberlist")
	}
	return len(p), nil
}

// Addr formats a node address with the memberlist port for Join.
func Addr(ip netip.Addr, port int) netip.AddrPort {
	return netip.AddrPortFrom(ip, uint16(port))
}

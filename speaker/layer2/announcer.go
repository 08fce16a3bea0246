package layer2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultGratuitousCount is the takeover burst size when Options leaves it 0.
// Three frames survive the loss of one or two of them on a busy link while
// still fitting in the first 300 ms.
const DefaultGratuitousCount = 3

// rescanInterval bounds how long an interface that appears, comes back up or
// is re-created goes unnoticed. A scan is two netlink dumps.
const rescanInterval = 3 * time.Second

// Options configure an Announcer.
type Options struct {
	// Logger receives state changes: an address announced on interfaces or no
	// longer, or on none (with why), an interface that cannot be used. The
	// zero value discards them.
	Logger logr.Logger
	// Registerer gets the metrics RegisterMetrics lists; those already
	// registered there (by RegisterMetrics or another Announcer) are
	// shared. nil: counted, never exported.
	Registerer prometheus.Registerer
	// ReannounceInterval, when positive, re-sends one gratuitous ARP or
	// unsolicited neighbour advertisement per owned address and interface at
	// this interval, for neighbours that missed the takeover burst. 0 = never.
	ReannounceInterval time.Duration
	// GratuitousCount is how many gratuitous ARPs or unsolicited neighbour
	// advertisements are sent when an address starts being announced on an
	// interface. 0 means DefaultGratuitousCount.
	GratuitousCount int
	// Listen opens the sockets frames are read from and sent on (see
	// ListenFunc). nil means AF_PACKET sockets, which need CAP_NET_RAW.
	Listen ListenFunc

	// interfaces lists the host's interfaces; nil means scanInterfaces
	// (netlink). With Listen it is all the Announcer asks of the host, so
	// this package's tests run it without root on made-up links.
	interfaces func() ([]iface, error)
}

// Announcer answers ARP and NDP for the addresses this node owns.
//
// SetOwned may be called from any goroutine, before or while Run runs.
type Announcer struct {
	log        logr.Logger
	metrics    *metrics
	count      int
	reannounce time.Duration
	listen     ListenFunc
	check      func() error // fails when listen cannot work at all
	scan       func() ([]iface, error)

	setMu   sync.Mutex // serialises SetOwned so compare-and-store is atomic
	owned   atomic.Pointer[ownership]
	kick    chan struct{}
	running atomic.Bool
	// changed holds, under setMu, what the next reconcile must look at: the
	// addresses UpdateOwned touched since the last one, or, after SetOwned,
	// everything (changedAll), found by comparing the owned sets.
	changed    addrSet
	changedAll bool

	// unannounced: owned addresses without an interface, and why; written by
	// the Run goroutine, read by Unannounced.
	unMu        sync.Mutex
	unannounced map[netip.Addr]string

	// Below: owned by the Run goroutine.
	links  map[string]*link
	placed map[netip.Addr][]string // interfaces per owned address, sorted
	// done is the owned set and the interfaces the links and placed were
	// last brought in line with; full asks the next reconcile to redo every
	// address (first run, interfaces changed, an error to retry).
	done  *ownership
	ifs   []iface
	byIfc map[string]iface
	full  bool
	wg    sync.WaitGroup // packet loops and bursts
}

// New validates opts and returns an Announcer that owns nothing yet.
func New(opts Options) (*Announcer, error) {
	if opts.GratuitousCount < 0 {
		return nil, fmt.Errorf("layer2: GratuitousCount must not be negative, got %d", opts.GratuitousCount)
	}
	if opts.ReannounceInterval < 0 {
		return nil, fmt.Errorf("layer2: ReannounceInterval must not be negative, got %s", opts.ReannounceInterval)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("layer2: register metrics: %w", err)
	}
	a := &Announcer{
		log:         opts.Logger,
		metrics:     m,
		count:       opts.GratuitousCount,
		reannounce:  opts.ReannounceInterval,
		listen:      opts.Listen,
		check:       func() error { return nil },
		scan:        opts.interfaces,
		kick:        make(chan struct{}, 1),
		links:       make(map[string]*link),
		placed:      make(map[netip.Addr][]string),
		unannounced: make(map[netip.Addr]string),
		full:        true,
	}
	if a.count == 0 {
		a.count = DefaultGratuitousCount
	}
	if a.listen == nil {
		a.listen, a.check = listenRaw, checkPacketSockets
	}
	if a.scan == nil {
		a.scan = scanInterfaces
	}
	a.owned.Store(&ownership{})
	a.done = &ownership{}
	return a, nil
}

// SetOwned replaces the set of addresses this node answers for, each with the
// interfaces to announce it on. No interfaces means: the interfaces having an
// address whose prefix contains it, or if there are none, the node's NICs,
// bonds, teams, VLANs and macvlans that are up and have an address of its
// family (never a veth, bridge or tunnel; those must be named).
//
// An address dropped from the set is no longer answered from the moment
// SetOwned returns. A new one is announced (takeover burst) as soon as Run has
// opened its sockets, typically within milliseconds. Calling SetOwned again
// with an equal set costs a map comparison: no packets, no socket changes.
// A different set costs O(owned) map operations, here and in the reconcile
// that finds what differs; only the addresses that do are placed again.
func (a *Announcer) SetOwned(owned map[netip.Addr][]string) {
	a.setMu.Lock()
	defer a.setMu.Unlock()
	if a.owned.Load().same(owned) {
		return
	}
	a.owned.Store(newOwnership(owned))
	a.changedAll = true
	select {
	case a.kick <- struct{}{}:
	default: // a reconcile is already pending and will read the new set
	}
}

// UpdateOwned answers for the addresses of set, each with the interfaces
// to announce it on (as for SetOwned), and no longer for those of drop,
// leaving every other owned address as it is: SetOwned for a caller that
// knows what changed, with the same effects (a takeover burst for an
// address gained, no answer for one dropped from the moment UpdateOwned
// returns). An address both set and dropped is set. It costs
// O(len(set) + len(drop)) when nothing changes; when something does, a copy
// of the shards of the owned set it touches (readers hold the published
// one), about owned/64 entries each. The reconcile it triggers costs as much
// again per address, plus one listing of the interfaces, as long as these
// are as at the last reconcile; when they are not, every owned address is
// placed afresh.
func (a *Announcer) UpdateOwned(set map[netip.Addr][]string, drop []netip.Addr) {
	a.setMu.Lock()
	defer a.setMu.Unlock()
	next, changed := a.owned.Load().updated(set, drop)
	if !changed {
		return
	}
	a.owned.Store(next)
	a.noteChanged(set, drop)
	select {
	case a.kick <- struct{}{}:
	default: // a reconcile is already pending and will read the new set
	}
}

// noteChanged records, for the next reconcile, the addresses an
// UpdateOwned touched; called with setMu held.
func (a *Announcer) noteChanged(set map[netip.Addr][]string, drop []netip.Addr) {
	if a.changedAll {
		return
	}
	if a.changed == nil {
		a.changed = make(addrSet, len(set)+len(drop))
	}
	for ip := range set {
		a.changed[normalAddr(ip)] = struct{}{}
	}
	for _, ip := range drop {
		a.changed[normalAddr(ip)] = struct{}{}
	}
}

// takeChanged returns the owned set now and what changed in it since the
// last call (all: look at every address), and forgets the changes.
func (a *Announcer) takeChanged() (owned *ownership, changed addrSet, all bool) {
	a.setMu.Lock()
	defer a.setMu.Unlock()
	owned, changed, all = a.owned.Load(), a.changed, a.changedAll
	a.changed, a.changedAll = nil, false
	return owned, changed, all
}

// Run serves until ctx is done, then leaves the multicast groups and closes
// every socket. It returns an error only when this process cannot open
// sockets at all (CAP_NET_RAW missing); trouble with one interface is logged
// and retried on the next scan.
//
// Interfaces are listed and sockets opened on the calling goroutine, so they
// belong to its network namespace. Run may be called once.
func (a *Announcer) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("layer2: Run called twice")
	}
	defer a.shutdown()
	if err := a.check(); err != nil {
		return err
	}
	rescan := time.NewTicker(rescanInterval)
	defer rescan.Stop()
	var reannounce <-chan time.Time
	if a.reannounce > 0 {
		t := time.NewTicker(a.reannounce)
		defer t.Stop()
		reannounce = t.C
	}
	if err := a.reconcile(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.kick:
		case <-rescan.C:
		case <-reannounce:
			a.reannounceAll()
			continue
		}
		if err := a.reconcile(ctx); err != nil {
			return err
		}
	}
}

// Unannounced returns the owned addresses that no interface could carry at
// the last scan, each with the reason and what to change: for the status of
// the advertisement that owns them. The map is the caller's.
func (a *Announcer) Unannounced() map[netip.Addr]string {
	a.unMu.Lock()
	defer a.unMu.Unlock()
	return maps.Clone(a.unannounced)
}

package layer2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/mdlayher/packet"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// DefaultGratuitousCount is the takeover burst size when Options leaves it 0.
// Three frames survive the loss of one or two of them on a busy link while
// still fitting in the first 300 ms.
const DefaultGratuitousCount = 3

const (
	// rescanInterval bounds how long an interface that appears, comes back up
	// or is re-created goes unnoticed. A scan is two netlink dumps.
	rescanInterval = 3 * time.Second
	// firstBurstGap is the gap between the first and second frame of a
	// takeover burst; each later gap doubles (0, 100 ms, 300 ms, 700 ms...).
	// The first frame goes out at once: it is what failover time is made of.
	firstBurstGap = 100 * time.Millisecond
	maxBurstGap   = 10 * time.Second
)

// Options configure an Announcer.
type Options struct {
	// Logger receives state changes: an address announced on interfaces or no
	// longer, or on none (with why), an interface that cannot be used. The
	// zero value discards them.
	Logger logr.Logger
	// Registerer, when not nil, gets the counters
	// ironlb_layer2_{requests_received,responses_sent,gratuitous_sent,malformed_packets}_total
	// labelled protocol ("arp" or "ndp") and interface, and the gauge
	// ironlb_layer2_address_interfaces labelled ip: 0 for an owned address no
	// interface can carry.
	Registerer prometheus.Registerer
	// ReannounceInterval, when positive, re-sends one gratuitous ARP or
	// unsolicited neighbour advertisement per owned address and interface at
	// this interval, for neighbours that missed the takeover burst. 0 = never.
	ReannounceInterval time.Duration
	// GratuitousCount is how many gratuitous ARPs or unsolicited neighbour
	// advertisements are sent when an address starts being announced on an
	// interface. 0 means DefaultGratuitousCount.
	GratuitousCount int
}

// Announcer answers ARP and NDP for the addresses this node owns.
//
// SetOwned may be called from any goroutine, before or while Run runs.
type Announcer struct {
	log        logr.Logger
	metrics    *metrics
	count      int
	reannounce time.Duration

	setMu   sync.Mutex // serialises SetOwned so compare-and-store is atomic
	owned   atomic.Pointer[ownership]
	kick    chan struct{}
	running atomic.Bool

	// unannounced: owned addresses without an interface, and why; written by
	// the Run goroutine, read by Unannounced.
	unannounced atomic.Pointer[map[netip.Addr]string]

	// Below: owned by the Run goroutine.
	links  map[string]*link
	placed map[netip.Addr][]string // interfaces last logged per address
	wg     sync.WaitGroup          // packet loops and bursts
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
		log:        opts.Logger,
		metrics:    m,
		count:      opts.GratuitousCount,
		reannounce: opts.ReannounceInterval,
		kick:       make(chan struct{}, 1),
		links:      make(map[string]*link),
		placed:     make(map[netip.Addr][]string),
	}
	if a.count == 0 {
		a.count = DefaultGratuitousCount
	}
	empty := ownership{}
	a.owned.Store(&empty)
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
func (a *Announcer) SetOwned(owned map[netip.Addr][]string) {
	a.setMu.Lock()
	defer a.setMu.Unlock()
	if a.owned.Load().same(owned) {
		return
	}
	next := newOwnership(owned)
	a.owned.Store(&next)
	select {
	case a.kick <- struct{}{}:
	default: // a reconcile is already pending and will read the new set
	}
}

// Run serves until ctx is done, then leaves the multicast groups and closes
// every socket. It returns an error only when this process cannot open packet
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
	if err := checkPacketSockets(); err != nil {
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

// checkPacketSockets fails fast, at start, when packet sockets are not allowed,
// instead of when the first address is owned.
func checkPacketSockets() error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return nil // no loopback to try on; the first real socket will tell
	}
	c, err := packet.Listen(lo, packet.Raw, unix.ETH_P_ARP, nil)
	if err != nil {
		return fmt.Errorf("layer2: cannot open packet sockets (CAP_NET_RAW needed): %w", err)
	}
	return c.Close()
}

func (a *Announcer) shutdown() {
	for name, l := range a.links {
		l.close()
		delete(a.links, name)
	}
	a.wg.Wait()
}

// reconcile brings sockets, group memberships and answered sets in line with
// the owned set and the interfaces present now.
func (a *Announcer) reconcile(ctx context.Context) error {
	ifs, err := scanInterfaces()
	if err != nil {
		a.log.Error(err, "Cannot list network interfaces, keeping the current ones")
		return nil
	}
	owned := *a.owned.Load()
	want := selectInterfaces(owned, ifs)
	a.reportPlacement(owned, want, ifs)

	byName := make(map[string]iface, len(ifs))
	for _, ifc := range ifs {
		byName[ifc.name] = ifc
	}
	for name, l := range a.links {
		ifc, present := byName[name]
		_, wanted := want[name]
		if !wanted || !present || !l.matches(ifc) || l.broken.Load() {
			l.close()
			delete(a.links, name)
		}
	}
	for name, set := range want {
		l := a.links[name]
		if l == nil {
			l = newLink(byName[name], a.metrics)
			a.links[name] = l
		}
		if err := a.serveLink(ctx, l, set); err != nil {
			return err
		}
	}
	return nil
}

// serveLink opens or closes the link's sockets for the address families in
// set, publishes the addresses it can serve, and starts a takeover burst for
// each one it did not serve before. Only a permission error is returned.
func (a *Announcer) serveLink(ctx context.Context, l *link, set addrSet) error {
	var v4, v6 bool
	for ip := range set {
		v4 = v4 || ip.Is4()
		v6 = v6 || ip.Is6()
	}
	var errs []error
	if v4 {
		c, err := l.openARP()
		errs = append(errs, err)
		if c != nil {
			a.wg.Go(func() { a.serve(l, &l.arp, c, protoARP, answerARP, l.arpM) })
		}
	} else {
		l.closeARP()
	}
	if v6 {
		c, err := l.openNDP()
		errs = append(errs, err)
		if c != nil {
			a.wg.Go(func() { a.serve(l, &l.nd, c, protoNDP, answerNDP, l.ndpM) })
		}
	} else {
		l.closeNDP()
	}
	serve := make(addrSet, len(set))
	for ip := range set {
		if (ip.Is4() && l.arp.Load() != nil) || (ip.Is6() && l.nd.Load() != nil) {
			serve[ip] = struct{}{}
		}
	}
	if l.ndc != nil {
		errs = append(errs, l.syncGroups(serve))
	}
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("layer2: %w", err)
		}
		if msg := err.Error(); msg != l.lastErr {
			l.lastErr = msg
			a.log.Error(err, "Cannot serve every address on interface, retrying on next scan", "interface", l.name)
		}
	} else {
		l.lastErr = ""
	}

	before := l.answer.Load()
	l.answer.Store(&serve)
	for ip := range serve {
		if before == nil || !hasAddr(*before, ip) {
			a.burst(ctx, l, ip)
		}
	}
	return nil
}

// serve is the packet loop of socket c, held in slot: read a frame, decide,
// reply. It ends when c is taken out of its slot and closed.
func (a *Announcer) serve(l *link, slot *atomic.Pointer[packet.Conn], c *packet.Conn, proto string,
	answer func([]byte, port, owner) ([]byte, verdict), m counters) {
	owns := a.ownerOn(l)
	buf := make([]byte, l.readBufferSize())
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			switch {
			case slot.Load() != c:
				return // closed by us
			case isTransient(err):
				continue
			}
			a.log.Error(err, "Packet loop stopped, reopening on next scan", "interface", l.name, "protocol", proto)
			l.broken.Store(true)
			return
		}
		reply, v := answer(buf[:n], l.port, owns)
		switch v {
		case malformed:
			m.malformed.Inc()
		case answered:
			m.requests.Inc()
			if _, err := c.WriteTo(reply, &packet.Addr{HardwareAddr: reply[:ethAddrLen]}); err != nil {
				a.log.V(1).Info("Cannot send reply", "interface", l.name, "protocol", proto, "error", err.Error())
				continue
			}
			m.responses.Inc()
		}
	}
}

// ownerOn is the ownership test of link l's packet loop: the address must be
// published for the link and still owned now, so an address dropped by
// SetOwned is refused before Run has even reconciled.
func (a *Announcer) ownerOn(l *link) owner {
	return func(ip netip.Addr) bool {
		return l.answers(ip) && a.owned.Load().allows(ip, l.name)
	}
}

// burst sends the takeover announcements for ip on l: the first at once, the
// others after growing gaps, stopping early if ip is dropped or l torn down.
func (a *Announcer) burst(ctx context.Context, l *link, ip netip.Addr) {
	owns := a.ownerOn(l)
	a.wg.Go(func() {
		gap := firstBurstGap
		for i := range a.count {
			if i > 0 {
				t := time.NewTimer(gap)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-l.done:
					t.Stop()
					return
				case <-t.C:
				}
				gap = min(2*gap, maxBurstGap)
			}
			if !owns(ip) {
				return
			}
			a.announce(l, ip)
		}
	})
}

func (a *Announcer) reannounceAll() {
	for _, l := range a.links {
		if set := l.answer.Load(); set != nil {
			for ip := range *set {
				a.announce(l, ip)
			}
		}
	}
}

// announce sends one gratuitous ARP or unsolicited neighbour advertisement.
func (a *Announcer) announce(l *link, ip netip.Addr) {
	c, m := l.arp.Load(), l.arpM
	build := func() ([]byte, error) { return gratuitousARP(l.port.hw, ip) }
	if ip.Is6() {
		c, m = l.nd.Load(), l.ndpM
		build = func() ([]byte, error) { return unsolicitedNA(l.port, ip) }
	}
	if c == nil {
		return
	}
	frame, err := build()
	if err != nil {
		a.log.Error(err, "Cannot build announcement", "interface", l.name, "ip", ip)
		return
	}
	if _, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: frame[:ethAddrLen]}); err != nil {
		a.log.V(1).Info("Cannot send announcement", "interface", l.name, "ip", ip, "error", err.Error())
		return
	}
	m.gratuitous.Inc()
}

// reportPlacement logs where each address is announced, only when that
// changes, keeps ironlb_layer2_address_interfaces in step, and publishes the
// addresses no interface can carry, with why, for Unannounced.
func (a *Announcer) reportPlacement(owned ownership, want map[string]addrSet, ifs []iface) {
	placed := make(map[netip.Addr][]string, len(owned))
	for ip := range owned {
		placed[ip] = nil
	}
	for name, set := range want {
		for ip := range set {
			placed[ip] = append(placed[ip], name)
		}
	}
	unannounced := make(map[netip.Addr]string)
	for ip, names := range placed {
		slices.Sort(names)
		a.metrics.interfaces.WithLabelValues(ip.String()).Set(float64(len(names)))
		if len(names) == 0 {
			unannounced[ip] = whyNoInterface(ip, owned[ip], ifs)
		}
		if prev, ok := a.placed[ip]; ok && slices.Equal(prev, names) {
			continue
		}
		if len(names) == 0 {
			a.log.Info("No interface to announce address on: nobody answers ARP/NDP for it",
				"ip", ip, "requestedInterfaces", owned[ip], "reason", unannounced[ip])
			continue
		}
		a.log.Info("Announcing address", "ip", ip, "interfaces", names)
	}
	for ip := range a.placed {
		if _, ok := placed[ip]; !ok {
			a.metrics.interfaces.DeleteLabelValues(ip.String())
			a.log.Info("Stopped announcing address", "ip", ip)
		}
	}
	a.placed = placed
	a.unannounced.Store(&unannounced)
}

// Unannounced returns the owned addresses that no interface could carry at
// the last scan, each with the reason and what to change: for the status of
// the advertisement that owns them. The map is the caller's.
func (a *Announcer) Unannounced() map[netip.Addr]string {
	if m := a.unannounced.Load(); m != nil {
		return maps.Clone(*m)
	}
	return map[netip.Addr]string{}
}

func hasAddr(set addrSet, ip netip.Addr) bool {
	_, ok := set[ip]
	return ok
}

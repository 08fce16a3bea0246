package layer2

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// l2State is what the outside sees of an Announcer: per link, the
// addresses answered for, the sockets open and the groups joined; the
// gauge per address; Unannounced.
type l2State struct {
	Answered    map[string][]string
	Sockets     map[string][]FrameKind
	Groups      map[string][]string
	Gauges      map[string]float64
	Unannounced map[string]string
}

// stateOf reads an Announcer that is not running (the test calls reconcile)
// on h, and checks that every socket of h it does not use is closed and out
// of every group.
func stateOf(t *testing.T, a *Announcer, h *fakeHost, reg *prometheus.Registry) l2State {
	t.Helper()
	st := l2State{
		Answered: map[string][]string{}, Sockets: map[string][]FrameKind{}, Groups: map[string][]string{},
		Gauges: gauges(t, reg), Unannounced: map[string]string{},
	}
	for ip, why := range a.Unannounced() {
		st.Unannounced[ip.String()] = why
	}
	used := map[*fakeSocket]bool{}
	for name, l := range a.links {
		for _, ip := range l.answer.list() {
			st.Answered[name] = append(st.Answered[name], ip.String())
		}
		for _, kind := range []FrameKind{ARPFrames, NDPFrames} {
			if s := l.slot(kind).Load(); s != nil {
				fs := s.conn.(*fakeSocket)
				used[fs] = true
				st.Sockets[name] = append(st.Sockets[name], kind)
				if kind == NDPFrames {
					st.Groups[name] = fs.joined()
				}
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.opened {
		if used[s] {
			if s.isClosed() {
				t.Errorf("the %s socket of %s is in use but closed", s.kind, s.ifname)
			}
			continue
		}
		if !s.isClosed() {
			t.Errorf("a %s socket of %s is open but no link uses it", s.kind, s.ifname)
		}
		if g := s.joined(); len(g) > 0 {
			t.Errorf("a closed %s socket of %s is still in groups %v", s.kind, s.ifname, g)
		}
	}
	return st
}

// newStepAnnouncer makes an Announcer whose reconciles the test runs
// itself, one at a time, in place of Run.
func newStepAnnouncer(t *testing.T, h *fakeHost) (*Announcer, *prometheus.Registry, context.Context) {
	t.Helper()
	reg := prometheus.NewRegistry()
	a, err := New(Options{GratuitousCount: 1, Listen: h.listen, interfaces: h.interfaces, Registerer: reg, Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		a.shutdown()
	})
	return a, reg, ctx
}

// freshState is the state an Announcer reaches from nothing, owning owned
// among the interfaces ifs.
func freshState(t *testing.T, owned map[netip.Addr][]string, ifs []iface) l2State {
	t.Helper()
	h := newFakeHost(ifs...)
	a, reg, ctx := newStepAnnouncer(t, h)
	a.SetOwned(owned)
	if err := a.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	return stateOf(t, a, h, reg)
}

// answeredBySocket lists the addresses answered for per open socket.
func answeredBySocket(a *Announcer) map[*fakeSocket]addrSet {
	out := map[*fakeSocket]addrSet{}
	for _, l := range a.links {
		for _, ip := range l.answer.list() {
			if s := l.slot(kindOf(ip)).Load(); s != nil {
				fs := s.conn.(*fakeSocket)
				if out[fs] == nil {
					out[fs] = addrSet{}
				}
				out[fs][ip] = struct{}{}
			}
		}
	}
	return out
}

// checkBursts reads the takeover frames sent since before was taken: one
// per address answered for on a socket now and not then (GratuitousCount
// is 1), and no other.
func checkBursts(t *testing.T, step int, before, after map[*fakeSocket]addrSet) {
	t.Helper()
	for s, now := range after {
		want := map[string]bool{}
		for ip := range now {
			if !before[s].has(ip) {
				want[ip.String()] = true
			}
		}
		got := map[string]bool{}
		for range want {
			f := s.next(t)
			if s.kind == NDPFrames {
				got[viewNA(t, f.frame).Target] = true
			} else {
				got[viewARP(t, f.frame).TargetIP] = true
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("step %d: takeover frames on the %s socket of %s (-gained +sent):\n%s", step, s.kind, s.ifname, diff)
		}
	}
}

// seqInterfaces are the interfaces a step may switch between: eth0 up, down,
// or without a usable link-local address; eth1 there, gone, or re-created
// under another index; eth2, a veth only named addresses go to, there or
// gone.
func seqInterfaces(r *rand.Rand) []iface {
	eth0 := fakeEth0()
	switch r.IntN(4) {
	case 1:
		eth0.flags &^= unix.IFF_RUNNING
	case 2:
		eth0.linkLocal = netip.Addr{}
	}
	ifs := []iface{eth0}
	eth1 := with(testIface("eth1", "198.51.100.11/24", "fe80::21/64"), func(i *iface) { i.index, i.mtu = 2, 1500 })
	switch r.IntN(4) {
	case 1:
	case 2:
		ifs = append(ifs, with(eth1, func(i *iface) { i.index = 12 }))
	default:
		ifs = append(ifs, eth1)
	}
	if r.IntN(3) > 0 {
		ifs = append(ifs, with(testIface("eth2"), func(i *iface) { i.index, i.mtu, i.kind = 3, 1500, "veth" }))
	}
	return ifs
}

// Whatever the sequence of UpdateOwned and SetOwned calls, interface
// changes, failures to open a socket or join a group, and reconciles
// skipped (kicks coalesced), the Announcer ends where one started afresh
// with the final owned set and interfaces does: the same addresses
// answered on the same links, sockets, groups, gauges and Unannounced. On
// the way, each reconcile sends a takeover frame for each address it
// starts answering for on a socket and for no other, and an address
// dropped is refused from the moment UpdateOwned returns.
func TestReconcileSequenceMatchesFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 5000))
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("192.0.2.51"), netip.MustParseAddr("192.0.2.52"),
		netip.MustParseAddr("198.51.100.50"), netip.MustParseAddr("203.0.113.10"),
		// 2001:db8::50 and 2001:db8:1::50 share a solicited-node group.
		netip.MustParseAddr("2001:db8::50"), netip.MustParseAddr("2001:db8::51"), netip.MustParseAddr("2001:db8:1::50"),
	}
	names := [][]string{nil, nil, {"eth1"}, {"eth2"}, {"eth0", "eth1"}}
	h := newFakeHost(seqInterfaces(r)...)
	a, reg, ctx := newStepAnnouncer(t, h)
	owned := map[netip.Addr][]string{}
	before := answeredBySocket(a)
	failing := false
	for step := range 400 {
		switch op := r.IntN(20); {
		case op < 9:
			set, drop := map[netip.Addr][]string{}, []netip.Addr{}
			for range r.IntN(3) {
				set[addrs[r.IntN(len(addrs))]] = names[r.IntN(len(names))]
			}
			for range r.IntN(3) {
				if ip := addrs[r.IntN(len(addrs))]; !slices.Contains(slices.Collect(maps.Keys(set)), ip) {
					drop = append(drop, ip)
				}
			}
			for _, ip := range drop {
				delete(owned, ip)
			}
			maps.Copy(owned, set)
			a.UpdateOwned(set, drop)
			for _, ip := range drop {
				for _, l := range a.links {
					if a.ownerOn(l)(ip) {
						t.Fatalf("step %d: %s still answered on %s after UpdateOwned dropped it", step, ip, l.name)
					}
				}
			}
		case op < 12:
			owned = map[netip.Addr][]string{}
			for _, ip := range addrs {
				if r.IntN(2) == 0 {
					owned[ip] = names[r.IntN(len(names))]
				}
			}
			a.SetOwned(maps.Clone(owned))
		case op < 15:
			h.ifs = seqInterfaces(r)
		case op < 17:
			failing = r.IntN(2) == 0
			h.failJoin.Store(failing && r.IntN(2) == 0)
			h.refuse = nil
			if failing && !h.failJoin.Load() {
				h.refuse = fmt.Errorf("listen: %w", syscall.ENODEV)
			}
		}
		if r.IntN(3) == 0 {
			continue // the kick is coalesced with the next one
		}
		select {
		case <-a.kick:
		default:
		}
		if err := a.reconcile(ctx); err != nil {
			t.Fatalf("step %d: reconcile: %v", step, err)
		}
		after := answeredBySocket(a)
		checkBursts(t, step, before, after)
		before = after
		got := stateOf(t, a, h, reg)
		if failing {
			continue
		}
		if diff := cmp.Diff(freshState(t, owned, h.ifs), got); diff != "" {
			t.Fatalf("step %d: state (-fresh +after the sequence):\n%s", step, diff)
		}
	}
}

//go:build lab

package layer2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// These tests run the Announcer on real links: a "node" and a "client"
// network namespace joined by veth pairs, and the real arping and ndisc6 on the
// client side (Debian packages arping and ndisc6). They need root, hence the
// lab build tag: go test -tags lab ./speaker/layer2/
//
//	node  eth0 02:00:00:00:00:11 192.0.2.11/24 2001:db8::11/64  <-> client eth0 192.0.2.100/24 2001:db8::100/64
//	node  eth1 02:00:00:00:00:21 198.51.100.11/24               <-> client eth1 198.51.100.100/24
//	node  eth2 02:00:00:00:00:31 (created by a test)            <-> client eth2 203.0.113.100/24
//	node  mv0  02:00:00:00:00:41 198.51.100.12/24, a macvlan on eth1 (created by a test)

const labPrefix = "ironlb-l2test-"

var (
	nodeEth1MAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x21}
	nodeEth2MAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x31}
	nodeMv0MAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x41}
)

type lab struct {
	node, client string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	removeStaleNamespaces(t)
	l := &lab{node: labPrefix + "node", client: labPrefix + "client"}
	for _, ns := range []string{l.node, l.client} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("delete namespace %s: %v: %s", ns, err, out)
			}
		})
		// No duplicate address detection: addresses are usable as soon as added.
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	l.addLink(t, "eth0", nodeMAC, clientMAC,
		[]string{"192.0.2.11/24", "2001:db8::11/64"}, []string{"192.0.2.100/24", "2001:db8::100/64"})
	l.addLink(t, "eth1", nodeEth1MAC, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x74},
		[]string{"198.51.100.11/24"}, []string{"198.51.100.100/24"})
	return l
}

// removeStaleNamespaces deletes what a crashed run left behind.
func removeStaleNamespaces(t *testing.T) {
	t.Helper()
	out := run(t, "ip", "netns", "list")
	for _, line := range strings.Split(out, "\n") {
		if name, _, _ := strings.Cut(strings.TrimSpace(line), " "); strings.HasPrefix(name, labPrefix) {
			run(t, "ip", "netns", "del", name)
		}
	}
}

// addLink joins node and client with a veth pair named ifname on both sides.
func (l *lab) addLink(t *testing.T, ifname string, nodeHW, clientHW net.HardwareAddr, nodeAddrs, clientAddrs []string) {
	t.Helper()
	run(t, "ip", "link", "add", "name", ifname, "netns", l.node, "address", nodeHW.String(),
		"type", "veth", "peer", "name", ifname, "netns", l.client, "address", clientHW.String())
	for ns, addrs := range map[string][]string{l.node: nodeAddrs, l.client: clientAddrs} {
		for _, a := range addrs {
			run(t, "ip", "-n", ns, "addr", "add", a, "dev", ifname)
		}
		run(t, "ip", "-n", ns, "link", "set", ifname, "up")
	}
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNetns runs fn on a thread moved into namespace ns. Sockets fn opens stay
// in ns after it returns.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime ends the thread with this goroutine, so
		// no other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		if err := setns(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func setns(ns string) error {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	return nil
}

// startAnnouncer runs an Announcer in the node namespace until stop is called
// (or the test ends).
func (l *lab) startAnnouncer(t *testing.T, opts Options) (a *Announcer, reg *prometheus.Registry, stop func()) {
	t.Helper()
	reg = prometheus.NewRegistry()
	opts.Registerer = reg
	opts.Logger = testr.New(t)
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, as in inNetns
		if err := setns(l.node); err != nil {
			done <- err
			return
		}
		done <- a.Run(ctx)
	}()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return a, reg, stop
}

// arping asks from the client's ifname, with the real arping, who has ip; it
// returns the MAC that answered, or "" when nobody did within a second.
func (l *lab) arping(t *testing.T, ifname, src, ip string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", l.client,
		"arping", "-r", "-c", "1", "-w", "1", "-i", ifname, "-S", src, ip).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 && strings.TrimSpace(string(out)) == "" {
		return ""
	}
	if err != nil {
		t.Fatalf("arping %s on %s: %v\n%s", ip, ifname, err, out)
	}
	return strings.TrimSpace(string(out))
}

// ndisc6 resolves ip from the client's eth0 with the real ndisc6; it returns
// the link-layer address that answered, or "" when nobody did.
func (l *lab) ndisc6(t *testing.T, ip string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", l.client,
		"ndisc6", "-q", "-1", "-r", "1", "-w", "1000", ip, "eth0").CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() != 0 {
		return ""
	}
	if err != nil {
		t.Fatalf("ndisc6 %s: %v\n%s", ip, err, out)
	}
	return strings.ToLower(strings.TrimSpace(string(out)))
}

// clientSocket opens a packet socket on the client's ifname.
func (l *lab) clientSocket(t *testing.T, ifname string, proto int) (*packet.Conn, *net.Interface) {
	t.Helper()
	var (
		c   *packet.Conn
		ifi *net.Interface
	)
	err := inNetns(l.client, func() error {
		var err error
		if ifi, err = net.InterfaceByName(ifname); err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, proto, nil)
		return err
	})
	if err != nil {
		t.Fatalf("client socket on %s: %v", ifname, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, ifi
}

// eventually polls cond until it holds, failing the test after a generous
// bound; it says nothing about how fast things are.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAnnouncerOnRealLinks(t *testing.T) {
	l := newLab(t)
	a, reg, stop := l.startAnnouncer(t, Options{})
	addr := netip.MustParseAddr
	node := nodeMAC.String()

	t.Run("owned IPv4 address is answered with the node's MAC, and counted", func(t *testing.T) {
		a.SetOwned(map[netip.Addr][]string{addr("192.0.2.50"): nil, addr("2001:db8::50"): nil})
		eventually(t, "arping 192.0.2.50 answered", func() bool { return l.arping(t, "eth0", "192.0.2.100", "192.0.2.50") != "" })

		reqs := counterValue(t, reg, "ironlb_layer2_requests_received_total", ARPFrames, "eth0")
		resps := counterValue(t, reg, "ironlb_layer2_responses_sent_total", ARPFrames, "eth0")
		if got := l.arping(t, "eth0", "192.0.2.100", "192.0.2.50"); got != node {
			t.Errorf("arping 192.0.2.50 answered by %q, want the node's %s", got, node)
		}
		if got := counterValue(t, reg, "ironlb_layer2_requests_received_total", ARPFrames, "eth0") - reqs; got != 1 {
			t.Errorf("requests_received{arp,eth0} grew by %v for one arping, want 1", got)
		}
		if got := counterValue(t, reg, "ironlb_layer2_responses_sent_total", ARPFrames, "eth0") - resps; got != 1 {
			t.Errorf("responses_sent{arp,eth0} grew by %v for one arping, want 1", got)
		}
	})

	t.Run("owned IPv6 address is answered with the node's MAC, and its group joined", func(t *testing.T) {
		eventually(t, "ndisc6 2001:db8::50 answered", func() bool { return l.ndisc6(t, "2001:db8::50") != "" })
		reqs := counterValue(t, reg, "ironlb_layer2_requests_received_total", NDPFrames, "eth0")
		if got := l.ndisc6(t, "2001:db8::50"); got != node {
			t.Errorf("ndisc6 2001:db8::50 answered by %q, want the node's %s", got, node)
		}
		if got := counterValue(t, reg, "ironlb_layer2_requests_received_total", NDPFrames, "eth0") - reqs; got != 1 {
			t.Errorf("requests_received{ndp,eth0} grew by %v for one ndisc6, want 1", got)
		}
		if groups := run(t, "ip", "-n", l.node, "maddr", "show", "dev", "eth0"); !strings.Contains(groups, "ff02::1:ff00:50") {
			t.Errorf("node eth0 has not joined ff02::1:ff00:50:\n%s", groups)
		}
	})

	t.Run("address not owned gets no answer", func(t *testing.T) {
		if got := l.arping(t, "eth0", "192.0.2.100", "192.0.2.51"); got != "" {
			t.Errorf("arping 192.0.2.51 answered by %s, want no answer", got)
		}
		if got := l.ndisc6(t, "2001:db8::51"); got != "" {
			t.Errorf("ndisc6 2001:db8::51 answered by %s, want no answer", got)
		}
	})

	t.Run("unicast neighbour solicitation is answered", func(t *testing.T) {
		c, _ := l.clientSocket(t, "eth0", unix.ETH_P_IPV6)
		vip := addr("2001:db8::50")
		if _, err := c.WriteTo(nsFrame(t, clientMAC, nodeMAC, client6, vip, vip, clientMAC), &packet.Addr{HardwareAddr: nodeMAC}); err != nil {
			t.Fatalf("send NS: %v", err)
		}
		na := readUntil(t, c, func(f []byte) bool {
			v := naIn(f)
			return v != nil && v.TargetAddress == vip && v.Solicited
		})
		if na == nil {
			t.Fatal("no solicited advertisement for 2001:db8::50 came back")
		}
		if got := net.HardwareAddr(na[6:12]).String(); got != node {
			t.Errorf("advertisement sent from %s, want %s", got, node)
		}
	})

	t.Run("address dropped by SetOwned is no longer answered", func(t *testing.T) {
		// Another address stays owned, so the sockets stay open: what stops
		// the answers is SetOwned itself.
		a.SetOwned(map[netip.Addr][]string{addr("192.0.2.52"): nil, addr("2001:db8::52"): nil})
		if got := l.arping(t, "eth0", "192.0.2.100", "192.0.2.50"); got != "" {
			t.Errorf("arping 192.0.2.50 answered by %s after it was dropped", got)
		}
		if got := l.ndisc6(t, "2001:db8::50"); got != "" {
			t.Errorf("ndisc6 2001:db8::50 answered by %s after it was dropped", got)
		}
		eventually(t, "arping 192.0.2.52 answered", func() bool { return l.arping(t, "eth0", "192.0.2.100", "192.0.2.52") == node })
		eventually(t, "group of 2001:db8::50 left", func() bool {
			return !strings.Contains(run(t, "ip", "-n", l.node, "maddr", "show", "dev", "eth0"), "ff02::1:ff00:50")
		})
	})

	t.Run("takeover sends a gratuitous burst that moves the client's neighbour entries", func(t *testing.T) {
		// The client believes another host has the addresses, as after a failover.
		run(t, "ip", "-n", l.client, "neigh", "replace", "192.0.2.60", "lladdr", otherMAC.String(), "dev", "eth0", "nud", "stale")
		run(t, "ip", "-n", l.client, "-6", "neigh", "replace", "2001:db8::60", "lladdr", otherMAC.String(), "dev", "eth0", "nud", "stale")
		arpSock, _ := l.clientSocket(t, "eth0", unix.ETH_P_ARP)
		ndSock, _ := l.clientSocket(t, "eth0", unix.ETH_P_IPV6)
		v4, v6 := addr("192.0.2.60"), addr("2001:db8::60")
		isGARP := func(f []byte) bool { return isGratuitousFor(f, v4, nodeMAC) }
		isNA := func(f []byte) bool {
			na := naIn(f)
			return na != nil && na.TargetAddress == v6 && na.Override && !na.Solicited &&
				net.HardwareAddr(f[6:12]).String() == node
		}
		garps := make(chan []time.Time, 1)
		nas := make(chan []time.Time, 1)
		go func() { garps <- collect(arpSock, DefaultGratuitousCount, isGARP) }()
		go func() { nas <- collect(ndSock, DefaultGratuitousCount, isNA) }()

		start := time.Now()
		a.SetOwned(map[netip.Addr][]string{addr("192.0.2.52"): nil, addr("2001:db8::52"): nil, v4: nil, v6: nil})
		for proto, ch := range map[string]chan []time.Time{"gratuitous ARP": garps, "unsolicited NA": nas} {
			got := <-ch
			if len(got) != DefaultGratuitousCount {
				t.Errorf("%s burst: saw %d, want %d", proto, len(got), DefaultGratuitousCount)
				continue
			}
			offsets := make([]string, len(got))
			for i, at := range got {
				offsets[i] = at.Sub(start).Round(time.Millisecond).String()
			}
			t.Logf("%s burst seen at the client after SetOwned: %s", proto, strings.Join(offsets, ", "))
		}
		if got := counterValue(t, reg, "ironlb_layer2_gratuitous_sent_total", ARPFrames, "eth0"); got < DefaultGratuitousCount {
			t.Errorf("gratuitous_sent{arp,eth0} = %v, want at least %d", got, DefaultGratuitousCount)
		}
		for _, tc := range []struct{ family, ip string }{{"-4", "192.0.2.60"}, {"-6", "2001:db8::60"}} {
			if neigh := run(t, "ip", "-n", l.client, tc.family, "neigh", "show", tc.ip, "dev", "eth0"); !strings.Contains(neigh, node) {
				t.Errorf("client's neighbour entry for %s not moved to %s: %s", tc.ip, node, neigh)
			}
		}
	})

	t.Run("named interface: answered there and nowhere else", func(t *testing.T) {
		a.SetOwned(map[netip.Addr][]string{addr("192.0.2.53"): {"eth1"}})
		eventually(t, "arping 192.0.2.53 on eth1 answered", func() bool {
			return l.arping(t, "eth1", "198.51.100.100", "192.0.2.53") == nodeEth1MAC.String()
		})
		if got := l.arping(t, "eth0", "192.0.2.100", "192.0.2.53"); got != "" {
			t.Errorf("192.0.2.53 answered on eth0 by %s, want only on eth1", got)
		}
	})

	t.Run("no interface named: the subnet's link only, or the host's uplinks when no subnet matches, never a veth", func(t *testing.T) {
		// mv0: a macvlan on eth1 holding an address of the host, as hosts
		// talking to macvlan pods have; the veths stand for pod links.
		run(t, "ip", "-n", l.node, "link", "add", "link", "eth1", "name", "mv0", "address", nodeMv0MAC.String(),
			"type", "macvlan", "mode", "bridge")
		defer run(t, "ip", "-n", l.node, "link", "del", "mv0")
		run(t, "ip", "-n", l.node, "addr", "add", "198.51.100.12/24", "dev", "mv0")
		run(t, "ip", "-n", l.node, "link", "set", "mv0", "up")

		a.SetOwned(map[netip.Addr][]string{addr("192.0.2.50"): nil, addr("203.0.113.10"): nil})
		eventually(t, "arping 203.0.113.10 answered by mv0", func() bool {
			return l.arping(t, "eth1", "198.51.100.100", "203.0.113.10") == nodeMv0MAC.String()
		})
		if got := l.arping(t, "eth0", "192.0.2.100", "203.0.113.10"); got != "" {
			t.Errorf("203.0.113.10 answered on eth0, a veth, by %s", got)
		}
		if got := l.arping(t, "eth0", "192.0.2.100", "192.0.2.50"); got != node {
			t.Errorf("192.0.2.50 on eth0 answered by %q, want %s", got, node)
		}
		if got := l.arping(t, "eth1", "198.51.100.100", "192.0.2.50"); got != "" {
			t.Errorf("192.0.2.50 answered on eth1 by %s, but its subnet is on eth0", got)
		}
	})

	t.Run("interface created after SetOwned is picked up; deleting it disturbs no other", func(t *testing.T) {
		a.SetOwned(map[netip.Addr][]string{addr("203.0.113.20"): {"eth2"}})
		l.addLink(t, "eth2", nodeEth2MAC, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x84}, nil, []string{"203.0.113.100/24"})
		eventually(t, "arping 203.0.113.20 on eth2 answered", func() bool {
			return l.arping(t, "eth2", "203.0.113.100", "203.0.113.20") == nodeEth2MAC.String()
		})
		run(t, "ip", "-n", l.node, "link", "del", "eth2")
		// The Announcer notices on its next scan; answering on eth1 proves it is still serving.
		a.SetOwned(map[netip.Addr][]string{addr("203.0.113.20"): {"eth2", "eth1"}})
		eventually(t, "arping 203.0.113.20 on eth1 answered", func() bool {
			return l.arping(t, "eth1", "198.51.100.100", "203.0.113.20") == nodeEth1MAC.String()
		})
	})

	t.Run("malformed frames are dropped and counted", func(t *testing.T) {
		a.SetOwned(map[netip.Addr][]string{addr("192.0.2.50"): nil, addr("2001:db8::50"): nil})
		eventually(t, "ndisc6 2001:db8::50 answered", func() bool { return l.ndisc6(t, "2001:db8::50") == node })
		arpSock, _ := l.clientSocket(t, "eth0", unix.ETH_P_ARP)
		ndSock, _ := l.clientSocket(t, "eth0", unix.ETH_P_IPV6)
		badARP := mutate(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4), func(b []byte) []byte {
			b[18] = 8 // hardware address length
			return b
		})
		badNS := mutate(multicastNS(t, vip6), func(b []byte) []byte {
			b[ethHeaderLen+7] = 64 // hop limit: not from this link
			return b
		})
		for _, tc := range []struct {
			proto FrameKind
			sock  *packet.Conn
			frame []byte
		}{{ARPFrames, arpSock, badARP}, {NDPFrames, ndSock, badNS}} {
			before := counterValue(t, reg, "ironlb_layer2_malformed_packets_total", tc.proto, "eth0")
			if _, err := tc.sock.WriteTo(tc.frame, &packet.Addr{HardwareAddr: tc.frame[:6]}); err != nil {
				t.Fatalf("send: %v", err)
			}
			eventually(t, "malformed "+string(tc.proto)+" frame counted", func() bool {
				return counterValue(t, reg, "ironlb_layer2_malformed_packets_total", tc.proto, "eth0") == before+1
			})
		}
	})

	t.Run("Run leaves the groups and stops answering when its context ends", func(t *testing.T) {
		stop()
		if groups := run(t, "ip", "-n", l.node, "maddr", "show", "dev", "eth0"); strings.Contains(groups, "ff02::1:ff00:50") {
			t.Errorf("node eth0 still in ff02::1:ff00:50 after Run returned:\n%s", groups)
		}
		if got := l.arping(t, "eth0", "192.0.2.100", "192.0.2.50"); got != "" {
			t.Errorf("arping 192.0.2.50 answered by %s after Run returned", got)
		}
	})
}

func TestAnnouncerReannounces(t *testing.T) {
	l := newLab(t)
	a, reg, _ := l.startAnnouncer(t, Options{GratuitousCount: 1, ReannounceInterval: 200 * time.Millisecond})
	sock, _ := l.clientSocket(t, "eth0", unix.ETH_P_ARP)
	vip := netip.MustParseAddr("192.0.2.70")
	start := time.Now()
	a.SetOwned(map[netip.Addr][]string{vip: nil})
	// One takeover frame, then one per interval.
	seen := collect(sock, 4, func(f []byte) bool { return isGratuitousFor(f, vip, nodeMAC) })
	if len(seen) < 4 {
		t.Fatalf("saw %d gratuitous ARPs for %s, want a takeover one and re-announcements", len(seen), vip)
	}
	offsets := make([]string, len(seen))
	for i, at := range seen {
		offsets[i] = at.Sub(start).Round(time.Millisecond).String()
	}
	t.Logf("gratuitous ARPs seen after SetOwned, GratuitousCount 1, ReannounceInterval 200ms: %s", strings.Join(offsets, ", "))
	if got := counterValue(t, reg, "ironlb_layer2_gratuitous_sent_total", ARPFrames, "eth0"); got < 4 {
		t.Errorf("gratuitous_sent{arp,eth0} = %v, want at least 4", got)
	}
}

func TestAnnouncerAnnouncesAgainWhenLinkComesBack(t *testing.T) {
	l := newLab(t)
	a, _, _ := l.startAnnouncer(t, Options{GratuitousCount: 2})
	v4, v6 := netip.MustParseAddr("192.0.2.71"), netip.MustParseAddr("2001:db8::71")
	a.SetOwned(map[netip.Addr][]string{v4: nil, v6: nil})
	eventually(t, "arping 192.0.2.71 answered", func() bool { return l.arping(t, "eth0", "192.0.2.100", v4.String()) == nodeMAC.String() })

	run(t, "ip", "-n", l.node, "link", "set", "eth0", "down")
	// Any change makes the Announcer look at the links at once; with eth0 down
	// it gives it up, leaving the group of 2001:db8::71.
	a.SetOwned(map[netip.Addr][]string{v4: nil, v6: nil, netip.MustParseAddr("198.51.100.71"): nil})
	eventually(t, "group of 2001:db8::71 left while eth0 is down", func() bool {
		return !strings.Contains(run(t, "ip", "-n", l.node, "maddr", "show", "dev", "eth0"), "ff02::1:ff00:71")
	})
	sock, _ := l.clientSocket(t, "eth0", unix.ETH_P_ARP)
	garps := make(chan []time.Time, 1)
	go func() { garps <- collect(sock, 2, func(f []byte) bool { return isGratuitousFor(f, v4, nodeMAC) }) }()
	run(t, "ip", "-n", l.node, "link", "set", "eth0", "up")
	if got := <-garps; len(got) != 2 {
		t.Errorf("saw %d gratuitous ARPs for %s after eth0 came back, want a burst of 2", len(got), v4)
	}
	if got := l.arping(t, "eth0", "192.0.2.100", v4.String()); got != nodeMAC.String() {
		t.Errorf("arping %s after eth0 came back answered by %q, want %s", v4, got, nodeMAC)
	}
}

func isGratuitousFor(f []byte, ip netip.Addr, from net.HardwareAddr) bool {
	var p arp.Packet
	return len(f) > ethHeaderLen && p.UnmarshalBinary(f[ethHeaderLen:]) == nil &&
		p.Operation == arp.OperationRequest && p.SenderIP == ip && p.TargetIP == ip &&
		p.SenderHardwareAddr.String() == from.String() && net.HardwareAddr(f[0:6]).String() == ethernet.Broadcast.String()
}

// naIn decodes a neighbour advertisement from a captured frame, or returns nil.
func naIn(f []byte) *ndp.NeighborAdvertisement {
	if et, ok := etherType(f); !ok || et != ethernet.EtherTypeIPv6 {
		return nil
	}
	_, _, body, v := parseICMPv6(f[ethHeaderLen:])
	if v != answered {
		return nil
	}
	m, err := ndp.ParseMessage(body)
	if err != nil {
		return nil
	}
	na, _ := m.(*ndp.NeighborAdvertisement)
	return na
}

// readUntil returns the first frame read on c that match accepts, or nil if
// none comes within a generous bound.
func readUntil(t *testing.T, c *packet.Conn, match func([]byte) bool) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return nil
		}
		if match(buf[:n]) {
			return append([]byte(nil), buf[:n]...)
		}
	}
}

// collect records when frames matching match arrive: until want have come
// (or a generous bound passes), then one more second to catch any extra.
func collect(c *packet.Conn, want int, match func([]byte) bool) []time.Time {
	var seen []time.Time
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 2048)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return seen
		}
		if match(buf[:n]) {
			seen = append(seen, time.Now())
			if len(seen) == want {
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
			}
		}
	}
}

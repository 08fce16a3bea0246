//go:build lab

package bfd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/test/lab"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"
)

// The lab: two network namespaces joined by a veth pair, FRR's bfdd in one,
// a Manager with real UDP sockets in the other.
//
//	<prefix>frr  eth0 198.51.100.1/24 2001:db8:bfd::1/64   (bfdd)
//	      |
//	<prefix>us   eth0 198.51.100.2/24 2001:db8:bfd::2/64   (Manager)
//
// Needs root and FRR (Debian package frr). Namespaces are named
// bfdlab<pid>x<n>-; a run deletes those of dead processes first, and its
// own when it ends, passed or failed.

var (
	frrV4  = netip.MustParseAddr("198.51.100.1")
	usV4   = netip.MustParseAddr("198.51.100.2")
	frrV6  = netip.MustParseAddr("2001:db8:bfd::1")
	usV6   = netip.MustParseAddr("2001:db8:bfd::2")
	labSeq atomic.Int32
)

// staleLab matches the namespaces of a lab; group 1 is the pid that made it.
var staleLab = regexp.MustCompile(`^bfdlab([0-9]+)x[0-9]+-`)

type bfdLab struct {
	tb       testing.TB
	frrNS    string
	usNS     string
	dir      string // FRR's config, sockets and log
	bfdd     *exec.Cmd
	bfddDone chan struct{}
	m        *Manager
	reg      *prometheus.Registry

	mu      sync.Mutex
	changes []StateChange
}

// labProfile is FRR's default: 300 ms both ways, multiplier 3.
var labProfile = Profile{ReceiveInterval: 300 * ms, TransmitInterval: 300 * ms, DetectMultiplier: 3}

func startLab(tb testing.TB) *bfdLab {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatal("the BFD lab (build tag lab) needs root")
	}
	if _, err := os.Stat("/usr/lib/frr/bfdd"); err != nil {
		tb.Fatalf("FRR's bfdd is not installed (hack/install-lab-packages.sh installs frr): %v", err)
	}
	removeStaleLabs(tb)
	prefix := fmt.Sprintf("bfdlab%dx%d-", os.Getpid(), labSeq.Add(1))
	l := &bfdLab{tb: tb, frrNS: prefix + "frr", usNS: prefix + "us", reg: prometheus.NewPedanticRegistry()}
	tb.Cleanup(l.close)
	l.network()
	l.startBFDD()
	l.startManager()
	return l
}

// removeStaleLabs deletes the namespaces of labs whose process is gone.
func removeStaleLabs(tb testing.TB) {
	out, _ := sh(context.Background(), "ip", "netns", "list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleLab.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[1]); pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		tb.Logf("deleting stale namespace %s", f[0])
		deleteNetns(f[0])
	}
}

// deleteNetns kills what still runs in ns, then deletes it.
func deleteNetns(ns string) {
	ctx := context.Background()
	if out, err := sh(ctx, "ip", "netns", "pids", ns); err == nil {
		for _, pid := range strings.Fields(out) {
			// Never ourselves: a thread of ours may be visiting ns.
			if p, err := strconv.Atoi(pid); err == nil && p != os.Getpid() {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}
	_, _ = sh(ctx, "ip", "netns", "del", ns)
}

func (l *bfdLab) close() {
	if l.m != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.m.Close(ctx); err != nil {
			l.tb.Logf("closing the manager: %v", err)
		}
		cancel()
	}
	if l.bfdd != nil {
		_ = l.bfdd.Process.Kill()
		<-l.bfddDone
	}
	if l.tb.Failed() && l.dir != "" {
		if log, err := os.ReadFile(filepath.Join(l.dir, "bfdd.log")); err == nil {
			l.tb.Logf("bfdd log (last 4 KiB):\n%s", tailBytes(log, 4096))
		}
	}
	for _, ns := range []string{l.frrNS, l.usNS} {
		deleteNetns(ns)
	}
	if l.dir != "" {
		_ = os.RemoveAll(l.dir)
	}
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// sh runs a command and returns its output; errors carry its stderr.
func sh(ctx context.Context, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (l *bfdLab) must(argv ...string) string {
	l.tb.Helper()
	out, err := sh(context.Background(), argv...)
	if err != nil {
		l.tb.Fatal(err)
	}
	return out
}

// network builds the two namespaces and the veth pair between them.
func (l *bfdLab) network() {
	for _, ns := range []string{l.frrNS, l.usNS} {
		l.must("ip", "netns", "add", ns)
		l.must("ip", "-n", ns, "link", "set", "lo", "up")
		// No duplicate address detection, which holds new IPv6 addresses
		// back; and keep addresses while the link is down, which is how
		// the tests cut the path.
		for _, k := range []string{"all", "default"} {
			l.must("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf."+k+".accept_dad=0")
			l.must("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf."+k+".keep_addr_on_down=1")
		}
	}
	l.must("ip", "-n", l.frrNS, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", l.usNS)
	for _, h := range []struct {
		ns     string
		v4, v6 netip.Addr
	}{{l.frrNS, frrV4, frrV6}, {l.usNS, usV4, usV6}} {
		l.must("ip", "-n", h.ns, "addr", "add", h.v4.String()+"/24", "dev", "eth0")
		l.must("ip", "-n", h.ns, "addr", "add", h.v6.String()+"/64", "dev", "eth0", "nodad")
		l.must("ip", "-n", h.ns, "link", "set", "eth0", "up")
	}
}

// bfddConfig has one single-hop peer per family with the lab's timers.
func bfddConfig() string {
	var b strings.Builder
	// Microsecond log timestamps date FRR's state changes for the benchmark.
	b.WriteString("hostname bfdlab\nlog stdout debugging\nlog timestamp precision 6\ndebug bfd peer\n!\nbfd\n")
	for _, p := range [][2]netip.Addr{{usV4, frrV4}, {usV6, frrV6}} {
		fmt.Fprintf(&b, " peer %s local-address %s\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 3\n  no shutdown\n exit\n", p[0], p[1])
	}
	b.WriteString("exit\n")
	return b.String()
}

// startBFDD runs FRR's bfdd in the FRR namespace as user frr, with its own
// configuration, vty and control sockets in a directory of the test's.
func (l *bfdLab) startBFDD() {
	dir, err := os.MkdirTemp("", "bfdlab")
	if err != nil {
		l.tb.Fatal(err)
	}
	l.dir = dir
	conf := filepath.Join(dir, "bfdd.conf")
	if err := os.WriteFile(conf, []byte(bfddConfig()), 0o644); err != nil {
		l.tb.Fatal(err)
	}
	u, err := user.Lookup("frr")
	if err != nil {
		l.tb.Fatalf("user frr (Debian package frr, hack/install-lab-packages.sh): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range []string{dir, conf} {
		if err := os.Chown(p, uid, gid); err != nil {
			l.tb.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		l.tb.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "bfdd.log"))
	if err != nil {
		l.tb.Fatal(err)
	}
	defer logf.Close()
	// Foreground, so it is our child and dies with us (Pdeathsig).
	cmd := exec.Command("ip", "netns", "exec", l.frrNS, "/usr/lib/frr/bfdd",
		"-u", "frr", "-g", "frr", "--log", "stdout",
		"-i", filepath.Join(dir, "bfdd.pid"), "--vty_socket", dir,
		"-z", filepath.Join(dir, "zserv.api"), "--bfdctl", filepath.Join(dir, "bfdd.sock"),
		"-f", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		l.tb.Fatal(err)
	}
	l.bfdd, l.bfddDone = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(l.bfddDone)
	}()
	l.eventually(30*time.Second, "bfdd answers vtysh", func() error {
		select {
		case <-l.bfddDone:
			return fmt.Errorf("bfdd exited")
		default:
		}
		_, err := l.vtysh("show version")
		return err
	})
}

func (l *bfdLab) vtysh(cmd string) (string, error) {
	return sh(context.Background(), "ip", "netns", "exec", l.frrNS, "vtysh", "--vty_socket", l.dir, "-d", "bfdd", "-c", cmd)
}

// frrPeer is what "show bfd peers json" says of one peer.
type frrPeer struct {
	Peer             string `json:"peer"`
	Local            string `json:"local"`
	ID               uint32 `json:"id"`
	RemoteID         uint32 `json:"remote-id"`
	Status           string `json:"status"`
	Diagnostic       string `json:"diagnostic"`
	RemoteDiagnostic string `json:"remote-diagnostic"`
	TransmitInterval int    `json:"transmit-interval"`
	ReceiveInterval  int    `json:"receive-interval"`
	RemoteTransmit   int    `json:"remote-transmit-interval"`
	RemoteReceive    int    `json:"remote-receive-interval"`
}

func (l *bfdLab) frrPeers() (map[netip.Addr]frrPeer, error) {
	out, err := l.vtysh("show bfd peers json")
	if err != nil {
		return nil, err
	}
	var peers []frrPeer
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		return nil, fmt.Errorf("%w: %.500s", err, out)
	}
	byAddr := map[netip.Addr]frrPeer{}
	for _, p := range peers {
		if a, err := netip.ParseAddr(p.Peer); err == nil {
			byAddr[a] = p
		}
	}
	return byAddr, nil
}

// waitFRR waits until FRR's peer a (our address) has status, and returns it.
func (l *bfdLab) waitFRR(a netip.Addr, status string, timeout time.Duration) frrPeer {
	l.tb.Helper()
	var p frrPeer
	l.eventually(timeout, fmt.Sprintf("FRR's peer %s %s", a, status), func() error {
		peers, err := l.frrPeers()
		if err != nil {
			return err
		}
		p = peers[a]
		if p.Status != status {
			return fmt.Errorf("FRR says %+v", p)
		}
		return nil
	})
	return p
}

// startManager starts our Manager inside our namespace: its sockets belong
// to the namespace of the thread that opens them.
func (l *bfdLab) startManager() {
	err := lab.InNetns(l.usNS, func() error {
		m, err := New(Options{
			Registerer: l.reg,
			Logger:     testr.NewWithInterface(l.tb, testr.Options{Verbosity: 1}),
			OnStateChange: func(c StateChange) {
				l.mu.Lock()
				l.changes = append(l.changes, c)
				l.mu.Unlock()
			},
		})
		if err != nil {
			return err
		}
		l.m = m
		return nil
	})
	if err != nil {
		l.tb.Fatal(err)
	}
}

// add adds a session from inside our namespace (Dial opens its socket).
func (l *bfdLab) add(p Peer) {
	l.tb.Helper()
	if err := lab.InNetns(l.usNS, func() error { return l.m.Add(p) }); err != nil {
		l.tb.Fatal(err)
	}
}

func (l *bfdLab) session(k SessionKey) (SessionStatus, bool) {
	for _, s := range l.m.Sessions() {
		if s.Peer.Key() == k {
			return s, true
		}
	}
	return SessionStatus{}, false
}

// waitOurs waits until our session k is in state s, and returns its status.
func (l *bfdLab) waitOurs(k SessionKey, s State, timeout time.Duration) SessionStatus {
	l.tb.Helper()
	var st SessionStatus
	l.eventually(timeout, fmt.Sprintf("our session %s %s", k, s), func() error {
		var ok bool
		if st, ok = l.session(k); !ok || st.State != s {
			return fmt.Errorf("session %+v (present %v)", st, ok)
		}
		return nil
	})
	return st
}

// lastChange is the last state change reported for k.
func (l *bfdLab) lastChange(k SessionKey) (StateChange, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.changes) - 1; i >= 0; i-- {
		if l.changes[i].Key == k {
			return l.changes[i], true
		}
	}
	return StateChange{}, false
}

// setLink sets FRR's end of the veth up or down: a cut path for both sides,
// and no signal to bfdd, which without zebra learns nothing of links.
func (l *bfdLab) setLink(up bool) {
	l.tb.Helper()
	state := "down"
	if up {
		state = "up"
	}
	l.must("ip", "-n", l.frrNS, "link", "set", "eth0", state)
}

func (l *bfdLab) eventually(timeout time.Duration, what string, f func() error) {
	l.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			l.tb.Fatalf("%s: not after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	keyV4 = SessionKey{Addr: frrV4}
	keyV6 = SessionKey{Addr: frrV6, Interface: "eth0"}
	// ourAddr is our end of each session, which FRR names its peer by.
	ourAddr = map[SessionKey]netip.Addr{keyV4: usV4, keyV6: usV6}
)

// upWithFRR starts the lab with one IPv4 session and one IPv6 session bound
// to eth0, and waits until both sides see both Up.
func upWithFRR(tb testing.TB) *bfdLab {
	l := startLab(tb)
	l.add(Peer{Addr: frrV4, LocalAddr: usV4, Profile: labProfile})
	l.add(Peer{Addr: frrV6, LocalAddr: usV6, Interface: "eth0", Profile: labProfile})
	for _, k := range []SessionKey{keyV4, keyV6} {
		l.waitFRR(ourAddr[k], "up", 30*time.Second)
		l.waitOurs(k, StateUp, 30*time.Second)
	}
	return l
}

func TestFRRSessionsComeUp(t *testing.T) {
	l := upWithFRR(t)
	peers, err := l.frrPeers()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []SessionKey{keyV4, keyV6} {
		ours := l.waitOurs(k, StateUp, 10*time.Second)
		theirs := peers[ourAddr[k]]
		if theirs.RemoteID != ours.LocalDiscriminator || theirs.ID != ours.RemoteDiscriminator {
			t.Errorf("%s: FRR's id %d remote-id %d; ours %d remote %d", k, theirs.ID, theirs.RemoteID,
				ours.LocalDiscriminator, ours.RemoteDiscriminator)
		}
		if ours.TransmitInterval != 300*ms || ours.DetectionTime != 900*ms {
			t.Errorf("%s: negotiated %v × 3 = %v, want 300ms and 900ms", k, ours.TransmitInterval, ours.DetectionTime)
		}
		if theirs.RemoteTransmit != 300 || theirs.RemoteReceive != 300 {
			t.Errorf("%s: FRR sees our timers as tx %d rx %d ms, want 300", k, theirs.RemoteTransmit, theirs.RemoteReceive)
		}
	}
	if got := testutil.ToFloat64(l.m.metrics.state.WithLabelValues(labels(keyV4)...)); got != float64(StateUp) {
		t.Errorf("ironlb_bfd_session_state = %v, want 3", got)
	}
}

func TestFRRLinkCutDetectedOnBothSides(t *testing.T) {
	l := upWithFRR(t)
	l.setLink(false)
	for _, k := range []SessionKey{keyV4, keyV6} {
		s := l.waitOurs(k, StateDown, 10*time.Second)
		if s.LocalDiag != DiagControlDetectionTimeExpired || s.LocalDiag.String() != "Control Detection Time Expired" {
			t.Errorf("%s: Down with diag %q, want Control Detection Time Expired", k, s.LocalDiag)
		}
		if c, _ := l.lastChange(k); c.From != StateUp || c.To != StateDown || c.Diag != DiagControlDetectionTimeExpired {
			t.Errorf("%s: last reported change %+v", k, c)
		}
		p := l.waitFRR(ourAddr[k], "down", 10*time.Second)
		if !strings.Contains(p.Diagnostic, "detection time expired") {
			t.Errorf("%s: FRR down with diagnostic %q, want control detection time expired", k, p.Diagnostic)
		}
	}
	l.setLink(true)
	for _, k := range []SessionKey{keyV4, keyV6} {
		l.waitOurs(k, StateUp, 30*time.Second)
		l.waitFRR(ourAddr[k], "up", 30*time.Second)
	}
}

func TestFRRSeesOurSessionGo(t *testing.T) {
	l := upWithFRR(t)
	if err := l.m.Remove(keyV4); err != nil {
		t.Fatal(err)
	}
	p := l.waitFRR(usV4, "down", 10*time.Second)
	if !strings.Contains(p.RemoteDiagnostic, "administratively down") {
		t.Errorf("FRR's peer down with remote diagnostic %q, want administratively down", p.RemoteDiagnostic)
	}
	// The session lingers saying AdminDown for FRR's detection time, then goes.
	l.eventually(10*time.Second, "removed session gone", func() error {
		if s, ok := l.session(keyV4); ok {
			return fmt.Errorf("still there: %s", s.State)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if p := l.waitFRR(usV4, "down", time.Second); p.Status != "down" {
		t.Fatalf("FRR's peer %s after we left", p.Status)
	}
	// The other session is untouched.
	if s, _ := l.session(keyV6); s.State != StateUp {
		t.Fatalf("IPv6 session %s, want Up", s.State)
	}
	l.waitFRR(usV6, "up", time.Second)
}

// TestSocketsFollowRFC5881 checks the sockets from outside: our sessions send
// from ports in 49152–65535 (read with ss), and a packet that arrives with
// TTL 254 is dropped and counted while the same packet with 255 is not.
func TestSocketsFollowRFC5881(t *testing.T) {
	l := upWithFRR(t)
	out := l.must("ip", "netns", "exec", l.usNS, "ss", "-H", "-u", "-a", "-n")
	var senders int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		ap, err := netip.ParseAddrPort(strings.ReplaceAll(strings.ReplaceAll(f[3], "*", "0.0.0.0"), "%eth0", ""))
		if err != nil {
			t.Fatalf("ss line %q: %v", line, err)
		}
		switch port := ap.Port(); {
		case port == Port:
		case port >= MinSourcePort:
			senders++
		default:
			t.Errorf("socket on port %d in our namespace: %q", port, line)
		}
	}
	if senders != 2 {
		t.Errorf("%d sending sockets, want one per session:\n%s", senders, out)
	}

	// A forged AdminDown for our session would take it down if its TTL
	// were not checked; the same with a discriminator we do not have shows
	// that TTL 255 gets past the check.
	ours, _ := l.session(keyV4)
	forged := ControlPacket{
		State: StateAdminDown, DetectMult: 3, MyDiscriminator: ours.RemoteDiscriminator,
		YourDiscriminator: ours.LocalDiscriminator, DesiredMinTxInterval: 1000000, RequiredMinRxInterval: 1000000,
	}
	unknown := forged
	unknown.YourDiscriminator++
	dropped := func(reason string) float64 { return testutil.ToFloat64(l.m.metrics.dropped.WithLabelValues(reason)) }
	for _, tc := range []struct {
		ttl    int
		pkt    ControlPacket
		reason string
	}{{254, forged, ReasonTTL}, {255, unknown, ReasonNoSession}} {
		pkt := mustEncode(t, tc.pkt)
		before := dropped(tc.reason)
		err := lab.InNetns(l.frrNS, func() error {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: frrV4.AsSlice()})
			if err != nil {
				return err
			}
			defer c.Close()
			rc, _ := c.SyscallConn()
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, tc.ttl)
			}); err != nil {
				return err
			}
			if serr != nil {
				return serr
			}
			_, err = c.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(usV4, Port))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		l.eventually(5*time.Second, fmt.Sprintf("TTL %d counted as %s", tc.ttl, tc.reason), func() error {
			if got := dropped(tc.reason); got != before+1 {
				return fmt.Errorf("dropped{reason=%q} = %v, want %v", tc.reason, got, before+1)
			}
			return nil
		})
	}
	if s, _ := l.session(keyV4); s.State != StateUp || s.LocalDiag != DiagNone {
		t.Fatalf("session %s (%s) after the forged packets, want Up", s.State, s.LocalDiag)
	}
}

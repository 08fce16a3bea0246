//go:build lab

package bgp_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The lab: a router namespace running FRR's zebra and bgpd, and a node
// namespace for the speaker, joined by one veth link (LAB.md). Addresses are
// documentation ranges only.
const (
	labPrefix = "ilbbgp-" // every namespace and state directory of these tests
	frrDir    = "/usr/lib/frr"

	routerASN = 64512
	nodeASN   = 64513
)

var labStateRoot = filepath.Join(os.TempDir(), "ironlb-bgp-lab")

type lab struct {
	t            testing.TB
	router, node string // namespace names
	// extra are more namespaces of the lab (a transit router), removed
	// with it.
	extra []string
	dir   string // FRR state directory (pid files, vty socket, logs)
	// bfdd also runs FRR's BFD daemon, for "neighbor ... bfd".
	bfdd bool
}

// newLab creates the namespaces, the link and its addresses, and starts FRR
// with frrConf. Everything is removed by t.Cleanup.
func newLab(t testing.TB, routerAddrs, nodeAddrs []string, frrConf string) *lab {
	t.Helper()
	l := newNamespaces(t)
	l.link(l.router, "eth0", routerAddrs, l.node, "eth0", nodeAddrs)
	l.startFRR(frrConf)
	return l
}

// newNamespaces creates the router and node namespaces, unconnected.
func newNamespaces(t testing.TB) *lab {
	t.Helper()
	requireLabTools(t)
	removeStaleLabs(t)
	id := randomID(t)
	l := &lab{t: t, router: labPrefix + id + "-r", node: labPrefix + id + "-n", dir: filepath.Join(labStateRoot, id)}
	t.Cleanup(l.destroy)
	for _, ns := range []string{l.router, l.node} {
		l.addNamespace(ns)
	}
	return l
}

func (l *lab) addNamespace(ns string) {
	run(l.t, "ip", "netns", "add", ns)
	run(l.t, "ip", "-n", ns, "link", "set", "lo", "up")
}

// link joins two namespaces with a veth pair, with these names and
// addresses on each side, and brings it up.
func (l *lab) link(ns1, dev1 string, addrs1 []string, ns2, dev2 string, addrs2 []string) {
	t := l.t
	run(t, "ip", "link", "add", dev1, "netns", ns1, "type", "veth", "peer", "name", dev2, "netns", ns2)
	for _, side := range []struct {
		ns, dev string
		addrs   []string
	}{{ns1, dev1, addrs1}, {ns2, dev2, addrs2}} {
		for _, a := range side.addrs {
			args := []string{"-n", side.ns, "addr", "add", a, "dev", side.dev}
			if strings.Contains(a, ":") {
				args = append(args, "nodad") // usable at once, no duplicate address detection wait
			}
			run(t, "ip", args...)
		}
		run(t, "ip", "-n", side.ns, "link", "set", side.dev, "up")
	}
}

func (l *lab) startFRR(conf string) {
	t := l.t
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf = fmt.Sprintf("frr defaults datacenter\nhostname r1\nlog file %s/frr.log\n%s", l.dir, conf)
	if err := os.WriteFile(filepath.Join(l.dir, "frr.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "chown", "-R", "frr:frr", l.dir)
	common := []string{"-d", "-F", "datacenter", "--vty_socket", l.dir, "-z", filepath.Join(l.dir, "zserv.api"), "-u", "frr", "-g", "frr"}
	run(t, "ip", append([]string{"netns", "exec", l.router, frrDir + "/zebra", "-i", filepath.Join(l.dir, "zebra.pid"), "-f", "/dev/null"}, common...)...)
	if l.bfdd {
		// Before bgpd, so bgpd's BFD registrations find it.
		run(t, "ip", append([]string{"netns", "exec", l.router, frrDir + "/bfdd", "-i", filepath.Join(l.dir, "bfdd.pid"), "-f", "/dev/null",
			"--bfdctl", filepath.Join(l.dir, "bfdd.sock")}, common...)...)
	}
	run(t, "ip", append([]string{"netns", "exec", l.router, frrDir + "/bgpd", "-i", filepath.Join(l.dir, "bgpd.pid"), "-f", filepath.Join(l.dir, "frr.conf")}, common...)...)
	eventually(t, 10*time.Second, func() error {
		_, err := l.vtysh("show bgp summary")
		return err
	})
}

// vtysh runs one show command on the router.
func (l *lab) vtysh(cmd string) ([]byte, error) {
	out, err := exec.Command("ip", "netns", "exec", l.router, "vtysh", "--vty_socket", l.dir, "-c", cmd).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("vtysh -c %q: %w: %s", cmd, err, out)
	}
	return out, nil
}

// vtyshJSON runs a "... json" show command and decodes its output.
func (l *lab) vtyshJSON(cmd string, v any) error {
	out, err := l.vtysh(cmd)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("decoding %q: %w: %s", cmd, err, out)
	}
	return nil
}

func (l *lab) destroy() {
	if l.t.Failed() {
		if b, err := os.ReadFile(filepath.Join(l.dir, "frr.log")); err == nil {
			l.t.Logf("FRR log:\n%s", tail(b, 60))
		}
	}
	killLab(l.dir)
	for _, ns := range append([]string{l.router, l.node}, l.extra...) {
		killNamespace(ns)
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	_ = os.RemoveAll(l.dir)
}

// removeStaleLabs cleans up what a crashed run of these tests left behind:
// its FRR daemons (by their pid files), the processes in its namespaces, the
// namespaces and the state directories. Only names with labPrefix are touched.
func removeStaleLabs(t testing.TB) {
	entries, _ := os.ReadDir(labStateRoot)
	for _, e := range entries {
		killLab(filepath.Join(labStateRoot, e.Name()))
		_ = os.RemoveAll(filepath.Join(labStateRoot, e.Name()))
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if ns, _, _ := strings.Cut(line, " "); strings.HasPrefix(ns, labPrefix) {
			killNamespace(ns)
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	}
}

// killLab stops the FRR daemons of a lab by their pid files.
func killLab(dir string) {
	for _, daemon := range []string{"bfdd", "bgpd", "zebra"} {
		b, err := os.ReadFile(filepath.Join(dir, daemon+".pid"))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			killAndWait(pid)
		}
	}
}

// killNamespace ends the processes this test started in one of its
// namespaces (the speaker agent), by pid.
func killNamespace(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			killAndWait(pid)
		}
	}
}

func killAndWait(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 50; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func requireLabTools(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the BGP lab needs root (network namespaces)")
	}
	for _, p := range []string{frrDir + "/bgpd", frrDir + "/zebra"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("FRR is not installed (%v): run DEBIAN_FRONTEND=noninteractive apt-get install -y frr", err)
		}
	}
	if _, err := exec.LookPath("vtysh"); err != nil {
		t.Fatalf("vtysh not found: install the frr package: %v", err)
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func randomID(t testing.TB) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// eventually retries f until it succeeds or timeout passes, then fails the
// test with f's last error.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(b []byte, lines int) []byte {
	ls := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return bytes.Join(ls, []byte("\n"))
}

package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options say what to bring up besides the network and the API server.
type Options struct {
	// Binaries to run. Nil starts neither controller nor speakers (to test the
	// harness itself, or to start them one by one).
	Binaries *Binaries
	// NoController leaves the controller out even when Binaries is set; a test
	// then writes Service status itself.
	NoController bool
	// Router, when set, adds the router namespace running FRR with this config.
	Router *RouterConfig
	// SecondLAN gives every node and the client an eth1 on a second bridge.
	SecondLAN bool
	// SpeakerArgs are extra flags for every speaker.
	SpeakerArgs []string
	// SpeakerEnv are extra environment variables for every speaker
	// ("NAME=value"), after and over the lab's own.
	SpeakerEnv []string
	// Nodes are the node names; default node-a, node-b, node-c.
	Nodes []string
	// Cluster, when set, makes every node a real kubelet node and leaves
	// IronLB to the test; Binaries must then be nil.
	Cluster *ClusterOptions
	// Logf receives progress lines; nil is silent.
	Logf func(format string, args ...any)
}

// Lab is a running lab. Its exported fields are set by Start and read-only.
type Lab struct {
	// Nodes run one speaker each, in namespace order.
	Nodes []*Node
	// Client is where arping, ndisc6 and the ARP watcher run.
	Client *Host
	// Router is the FRR router, nil unless Options.Router was set.
	Router *Router
	// Remote is a client behind the router, on a network of its own: it
	// reaches a VIP only through the routes the router learnt over BGP. Nil
	// unless Options.Router was set.
	Remote *Host
	// Kube is a client of the lab's API server with the IronLB types, acting
	// as cluster admin.
	Kube client.Client
	// RESTConfig is the admin config Kube uses.
	RESTConfig *rest.Config
	// Kubeconfig is the path of a kubeconfig for the API server's address on
	// the lab LAN, used by the controller, the speakers and kubectl.
	Kubeconfig string
	// Dir holds logs, configs and state of this lab.
	Dir string

	opts       Options
	prefix     string
	switchNS   string
	rootLink   string
	api        *apiServer
	cluster    *clusterState
	controller *process
	lock       *os.File
	undo       []func(context.Context) error
	procs      []*process
	closed     atomic.Bool
}

// MemberlistKey is the shared secret of the lab's speakers.
const MemberlistKey = "ironlb-lab-memberlist-key"

// baseDir holds one work directory per lab; whatever is in it when the lock
// is taken was left by a crashed run.
var baseDir = filepath.Join(os.TempDir(), "ironlb-lab")

// lockPath serializes labs on one machine: they share the root namespace
// link addresses.
const lockPath = "/run/lock/ironlb-lab.lock"

var labCount atomic.Int32

// Start builds the lab. On error everything built so far is removed.
func Start(ctx context.Context, opts Options) (_ *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the lab needs root (network namespaces, raw sockets)")
	}
	if opts.Cluster != nil && opts.Binaries != nil {
		return nil, errors.New("a cluster lab runs IronLB as pods: leave Binaries nil")
	}
	if len(opts.Nodes) == 0 {
		opts.Nodes = []string{"node-a", "node-b", "node-c"}
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	l := &Lab{opts: opts}
	l.prefix = fmt.Sprintf("ilb%dx%d-", os.Getpid(), labCount.Add(1))
	l.switchNS = l.prefix + "switch"
	l.rootLink = strings.TrimSuffix(l.prefix, "-")
	if len(l.rootLink) > 15 {
		return nil, fmt.Errorf("link name %q too long", l.rootLink)
	}
	if err := l.takeLock(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	if err := removeStale(ctx, opts.Logf); err != nil {
		return nil, err
	}
	l.Dir = filepath.Join(baseDir, l.rootLink)
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"network", l.buildNetwork},
		{"API server", l.startAPIServer},
		{"nodes", l.createNodes},
		{"cluster", l.startCluster},
		{"router", l.startRouter},
		{"controller", l.startController},
		{"speakers", l.startSpeakers},
	}
	for _, s := range steps {
		begin := time.Now()
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("lab %s: %w", s.name, err)
		}
		opts.Logf("lab: %s ready in %v", s.name, time.Since(begin).Round(time.Millisecond))
	}
	return l, nil
}

// New starts a lab for a test or benchmark and removes it when tb ends. When
// tb failed, the tail of every process log is printed first.
func New(tb testing.TB, opts Options) *Lab {
	tb.Helper()
	if opts.Logf == nil {
		opts.Logf = tb.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := Start(ctx, opts)
	if err != nil {
		tb.Fatalf("starting the lab: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			l.DumpLogs(tb.Logf)
		}
		if err := l.Close(); err != nil {
			tb.Errorf("removing the lab: %v", err)
		}
	})
	return l
}

// DumpLogs prints the last lines of every process log.
func (l *Lab) DumpLogs(logf func(string, ...any)) {
	logs, _ := filepath.Glob(filepath.Join(l.Dir, "*.log"))
	for _, p := range logs {
		n := 60
		if strings.HasSuffix(p, "kube-apiserver.log") {
			n = 10 // rarely the culprit, and very chatty
		}
		logf("==== %s (last %d lines)\n%s", p, n, tail(p, n))
	}
}

// buildNetwork creates the switch, the hosts and the root link.
func (l *Lab) buildNetwork(ctx context.Context) error {
	l.onClose(func(ctx context.Context) error { return l.deleteNetwork(ctx) })
	if err := makeSwitch(ctx, l.switchNS, l.opts.SecondLAN); err != nil {
		return err
	}
	for i, name := range l.opts.Nodes {
		n := &Node{Host: *newHost(l.prefix, name, byte(11+i)), lab: l}
		if err := n.plug(ctx, l.switchNS, l.opts.SecondLAN); err != nil {
			return err
		}
		l.Nodes = append(l.Nodes, n)
	}
	l.Client = newHost(l.prefix, "client", 100)
	if err := l.Client.plug(ctx, l.switchNS, l.opts.SecondLAN); err != nil {
		return err
	}
	if l.opts.Router != nil {
		l.Router = &Router{Host: *newHost(l.prefix, "router", 1)}
		if err := l.Router.plug(ctx, l.switchNS, false); err != nil {
			return err
		}
		remote, err := l.plugRemote(ctx)
		if err != nil {
			return err
		}
		l.Remote = remote
	}
	return plugRoot(ctx, l.rootLink, l.switchNS)
}

// deleteNetwork removes the namespaces (and with them every veth) and the
// root link.
func (l *Lab) deleteNetwork(ctx context.Context) error {
	var errs []error
	names, err := listNetns(ctx)
	if err != nil {
		return err
	}
	for _, ns := range names {
		if strings.HasPrefix(ns, l.prefix) {
			errs = append(errs, deleteNetns(ctx, ns))
		}
	}
	// The root link goes with its peer in the switch namespace, but the
	// kernel takes a moment; delete it only if it stays.
	gone := func(context.Context) error {
		if _, err := os.Stat("/sys/class/net/" + l.rootLink); err == nil {
			return fmt.Errorf("link %s still there", l.rootLink)
		}
		return nil
	}
	if Poll(ctx, 2*time.Second, 20*time.Millisecond, gone) != nil {
		if err := ip(ctx, "link", "del", l.rootLink); err != nil && gone(ctx) != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// onClose registers an undo step; Close runs them last first.
func (l *Lab) onClose(f func(context.Context) error) { l.undo = append(l.undo, f) }

// track adds a process that Close must stop.
func (l *Lab) track(p *process) { l.procs = append(l.procs, p) }

// Close stops every process and removes everything the lab created. It is
// idempotent.
func (l *Lab) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	// Speakers first and at once: a SIGTERMed speaker hands its addresses to
	// the others, which is pointless here and slows the teardown.
	for _, p := range l.procs {
		errs = append(errs, p.kill())
	}
	for i := len(l.undo) - 1; i >= 0; i-- {
		errs = append(errs, l.undo[i](ctx))
	}
	if l.Dir != "" {
		errs = append(errs, os.RemoveAll(l.Dir))
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	return errors.Join(errs...)
}

// takeLock waits for the machine-wide lab lock. The kernel drops it when the
// holder dies, so a crashed run never blocks the next one.
func (l *Lab) takeLock(ctx context.Context) error {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			l.lock = f
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("locking %s: %w", lockPath, err)
		}
		l.opts.Logf("lab: waiting for another lab on this machine to finish")
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// staleName matches what a lab names its namespaces and root link.
var staleName = regexp.MustCompile(`^ilb[0-9]+x[0-9]+(-|$)`)

// removeStale deletes what crashed runs left: processes started from a lab
// work directory, containers in a lab node's cgroup, lab namespaces (killing
// what runs in them), root links, mounts and work directories. It runs with
// the lock held, so nothing of it is in use.
func removeStale(ctx context.Context, logf func(string, ...any)) error {
	for _, pid := range processesMentioning(baseDir + "/") {
		logf("lab: killing stale process %d", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	mounts, _ := cgroupMounts()
	for _, m := range mounts {
		entries, _ := os.ReadDir(m)
		for _, e := range entries {
			if e.IsDir() && staleName.MatchString(e.Name()) {
				logf("lab: removing stale cgroup %s", e.Name())
				killCgroup(e.Name())
				_ = removeCgroup(e.Name())
			}
		}
	}
	names, _ := listNetns(ctx)
	for _, ns := range names {
		if staleName.MatchString(ns) {
			logf("lab: deleting stale namespace %s", ns)
			_ = deleteNetns(ctx, ns)
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, e := range links {
		if staleName.MatchString(e.Name()) {
			logf("lab: deleting stale link %s", e.Name())
			_ = ip(ctx, "link", "del", e.Name())
		}
	}
	if err := unmountUnder(baseDir); err != nil {
		return err
	}
	return os.RemoveAll(baseDir)
}

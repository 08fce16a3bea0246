//go:build envtest

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kcapi "k8s.io/client-go/tools/clientcmd/api"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Leader-election timings of the replicas: a SIGKILLed leader's Lease runs
// out haLeaseDuration after a standby last saw it renewed, and the standby,
// polling every haRetryPeriod, takes it over about 1.5-2.5 s after the kill.
// A leader that cannot renew stops within haRetryPeriod + haRenewDeadline
// (1.25 s) of its last renewal, before any standby may take over.
const (
	haLeaseDuration = 2 * time.Second
	haRenewDeadline = 1 * time.Second
	haRetryPeriod   = 250 * time.Millisecond

	// haLastWork is how long the last leader serves the load before the
	// load stops.
	haLastWork = 3 * time.Second
	// haBudget bounds the whole test once the binary is built.
	haBudget = 100 * time.Second
	// haLeaseName is the Lease ironlb-controller elects its leader with
	// (LeaderElectionID in cmd/controller).
	haLeaseName = "ironlb-controller"
)

// haLeaderWork is how long each leader serves the load before it is
// SIGKILLed, one entry per kill: some long enough to hold state of their own
// to lose, some killed as soon as they lead, while they restore.
var haLeaderWork = []time.Duration{3 * time.Second, 0, 2 * time.Second, 500 * time.Millisecond, 3 * time.Second, 0}

// The pool's two entries: 64 IPv4 and 256 IPv6 documentation addresses.
// The load keeps at most haMaxLive Services, so a Service never waits for an
// address for want of one; released addresses are handed out again at once
// (the allocator reuses the last released first), which is what makes an
// address held twice likely to show.
var haPoolAddresses = []string{"203.0.113.64/26", "2001:db8:4a::/120"}

const (
	haPoolSizeIPv4 = 64
	haPoolSizeIPv6 = 256
	haMinLive      = 15
	haMaxLive      = 35
	haAnchors      = 6
)

// TestHALeaderKilledUnderLoad runs two ironlb-controller processes (the built
// binary) with leader election against the test API server while a load
// creates and deletes LoadBalancer Services without pause. The leader is
// SIGKILLed len(haLeaderWork) times, each time replaced by a new process, so two
// replicas always run. An observer follows every Service of the test through
// one watch, so it sees the API server's state at each revision in order,
// and checks:
//
//  1. no address is ever in the status of two live Services at once;
//  2. a Service's addresses never change while it exists: once it shows an
//     ingress, it shows exactly that until it is deleted;
//  3. at the end, every surviving Service has its addresses and the pool's
//     status counts what they hold.
//
// Nothing asserts how long anything took.
func TestHALeaderKilledUnderLoad(t *testing.T) {
	bin := haControllerBinary(t)
	started := time.Now()
	budget, cancelBudget := context.WithTimeout(context.Background(), haBudget)
	defer cancelBudget()

	ns := newNamespace(t)
	cs, err := kubernetes.NewForConfig(haClientConfig())
	if err != nil {
		t.Fatalf("creating clientset: %v", err)
	}
	obs := startObserver(t, cs, ns)

	reps := &haReplicas{t: t, bin: bin, kubeconfig: haKubeconfig(t), ns: ns, dir: haLogDir(t)}
	t.Cleanup(reps.stopAll) // registered first: runs after the pool is gone
	reps.start()
	reps.start()

	const poolName = "it-ha"
	createPool(t, poolName, haPoolAddresses)
	t.Cleanup(func() { haDeleteServices(t, ns) }) // before the pool's cleanup
	t.Cleanup(func() {
		if t.Failed() {
			reps.dumpLogs(obs.suspectIPs())
		}
	})

	// Anchors live through every hand-over: each must keep its addresses.
	load := &haLoad{t: t, ns: ns, pool: poolName, live: map[string]bool{}}
	for i := range haAnchors {
		load.create(fmt.Sprintf("anchor-%d", i), true)
	}
	eventuallyWithin(t, 30*time.Second, "the anchors get addresses", func() error {
		return obs.allHaveIPs(load.anchorNames())
	})
	anchorIPs := obs.ipsOf(load.anchorNames())

	loadCtx, stopLoad := context.WithCancel(budget)
	var loadDone sync.WaitGroup
	for w := range 3 {
		loadDone.Add(1)
		go func() {
			defer loadDone.Done()
			load.run(loadCtx, rand.New(rand.NewPCG(uint64(w), uint64(started.UnixNano()))))
		}()
	}
	stopLoadOnce := sync.OnceFunc(func() { stopLoad(); loadDone.Wait() })
	defer stopLoadOnce()

	var handovers []time.Duration
	for i, work := range haLeaderWork {
		kill := i + 1
		leader, identity := reps.waitLeader(budget)
		obs.mark(fmt.Sprintf("leader %s (%s)", leader.name, identity))
		reps.sleep(budget, work)
		if budget.Err() != nil {
			t.Fatalf("out of time before kill %d", kill)
		}
		if holder, err := haLeaseHolder(ns); err != nil || holder != identity || leader.exited() {
			t.Logf("before kill %d: %s (%s) no longer holds the Lease: held by %q (err %v), exited %t",
				kill, leader.name, identity, holder, err, leader.exited())
		}
		obs.mark(fmt.Sprintf("hand-over %d: %s SIGKILLed, no leader known yet", kill, leader.name))
		killedAt := time.Now()
		reps.kill(leader)
		reps.start()
		held := reps.waitHolderChange(budget, identity)
		next, _ := reps.waitLeader(budget)
		handovers = append(handovers, held.Sub(killedAt))
		t.Logf("hand-over %d: killed %s; the Lease changed hands after %s, %s leads after %s", kill, leader.name,
			held.Sub(killedAt).Round(10*time.Millisecond), next.name, time.Since(killedAt).Round(10*time.Millisecond))
	}
	// The last leader serves the load a little, then the load stops and
	// everything left must settle.
	last, _ := reps.waitLeader(budget)
	obs.mark("leader " + last.name + " (last)")
	reps.sleep(budget, haLastWork)
	stopLoadOnce()
	obs.mark("load stopped")

	survivors := load.liveNames()
	eventuallyWithin(t, 30*time.Second, "every surviving Service shows its addresses", func() error {
		return obs.allHaveIPs(survivors)
	})
	for name, ips := range obs.ipsOf(load.anchorNames()) {
		if !slices.Equal(ips, anchorIPs[name]) {
			t.Errorf("anchor %s/%s showed %v before the first kill and %v at the end", ns, name, anchorIPs[name], ips)
		}
	}
	haCheckStored(t, ns, poolName, survivors, obs)
	eventuallyWithin(t, 30*time.Second, "pool "+poolName+" counts what the surviving Services hold", func() error {
		return haCheckPoolCounts(ns, poolName)
	})
	reps.checkExits()

	viol, stats := obs.finish()
	for _, v := range viol {
		t.Error(v)
	}
	created, deleted, createErrs := load.counts()
	t.Logf("%d Services created (%d anchors), %d deleted, %d survive; %d got addresses, %d watch events; "+
		"%d leaders SIGKILLed, hand-overs took %v; %d replicas started in all, %d stopped by themselves; %s in all",
		created, haAnchors, deleted, len(survivors), stats.assigned, stats.events,
		len(handovers), roundAll(handovers), reps.startedCount(), len(reps.selfExits()), time.Since(started).Round(100*time.Millisecond))
	if createErrs > 0 {
		t.Errorf("%d Service creates or deletes failed (see the log above)", createErrs)
	}
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}

// --- the controller binary and its replicas ---

// haControllerBinary builds ironlb-controller into the test's temporary
// directory; IRONLB_TEST_CONTROLLER names a prebuilt binary instead.
func haControllerBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("IRONLB_TEST_CONTROLLER"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "ironlb-controller")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ironlb/ironlb/cmd/controller").CombinedOutput()
	if err != nil {
		t.Fatalf("building ironlb-controller: %v\n%s", err, out)
	}
	return bin
}

// haLogDir is where the replicas' logs go: IRONLB_HA_LOG_DIR to keep them,
// else the test's temporary directory.
func haLogDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IRONLB_HA_LOG_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("replica logs in %s", dir)
	return dir
}

// haClientConfig is the test API server's config with a client-side rate
// limit the observer never reaches.
func haClientConfig() *rest.Config {
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg
}

// haKubeconfig writes the suite's admin credentials as a kubeconfig for the
// controller processes.
func haKubeconfig(t *testing.T) string {
	t.Helper()
	const name = "envtest"
	cfg := kcapi.NewConfig()
	cfg.Clusters[name] = &kcapi.Cluster{Server: restConfig.Host, CertificateAuthorityData: restConfig.CAData}
	cfg.AuthInfos[name] = &kcapi.AuthInfo{
		ClientCertificateData: restConfig.CertData, ClientKeyData: restConfig.KeyData, Token: restConfig.BearerToken,
	}
	cfg.Contexts[name] = &kcapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatalf("writing kubeconfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// haProc is one ironlb-controller process.
type haProc struct {
	name        string
	cmd         *exec.Cmd
	metricsAddr string
	logPath     string
	done        chan struct{} // closed once it exited
	killed      bool          // by the test; guarded by haReplicas.mu
	replaced    bool          // exited by itself and was replaced
	err         error         // Wait's result, set before done is closed
}

func (p *haProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// leading asks the process's metrics whether it holds the Lease.
func (p *haProc) leading() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "leader_election_master_status{") && strings.Contains(line, `name="`+haLeaseName+`"`) {
			return strings.HasSuffix(line, " 1")
		}
	}
	return false
}

// haReplicas runs the controller processes.
type haReplicas struct {
	t          *testing.T
	bin        string
	kubeconfig string
	ns         string
	dir        string

	mu    sync.Mutex
	procs []*haProc // every process started, in order
}

func (r *haReplicas) start() *haProc {
	r.t.Helper()
	r.mu.Lock()
	name := fmt.Sprintf("replica-%d", len(r.procs)+1)
	r.mu.Unlock()
	addrs := haFreeAddrs(r.t, 2)
	p := &haProc{
		name:        name,
		metricsAddr: addrs[0],
		logPath:     filepath.Join(r.dir, name+".log"),
		done:        make(chan struct{}),
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		r.t.Fatal(err)
	}
	p.cmd = exec.Command(r.bin,
		"--kubeconfig", r.kubeconfig,
		"--leader-elect=true",
		"--leader-election-namespace", r.ns,
		"--leader-elect-lease-duration", haLeaseDuration.String(),
		"--leader-elect-renew-deadline", haRenewDeadline.String(),
		"--leader-elect-retry-period", haRetryPeriod.String(),
		"--webhook-mode=disabled",
		"--metrics-bind-address", p.metricsAddr,
		"--health-probe-bind-address", addrs[1],
		"--zap-log-level", "info",
	)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		r.t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p
}

// haFreeAddrs returns n loopback addresses with distinct ports free at the
// moment: each is held until all are found, so none is handed out twice.
func haFreeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// running returns the processes that have not exited.
func (r *haReplicas) running() []*haProc {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*haProc
	for _, p := range r.procs {
		if !p.exited() {
			out = append(out, p)
		}
	}
	return out
}

// keepTwo replaces a replica that stopped by itself (say, one that lost its
// Lease under load and exited, as controller-runtime does), so two run.
func (r *haReplicas) keepTwo() {
	r.t.Helper()
	for len(r.running()) < 2 {
		for _, p := range r.selfExits() {
			if !p.replaced {
				p.replaced = true
				r.t.Logf("%s exited by itself (%v); starting a replacement", p.name, p.err)
			}
		}
		r.start()
	}
}

// selfExits are the processes that exited without being killed by the test.
func (r *haReplicas) selfExits() []*haProc {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*haProc
	for _, p := range r.procs {
		if p.exited() && !p.killed {
			out = append(out, p)
		}
	}
	return out
}

func (r *haReplicas) startedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.procs)
}

// checkExits fails the test for every process that stopped by itself for a
// reason other than a lost Lease.
func (r *haReplicas) checkExits() {
	r.t.Helper()
	for _, p := range r.selfExits() {
		switch log := haReadFile(p.logPath); {
		case strings.Contains(log, "leader election lost"):
			r.t.Logf("%s lost its Lease and exited (%v); it was replaced", p.name, p.err)
		case strings.Contains(log, "address already in use"):
			// Another process took a port between haFreeAddrs and the
			// replica's bind.
			r.t.Logf("%s found a port taken and exited (%v); it was replaced", p.name, p.err)
		default:
			r.t.Errorf("%s exited by itself (%v), not after losing its Lease; its log ends:\n%s", p.name, p.err, haTail(log, 30))
		}
	}
}

// waitLeader waits until exactly one running process says it leads, and
// returns it with the Lease's holder identity.
func (r *haReplicas) waitLeader(ctx context.Context) (*haProc, string) {
	r.t.Helper()
	var leader *haProc
	var identity string
	reported := false
	eventuallyWithin(r.t, haDeadline(ctx), "a leader among "+haNames(r.running()), func() error {
		r.keepTwo()
		var leading []*haProc
		for _, p := range r.running() {
			if p.leading() {
				leading = append(leading, p)
			}
		}
		if len(leading) > 1 && !reported {
			reported = true
			r.t.Logf("%s all say they lead", haNames(leading))
		}
		if len(leading) != 1 {
			return fmt.Errorf("leading: %s", haNames(leading))
		}
		holder, err := haLeaseHolder(r.ns)
		if err != nil {
			return err
		}
		leader, identity = leading[0], holder
		return nil
	})
	return leader, identity
}

// waitHolderChange waits until the Lease names a holder other than
// previous, and returns when it saw that.
func (r *haReplicas) waitHolderChange(ctx context.Context, previous string) time.Time {
	r.t.Helper()
	eventuallyWithin(r.t, haDeadline(ctx), "a new Lease holder after "+previous, func() error {
		r.keepTwo()
		holder, err := haLeaseHolder(r.ns)
		if err != nil {
			return err
		}
		if holder == "" || holder == previous {
			return fmt.Errorf("the Lease is held by %q", holder)
		}
		return nil
	})
	return time.Now()
}

func haLeaseHolder(ns string) (string, error) {
	var l coordinationv1.Lease
	if err := k8s.Get(ctx(), client.ObjectKey{Namespace: ns, Name: haLeaseName}, &l); err != nil {
		return "", err
	}
	if l.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *l.Spec.HolderIdentity, nil
}

// kill SIGKILLs p and waits until it is gone.
func (r *haReplicas) kill(p *haProc) {
	r.t.Helper()
	r.mu.Lock()
	p.killed = !p.exited()
	r.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Fatalf("killing %s: %v", p.name, err)
	}
	<-p.done
}

// sleep waits d, keeping two replicas running meanwhile.
func (r *haReplicas) sleep(ctx context.Context, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		r.keepTwo()
		time.Sleep(100 * time.Millisecond)
	}
}

// stopAll stops the running processes the way Kubernetes does: SIGTERM,
// then SIGKILL.
func (r *haReplicas) stopAll() {
	for _, p := range r.running() {
		r.mu.Lock()
		p.killed = true
		r.mu.Unlock()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range r.running() {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
}

// dumpLogs prints, for a failed test, each process's log lines that name
// one of ips (the first few a violation named), and its last lines.
func (r *haReplicas) dumpLogs(ips []string) {
	if len(ips) > 4 {
		ips = ips[:4]
	}
	r.mu.Lock()
	procs := slices.Clone(r.procs)
	r.mu.Unlock()
	for _, p := range procs {
		lines := strings.Split(strings.TrimRight(haReadFile(p.logPath), "\n"), "\n")
		var hits []string
		for _, line := range lines {
			if strings.Contains(line, "Restored assigned addresses") || strings.Contains(line, "successfully acquired lease") ||
				slices.ContainsFunc(ips, func(ip string) bool { return strings.Contains(line, `"`+ip+`"`) }) {
				hits = append(hits, haBrief(line))
			}
		}
		if len(hits) > 25 {
			hits = hits[len(hits)-25:]
		}
		var tail []string
		for _, line := range lines[max(0, len(lines)-8):] {
			tail = append(tail, haBrief(line))
		}
		status := "running"
		if p.exited() {
			status = fmt.Sprintf("exited (%v, killed by the test: %t)", p.err, p.killed)
		}
		r.t.Logf("%s, %s; lines naming %v:\n%s\nlast lines:\n%s", p.name, status, ips, strings.Join(hits, "\n"), strings.Join(tail, "\n"))
	}
}

// haBrief shortens one of the controller's JSON log lines to what tells
// what happened.
func haBrief(line string) string {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return line[:min(len(line), 300)]
	}
	out := fmt.Sprint(m["ts"], " ", m["level"], " ", m["msg"])
	for _, k := range []string{"namespace", "name", "ips", "pool", "services", "notRestored", "error", "lock"} {
		if v, ok := m[k]; ok {
			out += fmt.Sprintf(" %s=%v", k, v)
		}
	}
	return out
}

func haReadFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func haTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func haNames(ps []*haProc) string {
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, p.name)
	}
	return "[" + strings.Join(names, " ") + "]"
}

// haDeadline is what is left of ctx's time, at least a second.
func haDeadline(ctx context.Context) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return waitTimeout
	}
	return max(time.Until(d), time.Second)
}

// --- the load ---

// haLoad creates and deletes the test's Services.
type haLoad struct {
	t    *testing.T
	ns   string
	pool string

	mu      sync.Mutex
	seq     int
	live    map[string]bool // name -> anchor
	order   []string        // live churn Services, oldest first
	created int
	deleted int
	errs    int
}

// run creates and deletes Services until ctx ends, keeping between
// haMinLive and haMaxLive alive. Some are deleted right after their
// creation, likely before or while they are being assigned an address.
func (l *haLoad) run(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		l.mu.Lock()
		n := len(l.live)
		l.mu.Unlock()
		switch {
		case n < haMinLive || (n < haMaxLive && rng.IntN(100) < 55):
			l.mu.Lock()
			l.seq++
			name := fmt.Sprintf("svc-%04d", l.seq)
			l.mu.Unlock()
			l.create(name, false)
		default:
			l.deleteOne(rng)
		}
		time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond)
	}
}

// create makes a LoadBalancer Service drawing from the pool: half IPv4 only,
// the rest IPv6 only, dual-stack required or dual-stack preferred.
func (l *haLoad) create(name string, anchor bool) {
	fam := func(*corev1.Service) {} // the cluster's default: IPv4 only
	switch h := haHash(name) % 10; {
	case h < 2:
		fam = families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)
	case h < 4:
		fam = requireDualStack()
	case h < 5:
		fam = families(corev1.IPFamilyPolicyPreferDualStack, corev1.IPv6Protocol, corev1.IPv4Protocol)
	}
	svc := lbService(l.ns, name, fromPool(l.pool), fam)
	// Not ctx: a request cut short when the load stops may still have
	// been carried out, and the load must know what it left.
	if err := k8s.Create(context.Background(), svc); err != nil {
		l.fail("creating %s/%s: %v", l.ns, name, err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.created++
	l.live[name] = anchor
	if !anchor {
		l.order = append(l.order, name)
	}
}

// deleteOne deletes a churn Service: a third of the time the newest, else
// any; a fifth of them are created again at once under the same name.
func (l *haLoad) deleteOne(rng *rand.Rand) {
	l.mu.Lock()
	if len(l.order) == 0 {
		l.mu.Unlock()
		return
	}
	i := rng.IntN(len(l.order))
	if rng.IntN(3) == 0 {
		i = len(l.order) - 1
	}
	name := l.order[i]
	l.order = slices.Delete(l.order, i, i+1)
	delete(l.live, name)
	l.mu.Unlock()
	err := k8s.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: name}})
	if err != nil {
		l.fail("deleting %s/%s: %v", l.ns, name, err)
		return
	}
	l.mu.Lock()
	l.deleted++
	l.mu.Unlock()
	// Now and then a Service comes straight back under the same name, as
	// with kubectl replace --force: a new object the controller may still
	// know by its old one's name.
	if rng.IntN(5) == 0 {
		l.create(name, false)
	}
}

func (l *haLoad) fail(format string, args ...any) {
	l.mu.Lock()
	l.errs++
	l.mu.Unlock()
	l.t.Logf(format, args...)
}

func (l *haLoad) liveNames() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.live))
	for name := range l.live {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (l *haLoad) anchorNames() []string {
	out := make([]string, haAnchors)
	for i := range out {
		out[i] = fmt.Sprintf("anchor-%d", i)
	}
	return out
}

func (l *haLoad) counts() (created, deleted, errs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.created, l.deleted, l.errs
}

func haHash(s string) int {
	h := 0
	for _, c := range s {
		h = h*31 + int(c)
	}
	return max(h, -h)
}

// haDeleteServices deletes the namespace's Services and waits until they
// are gone, so the pool can go.
func haDeleteServices(t *testing.T, ns string) {
	t.Helper()
	var list corev1.ServiceList
	if err := k8s.List(ctx(), &list, client.InNamespace(ns)); err != nil {
		t.Errorf("listing services: %v", err)
		return
	}
	for i := range list.Items {
		if err := k8s.Delete(ctx(), &list.Items[i]); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting service %s/%s: %v", ns, list.Items[i].Name, err)
		}
	}
}

// --- the observer ---

// haObserved is one Service as the observer last saw it.
type haObserved struct {
	name  string
	ips   []string // sorted; empty until it shows an ingress
	since string   // resourceVersion at which it first showed ips
	phase string   // what the test was doing then
}

type haStats struct {
	assigned int // Services that showed an ingress
	events   int
}

// haObserver follows the namespace's Services through one watch and checks
// the invariants at every revision.
type haObserver struct {
	ns      string
	stop    chan struct{} // closed to end the watch
	stopped chan struct{}
	pool    []netip.Prefix

	mu         sync.Mutex
	phase      string
	byUID      map[types.UID]*haObserved
	owners     map[string][]types.UID // ip -> the live Services showing it
	violations []string
	suspects   []string // IPs named by a violation, first named first
	stats      haStats
	watchErr   error
}

func startObserver(t *testing.T, cs kubernetes.Interface, ns string) *haObserver {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	o := &haObserver{
		ns: ns, stop: make(chan struct{}), stopped: make(chan struct{}), phase: "start",
		byUID: map[types.UID]*haObserved{}, owners: map[string][]types.UID{},
	}
	for _, a := range haPoolAddresses {
		o.pool = append(o.pool, netip.MustParsePrefix(a))
	}
	list, err := cs.CoreV1().Services(ns).List(c, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing services: %v", err)
	}
	for i := range list.Items {
		o.apply(watch.Added, &list.Items[i])
	}
	w, err := watchtools.NewRetryWatcherWithContext(c, list.ResourceVersion, haServiceWatcher{cs: cs, ns: ns})
	if err != nil {
		t.Fatalf("watching services: %v", err)
	}
	go func() {
		defer close(o.stopped)
		defer w.Stop()
		for {
			select {
			case <-o.stop:
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					o.mu.Lock()
					o.watchErr = errors.New("the Service watch ended early")
					o.mu.Unlock()
					return
				}
				if ev.Type == watch.Error {
					o.mu.Lock()
					o.watchErr = fmt.Errorf("the Service watch failed: %v", apierrors.FromObject(ev.Object))
					o.mu.Unlock()
					return
				}
				if svc, ok := ev.Object.(*corev1.Service); ok {
					o.apply(ev.Type, svc)
				}
			}
		}
	}()
	t.Cleanup(func() { o.end(); cancel() })
	return o
}

type haServiceWatcher struct {
	cs kubernetes.Interface
	ns string
}

func (w haServiceWatcher) WatchWithContext(c context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return w.cs.CoreV1().Services(w.ns).Watch(c, opts)
}

// mark records what the test is doing, for the violations' messages.
func (o *haObserver) mark(phase string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.phase = phase
}

// apply checks one Service at one revision.
func (o *haObserver) apply(typ watch.EventType, svc *corev1.Service) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.events++
	key := o.ns + "/" + svc.Name
	rv := svc.ResourceVersion
	prev := o.byUID[svc.UID]
	if typ == watch.Deleted {
		if prev != nil {
			o.release(svc.UID, prev.ips)
			delete(o.byUID, svc.UID)
		}
		return
	}
	ips := ingressIPs(svc)
	slices.Sort(ips)
	if prev == nil {
		prev = &haObserved{name: svc.Name}
		o.byUID[svc.UID] = prev
	}
	if slices.Equal(prev.ips, ips) {
		return
	}
	if len(prev.ips) > 0 {
		o.violate(append(slices.Clone(prev.ips), ips...),
			"%s changed its addresses from %v (shown since resourceVersion %s, during %q) to %v at resourceVersion %s, during %q",
			key, prev.ips, prev.since, prev.phase, ips, rv, o.phase)
	} else {
		o.stats.assigned++
	}
	o.release(svc.UID, prev.ips)
	prev.ips, prev.since, prev.phase = ips, rv, o.phase
	for _, ip := range ips {
		addr, err := netip.ParseAddr(ip)
		if err != nil || !slices.ContainsFunc(o.pool, func(p netip.Prefix) bool { return p.Contains(addr) }) {
			o.violate([]string{ip}, "%s shows %s, outside pool %v, at resourceVersion %s, during %q", key, ip, haPoolAddresses, rv, o.phase)
		}
		for _, other := range o.owners[ip] {
			holder := o.byUID[other]
			o.violate([]string{ip}, "%s is shown by two live Services at resourceVersion %s, during %q: %s/%s (shows %v since resourceVersion %s, during %q) and %s (shows %v)",
				ip, rv, o.phase, o.ns, holder.name, holder.ips, holder.since, holder.phase, key, ips)
		}
		o.owners[ip] = append(o.owners[ip], svc.UID)
	}
}

// release drops uid's claim on ips.
func (o *haObserver) release(uid types.UID, ips []string) {
	for _, ip := range ips {
		o.owners[ip] = slices.DeleteFunc(o.owners[ip], func(u types.UID) bool { return u == uid })
		if len(o.owners[ip]) == 0 {
			delete(o.owners, ip)
		}
	}
}

func (o *haObserver) violate(ips []string, format string, args ...any) {
	for _, ip := range ips {
		if !slices.Contains(o.suspects, ip) {
			o.suspects = append(o.suspects, ip)
		}
	}
	if len(o.violations) < 50 {
		o.violations = append(o.violations, fmt.Sprintf(format, args...))
	}
}

func (o *haObserver) suspectIPs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.suspects)
}

// current returns the live Services by name as last seen.
func (o *haObserver) current() map[string]*haObserved {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]*haObserved, len(o.byUID))
	for _, s := range o.byUID {
		c := *s
		out[s.name] = &c
	}
	return out
}

func (o *haObserver) allHaveIPs(names []string) error {
	cur := o.current()
	var missing []string
	for _, n := range names {
		if s := cur[n]; s == nil || len(s.ips) == 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d without addresses: %v", len(missing), missing)
	}
	return nil
}

func (o *haObserver) ipsOf(names []string) map[string][]string {
	cur := o.current()
	out := map[string][]string{}
	for _, n := range names {
		if s := cur[n]; s != nil {
			out[n] = s.ips
		}
	}
	return out
}

// end stops the watch.
func (o *haObserver) end() {
	o.mu.Lock()
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
	o.mu.Unlock()
	<-o.stopped
}

// finish stops the watch and returns what it found.
func (o *haObserver) finish() ([]string, haStats) {
	o.end()
	o.mu.Lock()
	defer o.mu.Unlock()
	viol := slices.Clone(o.violations)
	if o.watchErr != nil {
		viol = append(viol, o.watchErr.Error())
	}
	return viol, o.stats
}

// --- final checks against the API server ---

// haCheckStored compares what the API server stores with what the observer
// saw: the same Services with the same addresses, each shown once, each
// with IPAllocated=True and the pool annotation.
func haCheckStored(t *testing.T, ns, pool string, survivors []string, o *haObserver) {
	t.Helper()
	var seen map[string]*haObserved
	eventuallyWithin(t, 10*time.Second, "the observer caught up with the API server", func() error {
		stored := listServices(t, ns)
		seen = o.current()
		if len(stored) != len(seen) {
			return fmt.Errorf("the API server has %d Services, the observer %d", len(stored), len(seen))
		}
		for name, svc := range stored {
			ips := ingressIPs(svc)
			slices.Sort(ips)
			if s := seen[name]; s == nil || !slices.Equal(s.ips, ips) {
				return fmt.Errorf("%s/%s shows %v; the observer saw %+v", ns, name, ips, s)
			}
		}
		return nil
	})
	stored := listServices(t, ns)
	if got := slices.Sorted(maps.Keys(stored)); !slices.Equal(got, survivors) {
		t.Errorf("the API server holds Services %v; the load left %v", got, survivors)
	}
	holders := map[string]string{}
	for name, svc := range stored {
		c := ipAllocated(svc)
		if c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("%s/%s IPAllocated is %+v", ns, name, c)
		}
		if got := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; got != pool {
			t.Errorf("%s/%s annotation %s is %q, want %q", ns, name, v1beta1.AnnotationAllocatedFromPool, got, pool)
		}
		for _, ip := range ingressIPs(svc) {
			if other, dup := holders[ip]; dup {
				t.Errorf("%s is shown by both %s/%s and %s/%s at the end", ip, ns, other, ns, name)
			}
			holders[ip] = name
		}
	}
}

// haCheckPoolCounts compares the pool's status counts with the addresses
// the namespace's Services show.
func haCheckPoolCounts(ns, pool string) error {
	var list corev1.ServiceList
	if err := k8s.List(ctx(), &list, client.InNamespace(ns)); err != nil {
		return err
	}
	var v4, v6 int64
	for i := range list.Items {
		for _, ip := range ingressIPs(&list.Items[i]) {
			if netip.MustParseAddr(ip).Is4() {
				v4++
			} else {
				v6++
			}
		}
	}
	var p v1beta1.IPAddressPool
	if err := k8s.Get(ctx(), client.ObjectKey{Name: pool}, &p); err != nil {
		return err
	}
	st := p.Status
	want := fmt.Sprintf("assigned %d/%d IPv4, %d/%d IPv6", v4, haPoolSizeIPv4-v4, v6, haPoolSizeIPv6-v6)
	got := fmt.Sprintf("assigned %d/%d IPv4, %d/%s IPv6", st.AssignedIPv4, st.AvailableIPv4, st.AssignedIPv6, st.AvailableIPv6)
	if got != want {
		return fmt.Errorf("pool %s status says %s (assigned/available); its Services hold %s", pool, got, want)
	}
	return nil
}

//go:build lab

package lab_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/test/lab"
)

// binDir receives the binaries built for this test run.
var binDir string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "test/lab needs root: it builds network namespaces and opens raw sockets")
		os.Exit(1)
	}
	// envtest logs through controller-runtime's global logger.
	ctrllog.SetLogger(logr.Discard())
	var err error
	if binDir, err = os.MkdirTemp("", "ironlb-lab-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// binaries builds ironlb-controller and ironlb-speaker once per test binary.
var binaries = sync.OnceValues(func() (*lab.Binaries, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	return lab.Build(ctx, binDir)
})

// newLab starts a lab running the controller and a speaker per node.
func newLab(tb testing.TB, opts lab.Options) *lab.Lab {
	tb.Helper()
	bins, err := binaries()
	if err != nil {
		tb.Fatalf("building the binaries: %v", err)
	}
	opts.Binaries = bins
	if !testing.Verbose() {
		// Keep benchmark logs to their figures: go test shows only the
		// first lines of a benchmark's log without -v.
		opts.Logf = func(string, ...any) {}
	}
	return lab.New(tb, opts)
}

// Probing tolerances: how long a change may take to show at the client
// before a test gives up. Generous on purpose: these are liveness bounds,
// not performance goals (the benchmarks measure those).
const (
	settle = 30 * time.Second
	every  = 100 * time.Millisecond
	// quiet is how long an address must stay unanswered to count as not
	// announced, once a control address shows the speakers are up to date.
	quiet = 2 * time.Second
)

// waitAnswerers waits until exactly the nodes want answer for ip on the
// client's ifname (want empty: nobody answers).
func waitAnswerers(t testing.TB, l *lab.Lab, ifname string, ip netip.Addr, want ...string) {
	t.Helper()
	var got []string
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		var err error
		if got, err = l.Answerers(ctx, ifname, ip); err != nil {
			return err
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("answerers (-want +got):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s on %s: %v", ip, ifname, err)
	}
}

// staysUnanswered checks that nobody answers for ip during quiet.
func staysUnanswered(t testing.TB, l *lab.Lab, ifname string, ip netip.Addr) {
	t.Helper()
	for end := time.Now().Add(quiet); time.Now().Before(end); {
		got, err := l.Answerers(t.Context(), ifname, ip)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			t.Fatalf("%s on %s answered by %v, want no answer", ip, ifname, got)
		}
	}
}

// owner waits until exactly one node answers for ip on eth0 and returns it.
func owner(t testing.TB, l *lab.Lab, ip netip.Addr) *lab.Node {
	t.Helper()
	var got []string
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		var err error
		if got, err = l.Answerers(ctx, "eth0", ip); err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("answerers %v, want exactly one node", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", ip, err)
	}
	for _, n := range l.Nodes {
		if n.Name == got[0] {
			return n
		}
	}
	t.Fatalf("%s answered by %s, which is no lab node", ip, got[0])
	return nil
}

// announcers asks every running speaker, through ironlb_announced, whether it
// announces ip with protocol ("layer2" or "bgp"), and returns those that do.
func announcers(ctx context.Context, l *lab.Lab, ip netip.Addr, protocol string) ([]string, error) {
	var names []string
	for _, n := range l.Nodes {
		if n.SpeakerPid() == 0 {
			continue
		}
		samples, err := n.Metrics(ctx)
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", n.Name, err)
		}
		match := map[string]string{"ip": ip.String(), "node": n.Name, "protocol": protocol}
		if lab.Sum(samples, "ironlb_announced", match) > 0 {
			names = append(names, n.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// waitAnnouncers waits until the speakers' own metrics name exactly want as
// announcing ip with protocol.
func waitAnnouncers(t testing.TB, l *lab.Lab, ip netip.Addr, protocol string, want ...string) {
	t.Helper()
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		got, err := announcers(ctx, l, ip, protocol)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("ironlb_announced{protocol=%q} (-want +got):\n%s", protocol, diff)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", ip, err)
	}
}

// createService creates svc and returns its first address, once assigned.
func createService(t testing.TB, l *lab.Lab, svc *corev1.Service) netip.Addr {
	t.Helper()
	if err := l.Create(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	ips, err := l.WaitForIngress(t.Context(), svc)
	if err != nil {
		t.Fatal(err)
	}
	return ips[0]
}

// deleteObject deletes o, ignoring that it is already gone.
func deleteObject(t testing.TB, l *lab.Lab, o client.Object) {
	t.Helper()
	if err := client.IgnoreNotFound(l.Kube.Delete(t.Context(), o)); err != nil {
		t.Fatal(err)
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// otherThan returns the names of the lab's nodes except those given.
func otherThan(l *lab.Lab, except ...*lab.Node) []string {
	var names []string
	for _, n := range l.Nodes {
		if !slices.Contains(except, n) {
			names = append(names, n.Name)
		}
	}
	return names
}

//go:build lab

package chart

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// The suite runs inside a network namespace of its own, created here and
// deleted when it ends. The API server calls the webhook through the chart's
// Service, which it resolves to an EndpointSlice address; EndpointSlices
// refuse loopback addresses, so the controller is reached on webhookIP, a
// documentation address on the namespace's loopback interface. The namespace
// also keeps the fixed ports of the chart's flags (metrics, probes, webhook)
// clear of anything else running on the machine.
const (
	netnsPrefix = "ironlbchart-"
	netnsEnv    = "IRONLB_CHART_NETNS"
	webhookIP   = "192.0.2.10"
)

func TestMain(m *testing.M) {
	if os.Getenv(netnsEnv) == "" {
		os.Exit(reexecInNetns())
	}
	// controller-runtime's client logs through this; the tests report instead.
	ctrllog.SetLogger(logr.Discard())
	code := m.Run()
	stopFixtures()
	os.Exit(code)
}

// reexecInNetns runs this test binary again, with the same arguments, inside
// a fresh network namespace, and returns its exit code.
func reexecInNetns() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "test/chart needs root: it runs the API server and the controller in a network namespace of its own")
		return 1
	}
	deleteStaleNetns()
	ns := fmt.Sprintf("%s%d", netnsPrefix, os.Getpid())
	setup := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", webhookIP + "/32", "dev", "lo"},
	}
	defer func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "deleting network namespace %s: %v: %s\n", ns, err, out)
		}
	}()
	for _, args := range setup {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ip %s: %v: %s\n", strings.Join(args, " "), err, out)
			return 1
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, self}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), netnsEnv+"="+ns)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// deleteStaleNetns removes namespaces left by runs that crashed: those whose
// creating process (the number in the name) is gone.
func deleteStaleNetns() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), netnsPrefix))
		if !strings.HasPrefix(e.Name(), netnsPrefix) || err != nil {
			continue
		}
		if syscall.Kill(pid, 0) == nil {
			continue // still running
		}
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// repoRoot is the repository, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "ironlb") }

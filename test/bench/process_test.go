//go:build envtest

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// buildController builds ironlb-controller, so the figures are those of the
// shipped binary in its own process.
// IRONLB_BENCH_CONTROLLER names a prebuilt binary to measure instead.
func buildController(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("IRONLB_BENCH_CONTROLLER"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "ironlb-controller")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ironlb/ironlb/cmd/controller").CombinedOutput()
	if err != nil {
		b.Fatalf("building ironlb-controller: %v\n%s", err, out)
	}
	return bin
}

func writeKubeconfig(b *testing.B, env *envtest.Environment, cfg *rest.Config) string {
	b.Helper()
	user, err := env.AddUser(envtest.User{Name: "bench-controller", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

type controllerProcess struct {
	cmd *exec.Cmd
	// metrics and pprof are the base URLs of the controller's metrics
	// endpoint and of its Go profiles, on the loopback.
	metrics, pprof string
}

func startController(b *testing.B, bin, kubeconfig string) *controllerProcess {
	b.Helper()
	metrics, pprof := freeLoopbackAddr(b), freeLoopbackAddr(b)
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--leader-elect=false",
		"--metrics-bind-address", metrics, "--pprof-bind-address", pprof,
		"--health-probe-bind-address", "127.0.0.1:0", "--zap-log-level", "error")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1") // as the chart starts it (controller.goMaxProcs)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return &controllerProcess{cmd: cmd, metrics: "http://" + metrics, pprof: "http://" + pprof}
}

// freeLoopbackAddr returns a loopback address with a port free right now,
// for a flag that wants an address rather than port 0.
func freeLoopbackAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *controllerProcess) stop(b *testing.B) {
	b.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// procStats returns the CPU a process used so far, in user and kernel mode,
// and its peak RSS (VmHWM, KiB), read from /proc.
func procStats(pid int) (user, system time.Duration, rssKiB int64) {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the ")" that closes the command name; utime and
		// stime are the 14th and 15th fields of the whole line.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		user = time.Duration(utime) * time.Second / 100 // USER_HZ is 100 on Linux
		system = time.Duration(stime) * time.Second / 100
	}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
				rssKiB, _ = strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			}
		}
	}
	return user, system, rssKiB
}

func crClient(b *testing.B, cfg *rest.Config) client.Client {
	b.Helper()
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// createPool makes an IPv6 pool big enough for any burst.
func createPool(b *testing.B, cfg *rest.Config, n int) *v1beta1.IPAddressPool {
	b.Helper()
	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d-%d", n, time.Now().UnixNano())},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"2001:db8:1::/64"}},
	}
	if err := crClient(b, cfg).Create(context.Background(), pool); err != nil {
		b.Fatal(err)
	}
	return pool
}

// deletePool removes the pool; its Services are gone with their namespace,
// so only the finalizer, which needs a running controller, is stripped here.
func deletePool(b *testing.B, cfg *rest.Config, pool *v1beta1.IPAddressPool) {
	b.Helper()
	c := crClient(b, cfg)
	ctx := context.Background()
	if err := c.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
		return
	}
	pool.Finalizers = nil
	_ = c.Update(ctx, pool)
	_ = c.Delete(ctx, pool)
}

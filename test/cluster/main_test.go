//go:build lab

package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/test/cluster/echo"
	"github.com/ironlb/ironlb/test/lab"
)

// imagesDir holds the image archives every node imports; tag is theirs.
var imagesDir, tag string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "test/cluster needs root: it runs kubelets and containers in network namespaces")
		os.Exit(1)
	}
	// envtest logs through controller-runtime's global logger.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var err error
	if tag, err = lab.ChartVersion(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// make test builds the archives into dist/ and points IRONLB_IMAGES at
	// it; a plain go test builds them here.
	imagesDir = os.Getenv("IRONLB_IMAGES")
	if imagesDir == "" || !lab.HaveImages(imagesDir) {
		if imagesDir, err = os.MkdirTemp("", "ironlb-cluster-images-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(imagesDir)
		if err := lab.BuildImages(ctx, imagesDir); err != nil {
			fmt.Fprintln(os.Stderr, "building the images:", err)
			return 1
		}
	}
	return m.Run()
}

// newCluster starts a three-node cluster with a BGP router and a client
// behind it. Nothing of IronLB runs yet.
func newCluster(tb testing.TB) *lab.Lab {
	tb.Helper()
	opts := lab.Options{
		Router:  &lab.RouterConfig{},
		Cluster: &lab.ClusterOptions{ImagesDir: imagesDir, Tag: tag},
	}
	if !testing.Verbose() {
		// Keep benchmark logs to their figures: go test shows only the
		// first lines of a benchmark's log without -v.
		opts.Logf = func(string, ...any) {}
	}
	return lab.New(tb, opts)
}

// helm runs helm against the lab.
func helm(t testing.TB, l *lab.Lab, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	return l.Helm(ctx, args...)
}

// kubectl runs kubectl against the lab, failing the test on error.
func kubectl(t testing.TB, l *lab.Lab, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := l.Kubectl(ctx, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// apply applies manifest with kubectl, failing the test on error.
func apply(t testing.TB, l *lab.Lab, manifest string) {
	t.Helper()
	if _, err := l.Apply(t.Context(), manifest); err != nil {
		t.Fatal(err)
	}
}

// get asks a backend through vip, port 80, from host h (from source address
// src, or the kernel's choice when src is the zero Addr) on a new
// connection, and decodes its reply. Each try is bounded by a short timeout:
// a VIP nobody answers for, or a packet dropped, shows as an error soon.
func get(ctx context.Context, l *lab.Lab, h *lab.Host, src, vip netip.Addr) (echo.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	body, err := l.HTTPGet(ctx, h, src, netip.AddrPortFrom(vip, 80), "/")
	if err != nil {
		return echo.Reply{}, err
	}
	var r echo.Reply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return echo.Reply{}, fmt.Errorf("decoding %q: %w", body, err)
	}
	return r, nil
}

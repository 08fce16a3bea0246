//go:build envtest

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ironlb/ironlb/api/v1beta1"
)

var (
	// scheme knows core, events, CRDs and IronLB's kinds.
	scheme = runtime.NewScheme()
	// restConfig reaches the test API server.
	restConfig *rest.Config
	// k8s reads and writes the API server directly, without a cache, so
	// that assertions see what is stored, not what an informer has seen.
	k8s client.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1beta1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	// The controller's logs are noise unless a failure needs them.
	if os.Getenv("IRONLB_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	if err := ensureAssets(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	// Dual-stack Services need a dual-stack service range, and the bulk
	// tests need more than envtest's default /24 of cluster IPs. Cluster
	// IPs are bookkeeping inside the API server; nothing ever contacts them.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16,fd00:10:96::/108")
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	restConfig = cfg
	// The tests create hundreds of objects at once; client-go's default of
	// 5 requests per second would make them wait for the client, not the
	// controller.
	direct := rest.CopyConfig(cfg)
	direct.QPS, direct.Burst = 1000, 2000
	if k8s, err = client.New(direct, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "creating client:", err)
		return 1
	}
	if err := checkDualStack(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// ensureAssets finds kube-apiserver and etcd: KUBEBUILDER_ASSETS when set,
// else whatever hack/envtest.sh builds (or finds in its cache). The suite
// never skips for want of binaries.
func ensureAssets() error {
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return nil
	}
	out, err := exec.Command(filepath.Join("..", "..", "hack", "envtest.sh")).Output()
	if err != nil {
		return fmt.Errorf("KUBEBUILDER_ASSETS is unset and hack/envtest.sh failed: %w", err)
	}
	return os.Setenv("KUBEBUILDER_ASSETS", strings.TrimSpace(string(out)))
}

// checkDualStack fails fast when the API server did not take the
// dual-stack service range, rather than letting dual-stack tests fail
// obscurely.
func checkDualStack() error {
	svc := lbService("default", "dual-stack-probe", requireDualStack())
	svc.Spec.Type = "ClusterIP"
	ctx := context.Background()
	if err := k8s.Create(ctx, svc); err != nil {
		return fmt.Errorf("the API server refuses a dual-stack Service; is service-cluster-ip-range dual-stack? %w", err)
	}
	return k8s.Delete(ctx, svc)
}

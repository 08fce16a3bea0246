//go:build envtest

package migration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kcapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Generous limits: the API server and the controller share two cores with
// whatever else runs. Nothing asserts on how long anything took.
const (
	waitTimeout = 90 * time.Second
	pollEvery   = 200 * time.Millisecond
)

var (
	scheme     = runtime.NewScheme()
	restConfig *rest.Config
	// k8s reads and writes the API server directly, without a cache.
	k8s client.Client
	// kubeconfig holds the suite's admin credentials, for the processes.
	kubeconfig string
	// Binaries under test.
	controllerBin, pluginBin string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1beta1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	// The API server's client logs through controller-runtime; quiet.
	crlog.SetLogger(logr.Discard())
	if err := ensureAssets(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "ironlb-migration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if controllerBin, err = binary(dir, "IRONLB_TEST_CONTROLLER", "ironlb-controller", "github.com/ironlb/ironlb/cmd/controller"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if pluginBin, err = binary(dir, "IRONLB_TEST_KUBECTL_IRONLB", "kubectl-ironlb", "github.com/ironlb/ironlb/cmd/kubectl-ironlb"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// The cluster before the migration: MetalLB's CRDs, not IronLB's
	// (installing those is a step of the migration).
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("testdata", "metallb-crds.yaml")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	// Dual-stack Services need a dual-stack service range. Cluster IPs are
	// bookkeeping inside the API server; nothing ever contacts them.
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
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "creating client:", err)
		return 1
	}
	if kubeconfig, err = writeKubeconfig(dir, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// ensureAssets finds kube-apiserver and etcd: KUBEBUILDER_ASSETS when set,
// else whatever hack/envtest.sh builds (or finds in its cache).
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

// binary builds pkg into dir as name, unless env names a prebuilt one.
func binary(dir, env, name, pkg string) (string, error) {
	if bin := os.Getenv(env); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// writeKubeconfig writes the suite's admin credentials as a kubeconfig,
// which is how a user's kubectl-ironlb and ironlb-controller reach a
// cluster.
func writeKubeconfig(dir string, cfg *rest.Config) (string, error) {
	const name = "envtest"
	c := kcapi.NewConfig()
	c.Clusters[name] = &kcapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos[name] = &kcapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts[name] = &kcapi.Context{Cluster: name, AuthInfo: name}
	c.CurrentContext = name
	data, err := clientcmd.Write(*c)
	if err != nil {
		return "", fmt.Errorf("writing kubeconfig: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// plugin runs kubectl-ironlb against the test API server, as
// `kubectl ironlb ARGS` would, and returns its stdout and stderr.
func plugin(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(pluginBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl ironlb %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// startController runs ironlb-controller as the chart would, minus the
// webhooks (envtest's API server cannot call them) and leader election
// (one replica), until the test ends. Its log goes to the test's log on
// failure.
func startController(t *testing.T) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "controller.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(controllerBin,
		"--kubeconfig", kubeconfig,
		"--leader-elect=false",
		"--webhook-mode=disabled",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ironlb-controller: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("ironlb-controller's log:\n%s", b)
			}
		}
	})
}

// eventually polls check until it succeeds or waitTimeout passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), pollEvery, waitTimeout, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: still not true after %s: %v", what, waitTimeout, last)
	}
}

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
)

// apiServer is envtest's etcd and kube-apiserver, the latter listening on the
// root namespace's address on the lab LAN.
type apiServer struct {
	env     *envtest.Environment
	addr    netip.AddrPort
	certDir string
	kubectl string
	// argv of the API server, kept by StopAPIServer to start it again.
	argv []string
	// restarted is the API server StartAPIServer started, if any.
	restarted *process
}

// Scheme knows the core Kubernetes types and IronLB's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := ironlbv1beta1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

func (l *Lab) startAPIServer(ctx context.Context) error {
	assets, err := EnvtestAssets(ctx)
	if err != nil {
		return err
	}
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	host := hostAddr(lan4, rootHost)
	port, err := freePort(host)
	if err != nil {
		return err
	}
	a := &apiServer{
		addr:    netip.AddrPortFrom(host, uint16(port)),
		certDir: filepath.Join(l.Dir, "apiserver"),
		kubectl: filepath.Join(assets, "kubectl"),
	}
	logf, err := os.Create(filepath.Join(l.Dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	l.onClose(func(context.Context) error { return logf.Close() })
	if err := os.MkdirAll(a.certDir, 0o755); err != nil {
		return err
	}
	apiserver := &envtest.APIServer{
		// An explicit CertDir survives Stop, so a restarted API server keeps
		// the certificates the speakers trust.
		CertDir:       a.certDir,
		SecureServing: envtest.SecureServing{ListenAddr: envtest.ListenAddr{Address: host.String(), Port: strconv.Itoa(port)}},
		Out:           logf,
		Err:           logf,
	}
	apiserver.Configure().Set("service-cluster-ip-range", serviceCIDR4.String()+","+serviceCIDR6.String())
	if l.opts.Cluster != nil {
		if err := l.configureClusterAPIServer(apiserver, a.certDir); err != nil {
			return err
		}
	}
	a.env = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd")},
		ErrorIfCRDPathMissing: true,
		ControlPlane: envtest.ControlPlane{
			APIServer: apiserver,
			Etcd:      &envtest.Etcd{DataDir: filepath.Join(l.Dir, "etcd")},
		},
	}
	l.api = a
	l.onClose(func(context.Context) error {
		var errs []error
		if a.restarted != nil {
			errs = append(errs, a.restarted.stop(10*time.Second))
		}
		return errors.Join(append(errs, a.env.Stop())...)
	})
	if l.RESTConfig, err = a.env.Start(); err != nil {
		return err
	}
	l.Kubeconfig = filepath.Join(l.Dir, "kubeconfig")
	if err := os.WriteFile(l.Kubeconfig, a.env.KubeConfig, 0o600); err != nil {
		return err
	}
	l.Kube, err = client.New(l.RESTConfig, client.Options{Scheme: Scheme()})
	return err
}

// EnvtestAssets returns the directory of kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS, else what hack/envtest.sh prints (it builds them once).
func EnvtestAssets(ctx context.Context) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	out, err := command(ctx, filepath.Join(root, "hack", "envtest.sh"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// freePort asks the kernel for a TCP port free on addr.
func freePort(addr netip.Addr) (int, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// APIServerAddress is where the API server listens on the lab LAN.
func (l *Lab) APIServerAddress() netip.AddrPort { return l.api.addr }

// StopAPIServer stops the API server, as a control-plane outage would: SIGTERM,
// and SIGKILL if it is still draining watches after a few seconds. It waits
// until the process is gone. etcd keeps running, so StartAPIServer brings back
// the same cluster.
func (l *Lab) StopAPIServer(ctx context.Context) error {
	a := l.api
	if a.restarted != nil {
		err := a.restarted.stop(5 * time.Second)
		a.restarted = nil
		return err
	}
	var pid int
	for _, p := range processesMentioning("--cert-dir=" + a.certDir) {
		if argv, err := cmdline(p); err == nil && filepath.Base(argv[0]) == "kube-apiserver" {
			pid, a.argv = p, argv
		}
	}
	if pid == 0 {
		return errors.New("no running kube-apiserver of this lab")
	}
	gone := func(context.Context) error {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			return fmt.Errorf("kube-apiserver %d still running", pid)
		}
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	if Poll(ctx, 5*time.Second, 50*time.Millisecond, gone) == nil {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return Poll(ctx, 10*time.Second, 50*time.Millisecond, gone)
}

// StartAPIServer starts the API server stopped by StopAPIServer, with the same
// flags and certificates, and waits until it is ready.
func (l *Lab) StartAPIServer(ctx context.Context) error {
	a := l.api
	if a.argv == nil || a.restarted != nil {
		return errors.New("the API server was not stopped by StopAPIServer")
	}
	p, err := startProcess("kube-apiserver", filepath.Join(l.Dir, "kube-apiserver.log"), nil, a.argv...)
	if err != nil {
		return err
	}
	a.restarted = p
	rc, err := rest.RESTClientFor(withCodecs(rest.CopyConfig(l.RESTConfig)))
	if err != nil {
		return err
	}
	return Poll(ctx, time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		if p.exited() {
			return fmt.Errorf("kube-apiserver exited: %v", p.err)
		}
		_, err := rc.Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

// withCodecs fills what rest.RESTClientFor needs for raw requests.
func withCodecs(cfg *rest.Config) *rest.Config {
	cfg.GroupVersion = &ironlbv1beta1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	return cfg
}

// KubectlPath is the envtest kubectl binary.
func (l *Lab) KubectlPath() string { return l.api.kubectl }

// Kubectl runs the envtest kubectl against the lab's API server.
func (l *Lab) Kubectl(ctx context.Context, args ...string) (string, error) {
	return command(ctx, l.api.kubectl, append([]string{"--kubeconfig", l.Kubeconfig}, args...)...)
}

// KubectlFrom runs kubectl inside h's namespace, as a process on that host
// would reach the API server.
func (l *Lab) KubectlFrom(ctx context.Context, h *Host, args ...string) (string, error) {
	return nsCommand(ctx, h.Netns, append([]string{l.api.kubectl, "--kubeconfig", l.Kubeconfig}, args...)...)
}

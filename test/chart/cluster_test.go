//go:build lab

package chart

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// The release every cluster test shares, installed the way the README says.
const (
	release   = "ironlb"
	namespace = "ironlb-system"
)

var scheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1beta1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// apiServer is a real kube-apiserver and etcd (envtest), with an admin
// kubeconfig for helm.
type apiServer struct {
	env        *envtest.Environment
	cfg        *rest.Config
	admin      client.Client
	clientset  kubernetes.Interface
	kubeconfig string
	dir        string
}

var (
	serverOnce sync.Once
	server     *apiServer
	serverErr  error
)

// cluster starts the API server on first use; stopFixtures stops it.
func cluster(t testing.TB) *apiServer {
	t.Helper()
	serverOnce.Do(func() {
		serverErr = errors.New("starting the API server failed in an earlier test")
		server, serverErr = startAPIServer()
	})
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return server
}

func startAPIServer() (*apiServer, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		out, err := exec.Command(filepath.Join("..", "..", "hack", "envtest.sh")).Output()
		if err != nil {
			return nil, fmt.Errorf("KUBEBUILDER_ASSETS is unset and hack/envtest.sh failed: %w", err)
		}
		os.Setenv("KUBEBUILDER_ASSETS", strings.TrimSpace(string(out)))
	}
	dir, err := os.MkdirTemp("", "ironlb-chart-")
	if err != nil {
		return nil, err
	}
	s := &apiServer{env: &envtest.Environment{Scheme: scheme}, dir: dir}
	api := s.env.ControlPlane.GetAPIServer()
	// Kept for when the API server does not come up.
	apiLog, err := os.Create(filepath.Join(dir, "kube-apiserver.log"))
	if err != nil {
		return nil, err
	}
	api.Out, api.Err = apiLog, apiLog
	// Webhook Services resolve to their EndpointSlices, as kube-proxy-less
	// API servers do; without this the API server would dial the ClusterIP,
	// which nothing routes here. (The service-account issuer and signing key
	// that TokenRequest needs are envtest defaults.)
	api.Configure().Set("enable-aggregator-routing", "true")
	// The namespace has no default route to pick an address from; the API
	// server advertises (in the kubernetes Service) the one it has.
	api.Configure().Set("advertise-address", webhookIP)
	cfg, err := s.env.Start()
	if err != nil {
		logTail, _ := exec.Command("tail", "-n", "30", apiLog.Name()).Output()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting envtest: %w\nkube-apiserver said:\n%s", err, logTail)
	}
	s.cfg = cfg
	if s.admin, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if s.clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	user, err := s.env.AddUser(envtest.User{Name: "chart-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	s.kubeconfig = filepath.Join(s.dir, "admin.kubeconfig")
	return s, os.WriteFile(s.kubeconfig, kc, 0o600)
}

// tokenKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount ns/name with a token from the TokenRequest API, the token a
// pod of that ServiceAccount would get.
func (s *apiServer) tokenKubeconfig(t testing.TB, ns, name string) (string, *rest.Config) {
	t.Helper()
	tr, err := s.clientset.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: s.cfg.Host, CertificateAuthorityData: s.cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: name}
	kc.CurrentContext = name
	path := filepath.Join(s.dir, ns+"-"+name+".kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: s.cfg.Host, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: s.cfg.CAData}}
	return path, cfg
}

var (
	installOnce sync.Once
	installErr  error
)

// installed installs the chart once, as the README does, and returns the
// admin's view of the cluster.
func installed(t testing.TB) *apiServer {
	t.Helper()
	s := cluster(t)
	installOnce.Do(func() {
		installErr = errors.New("helm install failed in an earlier test")
		// charts/ironlb/README.md, "Install on kind", but for --wait: no
		// kubelet runs pods here.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "privileged",
		}}}
		if installErr = s.admin.Create(context.Background(), ns); installErr != nil {
			return
		}
		_, installErr = runHelm(t, s.kubeconfig, "install", release, chartDir(t), "--namespace", namespace)
	})
	if installErr != nil {
		t.Fatalf("helm install: %v", installErr)
	}
	return s
}

// controllerProcess is ironlb-controller, the binary from its image, run as
// a process with the chart's own arguments and the chart's ServiceAccount.
type controllerProcess struct {
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
}

var (
	controllerOnce sync.Once
	controller     *controllerProcess
	controllerErr  error
)

// runningController starts the controller on first use and waits until it
// is ready, which includes serving the webhooks with an injected CA.
func runningController(t testing.TB) *controllerProcess {
	t.Helper()
	s := installed(t)
	controllerOnce.Do(func() {
		controllerErr = errors.New("starting the controller failed in an earlier test")
		controller, controllerErr = startController(t, s)
	})
	if controllerErr != nil {
		t.Fatal(controllerErr)
	}
	select {
	case <-controller.done:
		t.Fatalf("the controller exited: %v\n%s", controller.cmd.ProcessState, controller.tail(40))
	default:
	}
	return controller
}

func startController(t testing.TB, s *apiServer) (*controllerProcess, error) {
	img, _ := readImage(t, "ironlb-controller")
	bin := filepath.Join(s.dir, "ironlb-controller")
	if err := os.WriteFile(bin, extractFile(t, img, "ironlb-controller"), 0o755); err != nil {
		return nil, err
	}

	// The arguments of the installed Deployment, with the variables the
	// kubelet would expand expanded.
	var d appsv1.Deployment
	if err := s.admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: release + "-controller"}, &d); err != nil {
		return nil, err
	}
	c := d.Spec.Template.Spec.Containers[0]
	certDir := filepath.Join(s.dir, "serving-certs")
	var args []string
	for _, a := range c.Args {
		a = strings.ReplaceAll(a, "$(POD_NAMESPACE)", namespace)
		if strings.HasPrefix(a, "--webhook-cert-dir=") {
			a = "--webhook-cert-dir=" + certDir // the pod's emptyDir
		}
		args = append(args, a)
	}
	kubeconfig, _ := s.tokenKubeconfig(t, namespace, d.Spec.Template.Spec.ServiceAccountName)
	args = append(args, "--kubeconfig="+kubeconfig)

	// Where the Service's endpoints controller would point it: this pod.
	if err := s.admin.Create(context.Background(), webhookEndpoints(c)); err != nil {
		return nil, fmt.Errorf("creating the webhook EndpointSlice: %w", err)
	}

	p := &controllerProcess{done: make(chan struct{}), logPath: filepath.Join(s.dir, "controller.log")}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "POD_NAMESPACE="+namespace, "KUBECONFIG=")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); logFile.Close(); close(p.done) }()

	// Ready: the kubelet's readiness probe, /readyz on the health port.
	port := flagValue(args, "--health-probe-bind-address")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("the controller exited: %v\n%s", p.cmd.ProcessState, p.tail(40))
		default:
		}
		resp, err := http.Get("http://127.0.0.1" + port + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			_ = p.stop()
			return nil, fmt.Errorf("the controller is not ready after 2 minutes\n%s", p.tail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// webhookEndpoints is the EndpointSlice an endpoints controller would write
// for the webhook Service once the controller pod is ready.
func webhookEndpoints(c corev1.Container) *discoveryv1.EndpointSlice {
	var port int32
	for _, p := range c.Ports {
		if p.Name == "webhook" {
			port = p.ContainerPort
		}
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: release + "-webhook-test",
			Labels: map[string]string{
				discoveryv1.LabelServiceName: release + "-webhook",
				discoveryv1.LabelManagedBy:   "ironlb-chart-test",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{webhookIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("webhook"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// tail returns the last n lines of the controller's log.
func (p *controllerProcess) tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// log returns the controller's whole log.
func (p *controllerProcess) log(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (p *controllerProcess) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("the controller did not stop within 30s of SIGTERM")
	}
}

// stopFixtures stops whatever the tests started, controller first.
func stopFixtures() {
	if controller != nil {
		if err := controller.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if server != nil {
		if err := server.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
		os.RemoveAll(server.dir)
	}
	if helmHome != "" {
		os.RemoveAll(helmHome)
	}
	if imagesDir != "" && os.Getenv("IRONLB_IMAGES") == "" {
		os.RemoveAll(imagesDir)
	}
}

// eventually retries check until it returns nil or a minute has passed.
func eventually(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after a minute: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

//go:build envtest

package speaker_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/member"
	bgpprotocol "github.com/ironlb/ironlb/speaker/protocol/bgp"
	l2protocol "github.com/ironlb/ironlb/speaker/protocol/layer2"
)

// The suite runs speakers against a real kube-apiserver (envtest). The
// layer-2 announcer is replaced by a recorder of SetOwned calls: this is the
// wiring's test; the real responders are proven in the lab. BGP is the real
// embedded GoBGP, dialling only loopback.

var (
	scheme  = runtime.NewScheme()
	sharedK *rest.Config
)

func TestMain(m *testing.M) {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1beta1.AddToScheme(scheme)
	ctrl.SetLogger(logr.Discard())
	env := newEnv()
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest (KUBEBUILDER_ASSETS=$(hack/envtest.sh)):", err)
		os.Exit(1)
	}
	sharedK = cfg
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func newEnv() *envtest.Environment {
	return &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd")},
		ErrorIfCRDPathMissing: true,
	}
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recordingL2 stands in for layer2.Announcer and keeps the last owned set.
// The node's interfaces are links (eth0 unless set): an address whose named
// interfaces are all missing has none to be announced on (Unannounced).
type recordingL2 struct {
	mu    sync.Mutex
	last  map[netip.Addr][]string
	links []string
}

func (r *recordingL2) SetOwned(owned map[netip.Addr][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = maps.Clone(owned)
}

// Unannounced plays layer2.Announcer's part, with its reason text: the
// owned addresses whose named interfaces this node does not have.
func (r *recordingL2) Unannounced() map[netip.Addr]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	links := r.links
	if links == nil {
		links = []string{"eth0"}
	}
	out := map[netip.Addr]string{}
	for ip, names := range r.last {
		if len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(links, n) }) {
			out[ip] = fmt.Sprintf("none of the interfaces named in the L2Advertisement (%s) exists, is up and answers ARP/NDP",
				strings.Join(names, ", "))
		}
	}
	return out
}

func (r *recordingL2) owned() map[netip.Addr][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.last)
}

var cmpAddrs = cmpopts.EquateComparable(netip.Addr{})

// waitOwned waits until the speaker was told to own exactly want. The
// deadline only bounds a broken test; it is not a timing goal.
func waitOwned(t *testing.T, l2 *recordingL2, want map[netip.Addr][]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := l2.owned()
		diff := cmp.Diff(want, got, cmpAddrs, cmpopts.EquateEmpty())
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("owned addresses (-want +got):\n%s", diff)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort finds a port free for TCP and UDP on every loopback address the
// test uses, for the memberlist port shared by all test speakers.
func freePort(t *testing.T, ips ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		ok := true
		for _, ip := range ips {
			tl, err1 := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
			ul, err2 := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
			if tl != nil {
				_ = tl.Close()
			}
			if ul != nil {
				_ = ul.Close()
			}
			ok = ok && err1 == nil && err2 == nil
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// testSpeaker is one running speaker: manager, memberlist, real GoBGP and a
// recording layer-2 announcer.
type testSpeaker struct {
	l2       *recordingL2
	registry *prometheus.Registry
	members  *member.List
	speaker  *speaker.Speaker
	stop     func()
}

type speakerOpts struct {
	node            string
	addr            string // loopback address its memberlist binds
	port            int
	class           v1beta1.ClassFilter
	secretNamespace string
	key             string // memberlist key; "" gossips in clear text
}

func startSpeaker(t *testing.T, cfg *rest.Config, o speakerOpts) *testSpeaker {
	t.Helper()
	if o.class.Class == "" {
		o.class = v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: true}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 logr.Discard(),
		Cache:                  speaker.CacheOptions(o.secretNamespace),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several speakers in one test process each register "speaker".
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	members, err := member.New(member.Options{
		Name: o.node, BindAddr: netip.MustParseAddr(o.addr), Port: o.port, Key: o.key, Insecure: o.key == "", Logger: logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	bgpSpeaker, err := bgp.New(bgp.Options{RouterID: netip.MustParseAddr("192.0.2.254"), ListenPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := bgpSpeaker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	l2 := &recordingL2{}
	sp, err := speaker.New(speaker.Config{
		NodeName: o.node, Class: o.class, MemberlistPort: o.port,
		SecretNamespace: o.secretNamespace, Registerer: reg,
	}, members, l2protocol.New(l2), bgpprotocol.New(bgpSpeaker, o.secretNamespace))
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	ts := &testSpeaker{l2: l2, registry: reg, members: members, speaker: sp}
	ts.stop = func() {
		once.Do(func() {
			_ = members.Leave(time.Second)
			_ = bgpSpeaker.Stop(context.Background())
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
			_ = members.Shutdown()
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// Object builders. Every test creates what it needs and deletes it at the end.

// create creates objs. An IPAddressPool is then marked Ready, as the
// controller marks a valid pool: the speaker announces from Ready pools.
func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
		if p, ok := o.(*v1beta1.IPAddressPool); ok {
			setPoolReady(t, c, p, metav1.ConditionTrue, v1beta1.ReasonPoolValid)
		}
		t.Cleanup(func() {
			err := c.Delete(context.Background(), o)
			if err != nil && !apierrors.IsNotFound(err) {
				t.Logf("cleanup: delete %T %s: %v", o, o.GetName(), err)
			}
		})
	}
}

// setPoolReady writes the pool's Ready condition as the controller would.
func setPoolReady(t *testing.T, c client.Client, p *v1beta1.IPAddressPool, status metav1.ConditionStatus, reason string) {
	t.Helper()
	p.Status.AvailableIPv6 = "0"
	p.Status.Conditions = []metav1.Condition{{
		Type: v1beta1.ConditionReady, Status: status, Reason: reason, Message: "set by the test",
		ObservedGeneration: p.Generation, LastTransitionTime: metav1.Now(),
	}}
	if err := c.Status().Update(context.Background(), p); err != nil {
		t.Fatalf("pool %s status: %v", p.Name, err)
	}
}

func readyNode(t *testing.T, c client.Client, name, ip string, nodeLabels map[string]string) *corev1.Node {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: nodeLabels}}
	create(t, c, n)
	n.Status = corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
	}
	if err := c.Status().Update(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return n
}

func pool(name string, cidrs ...string) *v1beta1.IPAddressPool {
	return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.IPAddressPoolSpec{Addresses: cidrs}}
}

func l2adv(name string) *v1beta1.L2Advertisement {
	return &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// lbService creates a LoadBalancer Service and writes ip into its status, as
// the controller would.
func lbService(t *testing.T, c client.Client, name string, class *string, local bool, ips ...string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: class,
			Selector:          map[string]string{"app": name},
			Ports:             []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	if local {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	create(t, c, svc)
	for _, ip := range ips {
		svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress,
			corev1.LoadBalancerIngress{IP: ip, IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)})
	}
	if err := c.Status().Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

func endpointSlice(svc, node string, ready bool) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: svc + "-eps",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"198.51.100.100"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
			NodeName:   ptr.To(node),
		}},
		Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}},
	}
}

// announcingEvents lists the AnnouncingNodeChanged events on a Service.
func announcingEvents(c client.Client, svc *corev1.Service) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(svc.Namespace)); err != nil {
		return nil, err
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.UID == svc.UID && e.Reason == v1beta1.EventAnnounceNodeChanged {
			out = append(out, e)
		}
	}
	return out, nil
}

func addrs(ips ...string) map[netip.Addr][]string {
	out := map[netip.Addr][]string{}
	for _, ip := range ips {
		out[netip.MustParseAddr(ip)] = nil
	}
	return out
}

// newestWinner is the layer-2 owner the speakers under test elect: they are
// all of this build, so they agree on the newest election it implements.
func newestWinner(ip netip.Addr, nodes []string) (string, bool) {
	return announce.WinnerVersions[len(announce.WinnerVersions)-1].Winner(ip, nodes)
}

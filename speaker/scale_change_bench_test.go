package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/iprange"
	v1beta1 "github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/member"
	bgpprotocol "github.com/ironlb/ironlb/speaker/protocol/bgp"
	l2protocol "github.com/ironlb/ironlb/speaker/protocol/layer2"
)

// BenchmarkScaleServiceChange is one Service change handled by a speaker
// at the scale of docs/scale.md: 1,000 nodes, 50,000 LoadBalancer Services
// of one address each, one pool, one L2Advertisement and one
// BGPAdvertisement selecting every node, election v2. Each change moves one
// Service to the one free address of the pool (so an address is withdrawn
// and another announced) and runs Reconcile: the Service read from the
// cache, the decider, Apply of layer 2 (the real announcer, not serving),
// BGP (a stand-in speaker keeping routes in memory) and the
// ServiceAnnouncement writer (handing the decision to its loop, which
// BenchmarkScaleSyncServices in speaker/servicestatus times), events and
// metrics. The speaker is worker-0500: not the writer of shared status.
//
// It reports µs/change, the time Reconcile takes per change;
// cpu-µs/change, the CPU the whole process spent per change (the garbage
// collector's work on the other core included); and the allocations.
func BenchmarkScaleServiceChange(b *testing.B) {
	const nodes, services = 1000, 50000
	w := newScaleWorld(nodes, services)
	s, bgp := w.speaker(b, "worker-0500")
	ctx := context.Background()
	req := reconcile.Request{}
	if _, err := s.Reconcile(ctx, req); err != nil {
		b.Fatal(err)
	}
	if got := s.last.LenL2(); got != services {
		b.Fatalf("%d of %d addresses announced", got, services)
	}
	if got := len(bgp.routes); got != services {
		b.Fatalf("%d of %d routes set", got, services)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	i := 0
	for b.Loop() {
		key := w.move(i % services)
		s.changes.service(key)
		s.nextRun = time.Time{} // one change per run, not the burst pacing
		if _, err := s.Reconcile(ctx, req); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/change")
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(i), "cpu-µs/change")
	b.StopTimer()
	if addrs, all := s.decider.Changed(); all || len(addrs) != 2 {
		b.Fatalf("the last change changed %v (all: %t), want the two addresses moved", addrs, all)
	}
	if got := len(bgp.routes); got != services {
		b.Fatalf("%d routes after the changes, want %d", got, services)
	}
	if bgp.full != 1 {
		b.Fatalf("every route was set %d times, want once (the first decision)", bgp.full)
	}
}

// scaleWorld is the cluster of the scale model as the informer cache holds
// it.
type scaleWorld struct {
	nodes    []corev1.Node
	services map[types.NamespacedName]*corev1.Service
	order    []types.NamespacedName
	free     netip.Addr // the pool's one address no Service holds
	input    announce.Input
}

func newScaleWorld(nodes, services int) *scaleWorld {
	w := &scaleWorld{services: map[types.NamespacedName]*corev1.Service{}}
	for i := range nodes {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("worker-%04d", i),
			Labels: map[string]string{corev1.LabelHostname: fmt.Sprintf("worker-%04d", i)}}}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("2001:db8:ffff::%x", i+1)}}
		w.nodes = append(w.nodes, n)
		w.input.Nodes = append(w.input.Nodes, nodeFrom(&w.nodes[i]))
	}
	ip := netip.MustParseAddr("2001:db8::")
	for i := range services {
		ip = ip.Next()
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("svc-%05d", i),
			UID:         types.UID(fmt.Sprintf("uid-%05d", i)),
			Annotations: map[string]string{v1beta1.AnnotationAllocatedFromPool: "docs"}}}
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
		key := types.NamespacedName{Namespace: "ns", Name: s.Name}
		w.services[key] = s
		w.order = append(w.order, key)
	}
	w.free = ip.Next()
	w.input.Pools = []announce.Pool{{Name: "docs", Entries: []announce.Entry{{Range: iprange.FromPrefix(netip.MustParsePrefix("2001:db8::/32"))}}}}
	w.input.L2Advertisements = []announce.L2Advertisement{{Name: "all"}}
	w.input.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "all"}}
	return w
}

// move gives the i-th Service the free address, as the cache would show
// it after the controller's write, and returns its key.
func (w *scaleWorld) move(i int) types.NamespacedName {
	key := w.order[i]
	old := w.services[key]
	s := *old // the cache replaces objects, never changes them
	was := netip.MustParseAddr(old.Status.LoadBalancer.Ingress[0].IP)
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: w.free.String()}}
	w.services[key], w.free = &s, was
	return key
}

// speaker returns a Speaker of node over w, its cluster-wide part read
// (as readCluster would, the protocols' objects included), and the BGP
// stand-in. Its first Reconcile reads every Service.
func (w *scaleWorld) speaker(b *testing.B, node string) (*Speaker, *memoryRoutes) {
	b.Helper()
	announcer, err := layer2.New(layer2.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bgp := &memoryRoutes{}
	live := map[string]bool{}
	for _, n := range w.nodes {
		live[n.Name] = true
	}
	s, err := New(Config{NodeName: node, Class: v1beta1.ClassFilter{Default: true}, Registerer: prometheus.NewRegistry()},
		staticMembers{live: live}, l2protocol.New(announcer), bgpprotocol.New(bgp, ""))
	if err != nil {
		b.Fatal(err)
	}
	s.reader, s.recorder = w, &countingRecorder{}
	s.joined.Store(true)
	s.changes.take() // the cluster-wide part is set here, not read
	st := &clusterState{nodes: w.nodes, input: w.input}
	for i := range w.nodes {
		if w.nodes[i].Name == node {
			st.self = &w.nodes[i]
		}
	}
	s.state = st
	if v := s.agreedWinner(live); v != announce.WinnerV2 {
		b.Fatalf("election v%d in force, want v2 (the model's)", v)
	}
	return s, bgp
}

// Get implements client.Reader for Services, as the informer cache does
// with UnsafeDisableDeepCopy: the object's fields are shared.
func (w *scaleWorld) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return fmt.Errorf("scaleWorld: Get of %T", obj)
	}
	s, found := w.services[key]
	if !found {
		return apierrors.NewNotFound(corev1.Resource("services"), key.Name)
	}
	*svc = *s
	return nil
}

// List implements client.Reader for Services and EndpointSlices (none).
func (w *scaleWorld) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	switch l := list.(type) {
	case *corev1.ServiceList:
		l.Items = make([]corev1.Service, 0, len(w.order))
		for _, k := range w.order {
			l.Items = append(l.Items, *w.services[k])
		}
	case *discoveryv1.EndpointSliceList:
		l.Items = nil
	default:
		return fmt.Errorf("scaleWorld: List of %T", list)
	}
	return nil
}

// staticMembers is a membership that never changes, electing with v2 as a
// settled cluster of this build does.
type staticMembers struct{ live map[string]bool }

func (m staticMembers) Live() map[string]bool          { return m.live }
func (staticMembers) Changes() <-chan struct{}         { return nil }
func (staticMembers) Election() announce.WinnerVersion { return announce.WinnerV2 }
func (staticMembers) Join(context.Context, []netip.AddrPort) member.JoinResult {
	return member.JoinResult{}
}

// memoryRoutes stands in for the GoBGP speaker: it keeps the routes set,
// by prefix, and counts the calls that set every route.
type memoryRoutes struct {
	routes map[netip.Prefix][]bgpspeaker.Route
	full   int
}

func (m *memoryRoutes) SetPeers(context.Context, []bgpspeaker.Peer) error { return nil }
func (m *memoryRoutes) Sessions() map[string]bgpspeaker.SessionState      { return nil }
func (m *memoryRoutes) ResetPeer(context.Context, string, string) error   { return nil }

func (m *memoryRoutes) SetRoutes(_ context.Context, routes []bgpspeaker.Route) error {
	m.full++
	m.routes = map[netip.Prefix][]bgpspeaker.Route{}
	for _, r := range routes {
		m.routes[r.Prefix] = append(m.routes[r.Prefix], r)
	}
	return nil
}

func (m *memoryRoutes) UpdateRoutes(_ context.Context, prefixes []netip.Prefix, routes []bgpspeaker.Route) error {
	for _, p := range prefixes {
		delete(m.routes, p)
	}
	for _, r := range routes {
		m.routes[r.Prefix] = append(m.routes[r.Prefix], r)
	}
	return nil
}

// countingRecorder counts the Events recorded.
type countingRecorder struct{ n int }

func (r *countingRecorder) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {
	r.n++
}

// processCPU is the CPU time this process used so far, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

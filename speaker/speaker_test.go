//go:build envtest

package speaker_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/member"
)

func gaugeValue(reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string, labels map[string]string) (float64, bool) {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metrics
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// A Service with an address in a pool that an L2Advertisement covers is
// announced by the only live node: the announcer is told to own it, the
// metric says so, an event is emitted once, and the advertisement's status
// names the pool.
func TestAnnouncesAssignedAddress(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	create(t, c, pool("lan", "192.0.2.0/24"), l2adv("all"))
	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})

	web := lbService(t, c, "web", nil, false, "192.0.2.10")
	waitOwned(t, sp.l2, addrs("192.0.2.10"))

	// The gauge is set after every protocol has applied the decision, which
	// may be just after the layer-2 announcer took the address.
	eventually(t, "ironlb_announced for the owned address", func() error {
		if v, ok := gaugeValue(sp.registry, "ironlb_announced", map[string]string{"ip": "192.0.2.10", "node": "node-a", "protocol": "layer2"}); !ok || v != 1 {
			return fmt.Errorf("ironlb_announced{ip=192.0.2.10,node=node-a,protocol=layer2} = %v (present %v), want 1", v, ok)
		}
		return nil
	})
	eventually(t, "announcing event on the Service", func() error {
		evs, err := announcingEvents(c, web)
		if err != nil {
			return err
		}
		if len(evs) != 1 || !strings.Contains(evs[0].Note, "Announcing 192.0.2.10 by layer 2 from node node-a") {
			return fmt.Errorf("events %v", evs)
		}
		return nil
	})
	eventually(t, "L2Advertisement status", func() error {
		var adv v1beta1.L2Advertisement
		if err := c.Get(context.Background(), types.NamespacedName{Name: "all"}, &adv); err != nil {
			return err
		}
		ready := metaCondition(adv.Status.Conditions, "Ready")
		if !slices.Equal(adv.Status.MatchedPools, []string{"lan"}) || ready == nil || ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("status %+v", adv.Status)
		}
		return nil
	})

	// Another recomputation (a second Service) changes nothing for the
	// first: no second event.
	lbService(t, c, "api", nil, false, "192.0.2.11")
	waitOwned(t, sp.l2, addrs("192.0.2.10", "192.0.2.11"))
	evs, err := announcingEvents(c, web)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Series != nil {
		t.Errorf("want exactly one announcing event on web, not repeated; got %+v", evs)
	}

	// Released address: no longer owned, metric series gone.
	web.Status.LoadBalancer.Ingress = nil
	if err := c.Status().Update(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	waitOwned(t, sp.l2, addrs("192.0.2.11"))
	// The gauge is set once every protocol has applied, just after the
	// announcer: wait for it as for the first one.
	eventually(t, "no ironlb_announced series for the released address", func() error {
		if _, ok := gaugeValue(sp.registry, "ironlb_announced", map[string]string{"ip": "192.0.2.10"}); ok {
			return errors.New("still there")
		}
		return nil
	})
}

// Under externalTrafficPolicy: Local the address follows the ready endpoint.
func TestLocalPolicyFollowsEndpoints(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1", "127.0.0.2")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-b", "127.0.0.2", nil)
	create(t, c, pool("lan", "192.0.2.0/24"), l2adv("all"))
	// node-b's speaker is alive (a real memberlist member), so node-b is
	// eligible too; the speaker under test finds it from its Node object.
	b, err := member.New(member.Options{Name: "node-b", BindAddr: netip.MustParseAddr("127.0.0.2"), Port: port, Insecure: true, Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown() })
	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	eventually(t, "node-b live", func() error {
		if !sp.members.Live()["node-b"] {
			return errors.New("not yet")
		}
		return nil
	})

	lbService(t, c, "local", nil, true, "192.0.2.20")
	eps := endpointSlice("local", "node-b", true)
	create(t, c, eps)
	update := func(node string, ready bool) {
		t.Helper()
		eps.Endpoints[0].NodeName = ptr.To(node)
		eps.Endpoints[0].Conditions.Ready = ptr.To(ready)
		if err := c.Update(context.Background(), eps); err != nil {
			t.Fatal(err)
		}
	}

	update("node-a", true)
	waitOwned(t, sp.l2, addrs("192.0.2.20"))
	update("node-b", true) // moved away: node-b announces, not us
	waitOwned(t, sp.l2, addrs())
	update("node-a", true)
	waitOwned(t, sp.l2, addrs("192.0.2.20"))
	update("node-a", false) // not ready: nobody announces
	waitOwned(t, sp.l2, addrs())
}

// Services of another class are never announced; class-less ones only with
// --default-class.
func TestClassFiltering(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	create(t, c, pool("lan", "192.0.2.0/24"), l2adv("all"))
	other := lbService(t, c, "other-class", ptr.To("example.com/other"), false, "192.0.2.30")
	lbService(t, c, "classless", nil, false, "192.0.2.31")
	lbService(t, c, "ours", ptr.To(v1beta1.DefaultLoadBalancerClass), false, "192.0.2.32")

	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	waitOwned(t, sp.l2, addrs("192.0.2.31", "192.0.2.32"))
	sp.stop()

	strict := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port,
		class: v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: false}})
	waitOwned(t, strict.l2, addrs("192.0.2.32"))

	evs, err := announcingEvents(c, other)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 {
		t.Errorf("a Service of another class got events: %v", evs)
	}
}

// A BGPPeer selecting this node gets this node's session entry in its
// status; a missing password Secret is reported there, and fixed as soon as
// the Secret appears; a node that stops matching removes its entry. Only
// loopback is dialled.
func TestBGPPeerSessionStatus(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1")
	node := readyNode(t, c, "node-a", "127.0.0.1", map[string]string{"bgp": "yes"})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ironlb-system"}}
	if err := c.Create(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	closed := freePort(t, "127.0.0.1") // nothing listens: the session never establishes
	peer := &v1beta1.BGPPeer{
		ObjectMeta: metav1.ObjectMeta{Name: "tor"},
		Spec: v1beta1.BGPPeerSpec{
			MyASN: 64513, PeerASN: 64512, PeerAddress: "127.0.0.1", PeerPort: uint16(closed),
			PasswordSecret: &v1beta1.SecretKeyRef{Name: "tor-password", Namespace: "ironlb-system", Key: "password"},
			NodeSelectors:  []metav1.LabelSelector{{MatchLabels: map[string]string{"bgp": "yes"}}},
		},
	}
	adv := &v1beta1.BGPAdvertisement{
		ObjectMeta: metav1.ObjectMeta{Name: "to-tor"},
		Spec:       v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan"}, Peers: []string{"tor", "missing"}},
	}
	create(t, c, pool("lan", "192.0.2.0/24"), peer, adv)
	// Another node's speaker has written its own entry; ours must leave it be.
	other := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"sessions": []any{
		map[string]any{"node": "node-z", "state": "Established", "lastTransitionTime": "2026-01-01T00:00:00Z"},
	}}}}
	other.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("BGPPeer"))
	other.SetName("tor")
	if err := c.Status().Apply(context.Background(), client.ApplyConfigurationFromUnstructured(other), client.FieldOwner("ironlb-speaker-node-z")); err != nil {
		t.Fatal(err)
	}
	startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port, secretNamespace: "ironlb-system"})

	session := func() (*v1beta1.BGPSessionStatus, error) {
		var p v1beta1.BGPPeer
		if err := c.Get(context.Background(), types.NamespacedName{Name: "tor"}, &p); err != nil {
			return nil, err
		}
		for _, s := range p.Status.Sessions {
			if s.Node == "node-a" {
				return &s, nil
			}
		}
		return nil, nil
	}
	eventually(t, "session status names the missing Secret", func() error {
		s, err := session()
		if err != nil || s == nil || s.State != "Idle" || !strings.Contains(s.Message, "password Secret ironlb-system/tor-password not found") {
			return fmt.Errorf("session %+v, err %v", s, err)
		}
		return nil
	})
	create(t, c, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ironlb-system", Name: "tor-password"},
		Data:       map[string][]byte{"password": []byte("s3cret")},
	})
	eventually(t, "session configured once the Secret exists", func() error {
		s, err := session()
		if err != nil || s == nil || strings.Contains(s.Message, "Secret") || s.State == "Established" {
			return fmt.Errorf("session %+v, err %v", s, err)
		}
		return nil
	})
	eventually(t, "BGPAdvertisement status names the unknown peer", func() error {
		var a v1beta1.BGPAdvertisement
		if err := c.Get(context.Background(), types.NamespacedName{Name: "to-tor"}, &a); err != nil {
			return err
		}
		ready := metaCondition(a.Status.Conditions, "Ready")
		if !slices.Equal(a.Status.MatchedPools, []string{"lan"}) || ready == nil ||
			ready.Reason != "UnknownPeer" || ready.Message != "no BGPPeer named missing" {
			return fmt.Errorf("status %+v", a.Status)
		}
		return nil
	})

	node.Labels["bgp"] = "no"
	if err := c.Update(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	eventually(t, "session entry removed when the node no longer matches", func() error {
		s, err := session()
		if err != nil || s != nil {
			return fmt.Errorf("session %+v, err %v", s, err)
		}
		return nil
	})
	var p v1beta1.BGPPeer
	if err := c.Get(context.Background(), types.NamespacedName{Name: "tor"}, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Status.Sessions) != 1 || p.Status.Sessions[0].Node != "node-z" || p.Status.Sessions[0].State != "Established" {
		t.Errorf("another node's session entry was touched: %+v", p.Status.Sessions)
	}
}

// With the API server gone, a speaker keeps what it announced and still
// fails over: a peer's death moves its addresses here, its return moves them
// back, all from the cache and memberlist alone.
func TestFailoverWithAPIServerStopped(t *testing.T) {
	env := newEnv()
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := newClient(t, cfg)
	port := freePort(t, "127.0.0.1", "127.0.0.3")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-c", "127.0.0.3", nil)
	create(t, c, pool("lan", "192.0.2.0/24"), l2adv("all"))

	// One address node-a wins, one node-c wins, by the rendezvous hash.
	var mine, theirs string
	for i := 40; i < 80 && (mine == "" || theirs == ""); i++ {
		ip := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i))
		if w, _ := newestWinner(ip, []string{"node-a", "node-c"}); w == "node-a" && mine == "" {
			mine = ip.String()
		} else if w == "node-c" && theirs == "" {
			theirs = ip.String()
		}
	}
	lbService(t, c, "mine", nil, false, mine)
	lbService(t, c, "theirs", nil, false, theirs)

	startC := func() *member.List {
		m, err := member.New(member.Options{Name: "node-c", BindAddr: netip.MustParseAddr("127.0.0.3"), Port: port, Insecure: true, Logger: logr.Discard()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Shutdown() })
		return m
	}
	nodeC := startC()
	sp := startSpeaker(t, cfg, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	waitOwned(t, sp.l2, addrs(mine))

	// A loaded machine may take longer than envtest's 20s to finish the
	// graceful stop; it then kills the process, which is as unreachable.
	if err := env.ControlPlane.APIServer.Stop(); err != nil {
		t.Logf("stopping kube-apiserver: %v", err)
	}
	if err := c.Get(context.Background(), types.NamespacedName{Name: "node-a"}, &corev1.Node{}); err == nil {
		t.Fatal("the API server still answers")
	}
	_ = nodeC.Shutdown() // node-c's speaker dies
	waitOwned(t, sp.l2, addrs(mine, theirs))
	startC() // and comes back: found again from the cached Node
	waitOwned(t, sp.l2, addrs(mine))
}

func metaCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// An advertisement the speaker refuses says so in its status instead of
// silently announcing nothing: an aggregation reaching outside a pool entry
// (it would announce 0.0.0.0/0) and a large community with IronLB's
// reserved global administrator. The advertisement next to them is Ready.
func TestRefusedAdvertisementsShowInStatus(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	bgpAdv := func(name string, spec v1beta1.BGPAdvertisementSpec) *v1beta1.BGPAdvertisement {
		spec.IPAddressPools = []string{"lan"}
		return &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	}
	create(t, c, pool("lan", "192.0.2.0/28", "2001:db8:1::/64"),
		bgpAdv("agg-zero", v1beta1.BGPAdvertisementSpec{AggregationLength: ptr.To[int32](0)}),
		bgpAdv("agg-v6", v1beta1.BGPAdvertisementSpec{AggregationLengthV6: ptr.To[int32](48)}),
		bgpAdv("reserved", v1beta1.BGPAdvertisementSpec{Communities: []string{"64512:1", "large:4294967295:1:2"}}),
		bgpAdv("fine", v1beta1.BGPAdvertisementSpec{AggregationLength: ptr.To[int32](28)}))
	startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	web := lbService(t, c, "web", nil, false, "192.0.2.10")
	web.Annotations = map[string]string{v1beta1.AnnotationAllocatedFromPool: "lan"}
	if err := c.Update(context.Background(), web); err != nil {
		t.Fatal(err)
	}

	wantReady := func(name string, status metav1.ConditionStatus, reason, message string) {
		t.Helper()
		eventually(t, "status of BGPAdvertisement "+name, func() error {
			var a v1beta1.BGPAdvertisement
			if err := c.Get(context.Background(), types.NamespacedName{Name: name}, &a); err != nil {
				return err
			}
			ready := metaCondition(a.Status.Conditions, "Ready")
			if ready == nil || ready.Status != status || ready.Reason != reason || !strings.Contains(ready.Message, message) {
				return fmt.Errorf("Ready condition %+v", ready)
			}
			return nil
		})
	}
	wantReady("agg-zero", metav1.ConditionFalse, "InvalidAggregation",
		`aggregationLength 0 would announce 0.0.0.0/0 for entry "192.0.2.0/28" of IPAddressPool "lan", covering addresses outside it; the shortest length that stays inside the entry is 28`)
	wantReady("agg-v6", metav1.ConditionFalse, "InvalidAggregation",
		`aggregationLengthV6 48 would announce 2001:db8:1::/48 for entry "2001:db8:1::/64" of IPAddressPool "lan"`)
	wantReady("reserved", metav1.ConditionFalse, "InvalidCommunity",
		`spec.communities[1]: Invalid value: "large:4294967295:1:2": global administrator 4294967295 is reserved`)
	wantReady("fine", metav1.ConditionTrue, "Matched", "1 pools matched")
}

// A pool that is not Ready takes no address from a valid one: with an
// overlapping, invalid pool whose name sorts first, the valid pool's
// advertisement still announces the Service. A pool the controller has not
// validated yet announces once it is marked Ready, from that status update
// alone.
func TestInvalidPoolTakesNoAddress(t *testing.T) {
	c := newClient(t, sharedK)
	port := freePort(t, "127.0.0.1")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	l2For := func(name string) *v1beta1.L2Advertisement {
		a := l2adv(name)
		a.Spec.IPAddressPools = []string{name}
		return a
	}
	edge := pool("edge", "192.0.2.0/28")
	create(t, c, pool("lan", "192.0.2.0/24"), edge, l2For("lan"), l2For("late"))
	setPoolReady(t, c, edge, metav1.ConditionFalse, v1beta1.ReasonOverlap)
	sp := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})

	lbService(t, c, "web", nil, false, "192.0.2.10")
	waitOwned(t, sp.l2, addrs("192.0.2.10"))

	late := pool("late", "198.51.100.0/28")
	if err := c.Create(context.Background(), late); err != nil { // no status yet
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), late) })
	lbService(t, c, "api", nil, false, "198.51.100.5")
	// A decision made after api was seen, without announcing it: then only
	// the pool's status update can bring it in.
	lbService(t, c, "marker", nil, false, "192.0.2.11")
	waitOwned(t, sp.l2, addrs("192.0.2.10", "192.0.2.11"))
	setPoolReady(t, c, late, metav1.ConditionTrue, v1beta1.ReasonPoolValid)
	waitOwned(t, sp.l2, addrs("192.0.2.10", "192.0.2.11", "198.51.100.5"))
}

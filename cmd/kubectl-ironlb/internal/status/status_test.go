package status

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/api/v1beta1"
)

var (
	t0    = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	t1    = metav1.NewTime(t0.Add(time.Minute))
	class = v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: true}
)

func TestAnnouncementsIndex(t *testing.T) {
	idx := announcements([]v1beta1.ServiceAnnouncement{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web"},
		Status: v1beta1.ServiceAnnouncementStatus{
			Layer2: []v1beta1.L2AddressAnnouncement{{IP: "2001:db8:0::1", Node: "node-a"}},
			BGP:    []v1beta1.BGPAddressAnnouncement{{IP: "192.0.2.1", Nodes: []string{"node-a", "node-b"}}},
		},
	}})
	want := announceIndex{
		nodes: map[announceKey][]string{
			{"a/web", "2001:db8::1", Layer2}: {"node-a"}, // found under the address as Service status writes it
			{"a/web", "192.0.2.1", BGP}:      {"node-a", "node-b"},
		},
		reported: map[string]bool{"a/web": true},
	}
	if diff := cmp.Diff(want, idx, cmp.AllowUnexported(announceIndex{}, announceKey{})); diff != "" {
		t.Errorf("announcements (-want +got):\n%s", diff)
	}
}

func readyPool(name string, addrs ...string) v1beta1.IPAddressPool {
	p := v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tier": name}},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
	p.Status.Conditions = []metav1.Condition{{Type: v1beta1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonPoolValid}}
	return p
}

func svc(ns, name string, ips []string, cond *metav1.Condition, annotations map[string]string) corev1.Service {
	s := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	if cond != nil {
		s.Status.Conditions = []metav1.Condition{*cond}
	}
	return s
}

func allocated(pool string) *metav1.Condition {
	return &metav1.Condition{Type: v1beta1.ConditionIPAllocated, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonAllocated,
		Message: "Assigned from pool " + pool}
}

func snapshot() Snapshot {
	lan := readyPool("lan", "192.0.2.0/28", "2001:db8:1::/64")
	lan.Status.AssignedIPv4, lan.Status.AvailableIPv4 = 2, 14
	lan.Status.AssignedIPv6, lan.Status.AvailableIPv6 = 1, "18446744073709551615"
	wan := readyPool("wan", "198.51.100.0/28")
	wan.Status.AvailableIPv4 = 16
	bad := v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"127.0.0.0/30"}}}
	bad.Status.Conditions = []metav1.Condition{{Type: v1beta1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: v1beta1.ReasonInvalidAddress, Message: "spec.addresses[0]: loopback"}}

	l2 := v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"lan"}}}
	l2.Status.Nodes = []v1beta1.L2NodeStatus{{Node: "node-c", Unannounced: []v1beta1.UnannouncedAddress{{IP: "192.0.2.2", Reason: "no interface"}}}}
	bgp := v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "edge"},
		Spec: v1beta1.BGPAdvertisementSpec{IPAddressPoolSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "lan"}}}}}
	peer := v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"},
		Spec: v1beta1.BGPPeerSpec{MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1"}}
	peer.Status.Sessions = []v1beta1.BGPSessionStatus{
		{Node: "node-b", State: "Active", Message: "connection refused", LastTransitionTime: t0},
		{Node: "node-a", State: "Established", LastTransitionTime: t0},
	}

	return Snapshot{
		Pools:             []v1beta1.IPAddressPool{wan, lan, bad},
		L2Advertisements:  []v1beta1.L2Advertisement{l2},
		BGPAdvertisements: []v1beta1.BGPAdvertisement{bgp},
		Peers:             []v1beta1.BGPPeer{peer},
		Class:             class,
		Services: []corev1.Service{
			svc("a", "web", []string{"192.0.2.1", "2001:db8:1::1"}, allocated("lan"),
				map[string]string{v1beta1.AnnotationAllocatedFromPool: "lan"}),
			// No annotation yet (as right after a MetalLB migration): the
			// pool is found by address.
			svc("a", "api", []string{"192.0.2.2"}, allocated("lan"), nil),
			svc("b", "full", nil, &metav1.Condition{Type: v1beta1.ConditionIPAllocated, Status: metav1.ConditionFalse,
				Reason: v1beta1.ReasonPoolExhausted, Message: "every pool is full"}, nil),
			svc("b", "new", nil, nil, nil),
			func() corev1.Service {
				s := svc("b", "theirs", []string{"203.0.113.1"}, nil, nil)
				s.Spec.LoadBalancerClass = ptr.To("other.example/lb")
				return s
			}(),
			{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "cluster-ip"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}},
		},
		Announcements: []v1beta1.ServiceAnnouncement{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web"},
			Status: v1beta1.ServiceAnnouncementStatus{
				Layer2: []v1beta1.L2AddressAnnouncement{{IP: "192.0.2.1", Node: "node-b"}},
				BGP:    []v1beta1.BGPAddressAnnouncement{{IP: "192.0.2.1", Nodes: []string{"node-a", "node-b"}}},
			},
		}},
	}
}

func TestBuild(t *testing.T) {
	got := Build(snapshot(), "")
	want := Status{
		Pools: []Pool{
			{Name: "bad", Ready: "False", Reason: v1beta1.ReasonInvalidAddress, Message: "spec.addresses[0]: loopback",
				Addresses: []string{"127.0.0.0/30"}, IPv4: Usage{Free: "0"}, IPv6: Usage{Free: "0"}},
			{Name: "lan", Ready: "True", Reason: v1beta1.ReasonPoolValid, Addresses: []string{"192.0.2.0/28", "2001:db8:1::/64"},
				IPv4: Usage{Used: 2, Free: "14"}, IPv6: Usage{Used: 1, Free: "18446744073709551615"},
				Services: []string{"a/api", "a/web"}, L2Advertisements: []string{"l2"}, BGPAdvertisements: []string{"edge"}},
			{Name: "wan", Ready: "True", Reason: v1beta1.ReasonPoolValid, Addresses: []string{"198.51.100.0/28"},
				IPv4: Usage{Free: "16"}, IPv6: Usage{Free: "0"}},
		},
		Services: []Service{
			{Namespace: "a", Name: "api", IPs: []string{"192.0.2.2"}, Pool: "lan", Allocated: "True", Reason: v1beta1.ReasonAllocated,
				Message: "Assigned from pool lan", Announcements: []Announcement{
					{IP: "192.0.2.2", Protocol: Layer2, Problems: []string{"node node-c owns it but cannot announce it: no interface"}},
					{IP: "192.0.2.2", Protocol: BGP},
				}},
			{Namespace: "a", Name: "web", IPs: []string{"192.0.2.1", "2001:db8:1::1"}, Pool: "lan", Allocated: "True",
				Reason: v1beta1.ReasonAllocated, Message: "Assigned from pool lan", Announcements: []Announcement{
					{IP: "192.0.2.1", Protocol: Layer2, Known: true, Nodes: []string{"node-b"}},
					{IP: "192.0.2.1", Protocol: BGP, Known: true, Nodes: []string{"node-a", "node-b"}},
					{IP: "2001:db8:1::1", Protocol: Layer2, Known: true, Problems: []string{
						"no eligible node: none is Ready with a live speaker and matching the advertisement's nodeSelectors " +
							"(under externalTrafficPolicy Local, none also has a ready endpoint)"}},
					{IP: "2001:db8:1::1", Protocol: BGP, Known: true, Problems: []string{
						"no eligible node: none is Ready with a live speaker and matching the advertisement's nodeSelectors " +
							"(under externalTrafficPolicy Local, none also has a ready endpoint)"}},
				}},
			{Namespace: "b", Name: "full", Allocated: "False", Reason: v1beta1.ReasonPoolExhausted, Message: "every pool is full"},
			{Namespace: "b", Name: "new", Reason: ReasonNotReconciled, Message: "no ironlb.io/IPAllocated condition yet: " +
				"ironlb-controller has not handled it (is it running, and does it handle this Service's spec.loadBalancerClass?)"},
		},
		Peers: []Peer{{Name: "tor", Address: "198.51.100.1", MyASN: 64513, PeerASN: 64512, Sessions: []Session{
			{Node: "node-a", State: "Established", Since: &t0},
			{Node: "node-b", State: "Active", Message: "connection refused", Since: &t0},
		}}},
		OtherClass: 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build (-want +got):\n%s", diff)
	}
}

func TestBuildNamespace(t *testing.T) {
	got := Build(snapshot(), "b")
	var keys []string
	for _, s := range got.Services {
		keys = append(keys, s.Key())
	}
	if diff := cmp.Diff([]string{"b/full", "b/new"}, keys); diff != "" {
		t.Errorf("Services of namespace b (-want +got):\n%s", diff)
	}
	if got.OtherClass != 1 || len(got.Pools) != 3 || got.Pools[1].Services != nil {
		t.Errorf("pools %+v, other class %d: want every pool, none with a Service of b", got.Pools, got.OtherClass)
	}
}

func TestBuildNoAdvertisement(t *testing.T) {
	s := Snapshot{
		Pools:    []v1beta1.IPAddressPool{readyPool("lan", "192.0.2.0/28")},
		Services: []corev1.Service{svc("a", "web", []string{"192.0.2.1"}, allocated("lan"), nil)},
		Class:    class,
	}
	got := Build(s, "").Services[0].Announcements
	want := []Announcement{{IP: "192.0.2.1", Protocol: "none", Known: true,
		Problems: []string{"no L2Advertisement or BGPAdvertisement selects pool lan: nothing announces it"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("announcements (-want +got):\n%s", diff)
	}
}

func TestPrintTable(t *testing.T) {
	var buf bytes.Buffer
	if err := Print(&buf, Build(snapshot(), ""), FormatTable); err != nil {
		t.Fatal(err)
	}
	want := `POOL   READY   ADDRESSES                      IPV4 USED   IPV4 FREE   IPV6 USED   IPV6 FREE              SERVICES   ANNOUNCED BY
bad    False   127.0.0.0/30                   0           0           0           0                      0          nothing
lan    True    192.0.2.0/28,2001:db8:1::/64   2           14          1           18446744073709551615   2          l2:l2 bgp:edge
wan    True    198.51.100.0/28                0           16          0           0                      0          nothing

SERVICE   POOL   IPS                       ALLOCATED   ANNOUNCED BY
a/api     lan    192.0.2.2                 True        192.0.2.2 layer2:? bgp:?
a/web     lan    192.0.2.1,2001:db8:1::1   True        192.0.2.1 layer2:node-b bgp:node-a,node-b 2001:db8:1::1 layer2:none bgp:none
b/full    -      -                         False       -
b/new     -      -                         -           -

PENDING SERVICE   REASON          MESSAGE
b/full            PoolExhausted   every pool is full
b/new             NotReconciled   no ironlb.io/IPAllocated condition yet: ironlb-controller has not handled it (is it running, and does it handle this Service's spec.loadBalancerClass?)

1 LoadBalancer Service(s) of another spec.loadBalancerClass not shown.

BGP PEER   ADDRESS        MY ASN   PEER ASN   NODE     STATE         MESSAGE
tor        198.51.100.1   64513    64512      node-a   Established   -
tor        198.51.100.1   64513    64512      node-b   Active        connection refused
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestPrintWide(t *testing.T) {
	var buf bytes.Buffer
	if err := Print(&buf, Build(snapshot(), ""), FormatWide); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"InvalidAddress: spec.addresses[0]: loopback",
		"192.0.2.2: node node-c owns it but cannot announce it: no interface",
		"2026-01-02T03:04:05Z",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("wide output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestPrintStructured(t *testing.T) {
	st := Build(snapshot(), "")
	for _, format := range []string{FormatYAML, FormatJSON} {
		var buf bytes.Buffer
		if err := Print(&buf, st, format); err != nil {
			t.Fatal(err)
		}
		var back Status
		var err error
		if format == FormatJSON {
			err = json.Unmarshal(buf.Bytes(), &back)
		} else {
			err = yaml.Unmarshal(buf.Bytes(), &back)
		}
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if diff := cmp.Diff(st, back); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", format, diff)
		}
	}
	if err := Print(&bytes.Buffer{}, st, "name"); err == nil {
		t.Error("an unknown format is no error")
	}
}

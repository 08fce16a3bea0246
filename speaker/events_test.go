package speaker

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
	bgpprotocol "github.com/ironlb/ironlb/speaker/protocol/bgp"
	l2protocol "github.com/ironlb/ironlb/speaker/protocol/layer2"
)

// protocols are the speaker's, as run.go registers them; the tracker only
// asks them who announces and how to word it.
var protocols = []protocol.Protocol{l2protocol.New(nil), bgpprotocol.New(nil, "")}

var (
	ip1 = netip.MustParseAddr("192.0.2.10")
	ip2 = netip.MustParseAddr("2001:db8::10")
)

func l2Result(owners map[netip.Addr]string) announce.Result {
	l2 := map[netip.Addr]announce.L2Announcement{}
	for ip, n := range owners {
		l2[ip] = announce.L2Announcement{Node: n}
	}
	return announce.NewResult(l2, nil)
}

func bgpResult(nodes map[netip.Addr][]string) announce.Result {
	bgp := map[netip.Addr]announce.BGPAnnouncement{}
	for ip, n := range nodes {
		bgp[ip] = announce.BGPAnnouncement{Nodes: n}
	}
	return announce.NewResult(nil, bgp)
}

// Each step feeds a decision to the tracker of one speaker ("self") and lists
// the events that speaker must emit.
func TestEventTracker(t *testing.T) {
	svc := map[string][]netip.Addr{"ns/web": {ip1}}
	type step struct {
		res     announce.Result
		current map[string][]netip.Addr
		self    string
		want    []serviceEvent
	}
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "the new layer-2 owner reports, once",
		steps: []step{
			{res: l2Result(map[netip.Addr]string{ip1: "n1"}), current: svc, self: "n1",
				want: []serviceEvent{{"ns/web", "Announcing 192.0.2.10 by layer 2 from node n1"}}},
			{res: l2Result(map[netip.Addr]string{ip1: "n1"}), current: svc, self: "n1"},
			{res: l2Result(map[netip.Addr]string{ip1: "n1"}), current: svc, self: "n1"},
		},
	}, {
		name: "takeover names the previous owner; the old owner says nothing",
		steps: []step{
			{res: l2Result(map[netip.Addr]string{ip1: "n2"}), current: svc, self: "n1"},
			{res: l2Result(map[netip.Addr]string{ip1: "n1"}), current: svc, self: "n1",
				want: []serviceEvent{{"ns/web", "Announcing 192.0.2.10 by layer 2 from node n1, taking over from node n2"}}},
		},
	}, {
		name: "another node taking over: not this node's event",
		steps: []step{
			{res: l2Result(map[netip.Addr]string{ip1: "n1"}), current: svc, self: "n1",
				want: []serviceEvent{{"ns/web", "Announcing 192.0.2.10 by layer 2 from node n1"}}},
			{res: l2Result(map[netip.Addr]string{ip1: "n3"}), current: svc, self: "n1"},
		},
	}, {
		name: "no node left: the lowest live speaker reports",
		steps: []step{
			{res: l2Result(map[netip.Addr]string{ip1: "n2"}), current: svc, self: "n1"},
			{res: l2Result(nil), current: svc, self: "n1",
				want: []serviceEvent{{"ns/web", "192.0.2.10 is no longer announced by layer 2 (was node n2): no eligible node"}}},
		},
	}, {
		name: "a deleted service or a released address is forgotten silently",
		steps: []step{
			{res: l2Result(map[netip.Addr]string{ip1: "n2"}), current: svc, self: "n1"},
			{res: l2Result(nil), current: map[string][]netip.Addr{}, self: "n1"},
		},
	}, {
		name: "BGP: the first advertising node reports the set when it changes",
		steps: []step{
			{res: bgpResult(map[netip.Addr][]string{ip1: {"n1", "n2"}}), current: svc, self: "n1",
				want: []serviceEvent{{"ns/web", "Advertising 192.0.2.10 by BGP from nodes n1, n2"}}},
			{res: bgpResult(map[netip.Addr][]string{ip1: {"n1", "n2"}}), current: svc, self: "n1"},
			{res: bgpResult(map[netip.Addr][]string{ip1: {"n1", "n2", "n3"}}), current: svc, self: "n1",
				want: []serviceEvent{{"ns/web", "Advertising 192.0.2.10 by BGP from nodes n1, n2, n3"}}},
		},
	}, {
		name: "BGP: a node that is not first stays quiet",
		steps: []step{
			{res: bgpResult(map[netip.Addr][]string{ip1: {"n1", "n2"}}), current: svc, self: "n2"},
		},
	}, {
		name: "BGP: withdrawn everywhere is reported by the lowest live speaker",
		steps: []step{
			{res: bgpResult(map[netip.Addr][]string{ip1: {"n2"}}), current: svc, self: "n1"},
			{res: bgpResult(nil), current: svc, self: "n1",
				want: []serviceEvent{{"ns/web", "192.0.2.10 is no longer advertised by BGP (was nodes n2): no eligible node"}}},
		},
	}, {
		name: "dual-stack: one event per address that changed",
		steps: []step{
			{res: l2Result(map[netip.Addr]string{ip1: "n1", ip2: "n2"}), current: map[string][]netip.Addr{"ns/web": {ip1, ip2}}, self: "n1",
				want: []serviceEvent{{"ns/web", "Announcing 192.0.2.10 by layer 2 from node n1"}}},
			{res: l2Result(map[netip.Addr]string{ip1: "n1", ip2: "n1"}), current: map[string][]netip.Addr{"ns/web": {ip1, ip2}}, self: "n1",
				want: []serviceEvent{{"ns/web", "Announcing 2001:db8::10 by layer 2 from node n1, taking over from node n2"}}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newEventTracker(protocols...)
			for i, s := range tc.steps {
				got := tr.observe(announcedBy(protocols, s.res), s.current, nil, s.self, "n1")
				if diff := cmp.Diff(s.want, got, cmp.AllowUnexported(serviceEvent{}), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("step %d: events (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestReadyEndpointNodes(t *testing.T) {
	slice := func(ns, svc string, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
		return discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			Endpoints:  eps,
		}
	}
	ep := func(node string, ready *bool) discoveryv1.Endpoint {
		e := discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: ready}}
		if node != "" {
			e.NodeName = ptr.To(node)
		}
		return e
	}
	got := readyEndpointNodes([]discoveryv1.EndpointSlice{
		slice("ns", "web", ep("n2", ptr.To(true)), ep("n1", nil), ep("n3", ptr.To(false)), ep("", ptr.To(true))),
		slice("ns", "web", ep("n2", ptr.To(true))),
		slice("other", "web", ep("n4", ptr.To(true))),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Endpoints: []discoveryv1.Endpoint{ep("n5", nil)}}, // no service label
	})
	want := map[string][]string{"ns/web": {"n1", "n2"}, "other/web": {"n4"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ready endpoint nodes (-want +got):\n%s", diff)
	}
}

func TestNodeFrom(t *testing.T) {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"a": "b"}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue},
		}},
	}
	want := announce.Node{Name: "n1", Labels: map[string]string{"a": "b"}, Ready: true, NetworkUnavailable: true}
	if diff := cmp.Diff(want, nodeFrom(n)); diff != "" {
		t.Errorf("nodeFrom (-want +got):\n%s", diff)
	}
}

// announcedAt is announcedBy for the addresses asked about: those changed
// and every address of the Services named, and nothing else.
func TestAnnouncedAtMatchesAnnouncedBy(t *testing.T) {
	ip3 := netip.MustParseAddr("192.0.2.11")
	l2 := map[netip.Addr]announce.L2Announcement{ip1: {Node: "n1"}, ip2: {Node: "n2"}, ip3: {Node: "n3"}}
	bgp := map[netip.Addr]announce.BGPAnnouncement{ip1: {Nodes: []string{"n1", "n2"}}, ip3: {Nodes: []string{"n3"}}}
	res := announce.NewResult(l2, bgp)
	all := announcedBy(protocols, res)
	got := announcedAt(protocols, res, []netip.Addr{ip1}, map[string][]netip.Addr{"ns/web": {ip2}, "ns/gone": nil})
	want := map[string]map[netip.Addr][]string{}
	for name, byIP := range all {
		want[name] = map[netip.Addr][]string{}
		for _, ip := range []netip.Addr{ip1, ip2} {
			if nodes, ok := byIP[ip]; ok {
				want[name][ip] = nodes
			}
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("announcedAt (-announcedBy for ip1, ip2 +got):\n%s", diff)
	}
}

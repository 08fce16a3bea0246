package bgp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

func TestNodePeers(t *testing.T) {
	peer := func(name string, sels ...metav1.LabelSelector) v1beta1.BGPPeer {
		return v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPPeerSpec{NodeSelectors: sels}}
	}
	rack := func(r string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: map[string]string{"rack": r}}
	}
	bad := metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "rack", Operator: "Bogus"}}}
	nodes := []announce.Node{
		{Name: "node-a", Labels: map[string]string{"rack": "1"}},
		{Name: "node-b", Labels: map[string]string{"rack": "2"}},
		{Name: "node-c"},
	}
	got := NodePeers([]v1beta1.BGPPeer{peer("tor-2", rack("2")), peer("core"), peer("tor-1", rack("1")), peer("broken", bad)}, nodes)
	want := map[string][]string{"node-a": {"core", "tor-1"}, "node-b": {"core", "tor-2"}, "node-c": {"core"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NodePeers (-want +got):\n%s", diff)
	}
}

func TestRoutePeers(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.5")
	host := netip.MustParsePrefix("192.0.2.5/32")
	agg := netip.MustParsePrefix("192.0.2.0/24")
	other := netip.MustParsePrefix("198.51.100.0/24")
	nodePeers := []string{"core", "tor-1"}
	tests := []struct {
		name   string
		routes []announce.Route
		want   []string
	}{
		{"no route holds it", []announce.Route{{Prefix: other}}, nil},
		{"a route to every peer", []announce.Route{{Prefix: host}}, []string{"core", "tor-1"}},
		{"an aggregate to named peers", []announce.Route{{Prefix: agg, Peers: []string{"tor-1"}}}, []string{"tor-1"}},
		{"named peers the node lacks reach nothing", []announce.Route{{Prefix: host, Peers: []string{"tor-2"}}}, nil},
		{"two advertisements: the union", []announce.Route{
			{Prefix: host, Peers: []string{"tor-1"}}, {Prefix: agg, Peers: []string{"core", "tor-2"}},
		}, []string{"core", "tor-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, RoutePeers(tc.routes, ip, nodePeers)); diff != "" {
				t.Errorf("RoutePeers (-want +got):\n%s", diff)
			}
		})
	}
}

package speaker

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GoBGP listens on the Node's InternalIPs, both families, unless addresses
// are given; never on every address of the host.
func TestBGPListenAddresses(t *testing.T) {
	node := func(addrs ...corev1.NodeAddress) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Status: corev1.NodeStatus{Addresses: addrs}}
	}
	internal := func(ip string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
	}
	external := corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.5"}
	ips := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	tests := []struct {
		name    string
		port    int32
		given   []netip.Addr
		node    *corev1.Node
		want    []netip.Addr
		wantErr string
	}{
		{name: "dual-stack node: both InternalIPs", port: 179, node: node(external, internal("192.0.2.11"), internal("2001:db8::11")),
			want: ips("192.0.2.11", "2001:db8::11")},
		{name: "addresses given win", port: 179, given: ips("198.51.100.7"), node: node(internal("192.0.2.11")),
			want: ips("198.51.100.7")},
		{name: "not listening: nothing needed", port: -1, node: node()},
		{name: "no InternalIP to listen on", port: 179, node: node(external), wantErr: "set --bgp-listen-address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bgpListenAddresses(Options{BGPListenPort: tt.port, BGPListenAddresses: tt.given}, tt.node)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("listen addresses (-want +got):\n%s", diff)
			}
		})
	}
}

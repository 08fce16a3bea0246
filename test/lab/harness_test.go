//go:build lab

package lab_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/test/lab"
)

// TestHarness checks the lab itself with the kernel standing in for a
// speaker: addresses added to a node's eth0 are answered by that node's
// kernel, which is what the probes must see.
func TestHarness(t *testing.T) {
	ctx := t.Context()
	l := lab.New(t, lab.Options{Router: &lab.RouterConfig{}, SecondLAN: true})
	nodeA, nodeB, nodeC := l.Node("node-a"), l.Node("node-b"), l.Node("node-c")

	t.Run("API server reachable from a node namespace", func(t *testing.T) {
		out, err := l.KubectlFrom(ctx, &nodeB.Host, "get", "nodes", "-o", "name")
		if err != nil {
			t.Fatal(err)
		}
		want := "node/node-a\nnode/node-b\nnode/node-c\n"
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("kubectl get nodes from %s (-want +got):\n%s", nodeB.Netns, diff)
		}
	})

	t.Run("nodes are Ready with their addresses", func(t *testing.T) {
		for _, n := range l.Nodes {
			node, err := n.NodeObject(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ready corev1.ConditionStatus
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					ready = c.Status
				}
			}
			if ready != corev1.ConditionTrue || node.Status.Addresses[0].Address != n.IPv4.String() {
				t.Errorf("node %s: Ready=%q addresses %v", n.Name, ready, node.Status.Addresses)
			}
		}
	})

	vip4 := netip.MustParseAddr("203.0.113.99")
	vip6 := netip.MustParseAddr("2001:db8:200::99")
	addVIP := func(t *testing.T, n *lab.Node, ifname string, ip netip.Addr) {
		t.Helper()
		pfx := netip.PrefixFrom(ip, ip.BitLen()).String()
		if _, err := l.Exec(ctx, &n.Host, "ip", "addr", "add", pfx, "dev", ifname, "nodad"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = l.Exec(context.Background(), &n.Host, "ip", "addr", "del", pfx, "dev", ifname) })
	}

	t.Run("arping and ndisc6 name the answering nodes", func(t *testing.T) {
		check := func(ifname string, ip netip.Addr, want []string) {
			t.Helper()
			got, err := l.Answerers(ctx, ifname, ip)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("answerers of %s on %s (-want +got):\n%s", ip, ifname, diff)
			}
		}
		check("eth0", vip4, nil)
		check("eth0", vip6, nil)
		addVIP(t, nodeB, "eth0", vip4)
		addVIP(t, nodeB, "eth0", vip6)
		check("eth0", vip4, []string{"node-b"})
		check("eth0", vip6, []string{"node-b"})
		// Two answers are seen as two, so a test can tell a split brain.
		addVIP(t, nodeC, "eth0", vip4)
		addVIP(t, nodeC, "eth0", vip6)
		check("eth0", vip4, []string{"node-b", "node-c"})
		check("eth0", vip6, []string{"node-b", "node-c"})
		check("eth1", netip.MustParseAddr("192.0.2.12"), []string{"node-b"})
	})

	t.Run("ARP watcher sees gratuitous ARP and probes", func(t *testing.T) {
		w, err := l.WatchARP("eth0")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		gratuitous := netip.MustParseAddr("203.0.113.98")
		sent := time.Now()
		// arping exits 1 as nobody answers a gratuitous request.
		_, _ = l.Exec(ctx, &nodeA.Host, "arping", "-U", "-c", "1", "-i", "eth0", "-S", gratuitous.String(), gratuitous.String())
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		e, err := w.WaitGratuitous(wctx, sent, gratuitous, nil)
		if err != nil {
			t.Fatalf("no gratuitous ARP seen: %v (events %v)", err, w.Events())
		}
		if !bytes.Equal(e.SenderMAC, nodeA.MAC) {
			t.Errorf("gratuitous ARP from %s, want node-a %s", e.SenderMAC, nodeA.MAC)
		}
		probe := netip.MustParseAddr("203.0.113.97")
		addVIP(t, nodeA, "eth0", probe)
		reply, err := w.Probe(wctx, probe, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if n := l.NodeByMAC(reply.SenderMAC); n != nodeA {
			t.Errorf("probe of %s answered by %s, want node-a", probe, reply.SenderMAC)
		}
	})

	t.Run("cut link isolates a node", func(t *testing.T) {
		if err := l.CutLink(ctx, &nodeC.Host); err != nil {
			t.Fatal(err)
		}
		if got, _ := l.Arping(ctx, "eth0", nodeC.IPv4); len(got) != 0 {
			t.Errorf("cut node-c still answers with %v", got)
		}
		if err := l.RestoreLink(ctx, &nodeC.Host); err != nil {
			t.Fatal(err)
		}
		got, err := l.Arping(ctx, "eth0", nodeC.IPv4)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], nodeC.MAC) {
			t.Errorf("restored node-c answers %v, %v; want %s", got, err, nodeC.MAC)
		}
	})

	t.Run("FRR runs and lists the nodes as neighbors", func(t *testing.T) {
		sessions, err := l.Router.Sessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range l.Nodes {
			s, ok := sessions[n.IPv4.String()]
			if !ok || s.State == "Established" {
				t.Errorf("FRR neighbor %s: %+v present=%v, want a configured, not established session", n.IPv4, s, ok)
			}
		}
	})

	t.Run("route watcher sees kernel route changes in the router", func(t *testing.T) {
		w, err := l.Router.WatchRoutes()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		since := time.Now()
		single, multi := netip.MustParsePrefix("203.0.113.96/32"), netip.MustParsePrefix("203.0.113.95/32")
		for _, args := range [][]string{
			{"ip", "route", "add", single.String(), "via", nodeA.IPv4.String()},
			{"ip", "route", "add", multi.String(), "nexthop", "via", nodeA.IPv4.String(), "nexthop", "via", nodeB.IPv4.String()},
			{"ip", "route", "del", single.String()},
		} {
			if _, err := l.Exec(ctx, &l.Router.Host, args...); err != nil {
				t.Fatal(err)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for _, want := range []struct {
			prefix netip.Prefix
			hops   []string
		}{
			{single, []string{nodeA.IPv4.String()}},
			{multi, []string{nodeA.IPv4.String(), nodeB.IPv4.String()}},
			{single, nil},
		} {
			if _, err := w.WaitNextHops(wctx, since, want.prefix, want.hops...); err != nil {
				t.Errorf("route %s via %v not seen: %v (events %+v)", want.prefix, want.hops, err, w.Events())
			}
		}
		out, err := l.Router.Vtysh(ctx, "show running-config")
		if err != nil || !strings.Contains(out, "no zebra nexthop kernel enable") {
			t.Errorf("zebra does not run with its config: %v\n%s", err, out)
		}
	})

	t.Run("API server stops and starts with the same state", func(t *testing.T) {
		if err := l.StopAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Kubectl(ctx, "get", "nodes", "--request-timeout=2s"); err == nil {
			t.Error("kubectl works with the API server stopped")
		}
		if err := l.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		out, err := l.KubectlFrom(ctx, &nodeA.Host, "get", "nodes", "-o", "name")
		if err != nil || strings.Count(out, "node/") != 3 {
			t.Errorf("after restart kubectl from node-a: %q, %v", out, err)
		}
	})
}

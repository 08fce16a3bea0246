//go:build lab

package lab_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/test/lab"
)

// excludeLabel keeps a node out of external load balancers (docs/api.md,
// "Which node announces").
const excludeLabel = corev1.LabelNodeExcludeBalancers

// l2Objects is the layer-2 setup every L2 test starts from: one pool of
// IPv4 and IPv6 addresses announced by one L2Advertisement.
func l2Objects() []client.Object {
	return []client.Object{
		lab.Pool("l2", lab.PoolRangeV4, lab.PoolRangeV6),
		lab.L2Advertisement("l2", "l2"),
	}
}

// TestLayer2 checks, from the client namespace with arping and ndisc6, which
// node answers for each address, under the rules of docs/api.md, "Which
// node announces".
func TestLayer2(t *testing.T) {
	l := newLab(t, lab.Options{SecondLAN: true})
	ctx := t.Context()
	if err := l.Create(ctx, l2Objects()...); err != nil {
		t.Fatal(err)
	}

	t.Run("IPv4 answered by the elected node's MAC", func(t *testing.T) {
		ip := createService(t, l, lab.LoadBalancer("web4", lab.FromPool("l2")))
		n := owner(t, l, ip)
		// The node every speaker agrees on (each exports only what it
		// announces itself) is the one whose MAC the client got.
		waitAnnouncers(t, l, ip, "layer2", n.Name)
		macs, err := l.Arping(ctx, "eth0", ip)
		if err != nil {
			t.Fatal(err)
		}
		if len(macs) != 1 || !bytes.Equal(macs[0], n.MAC) {
			t.Errorf("arping %s: %v, want only %s of %s", ip, macs, n.MAC, n.Name)
		}
	})

	t.Run("IPv6 answered by the elected node's MAC", func(t *testing.T) {
		ip := createService(t, l, lab.LoadBalancer("web6", lab.FromPool("l2"), lab.IPv6Only))
		if !ip.Is6() {
			t.Fatalf("IPv6 service got %s", ip)
		}
		n := owner(t, l, ip)
		waitAnnouncers(t, l, ip, "layer2", n.Name)
		macs, err := l.Ndisc(ctx, "eth0", ip)
		if err != nil {
			t.Fatal(err)
		}
		if len(macs) != 1 || !bytes.Equal(macs[0], n.MAC) {
			t.Errorf("ndisc6 %s: %v, want only %s of %s", ip, macs, n.MAC, n.Name)
		}
	})

	t.Run("no ready endpoint, no answer", func(t *testing.T) {
		local := lab.LoadBalancer("local-none", lab.FromPool("l2"), lab.Local)
		control := lab.LoadBalancer("control", lab.FromPool("l2"))
		ip := createService(t, l, local)
		owner(t, l, createService(t, l, control)) // the speakers are up to date
		staysUnanswered(t, l, "eth0", ip)
		// An endpoint that is not ready does not count.
		if err := l.SetEndpoints(ctx, local, lab.Endpoint{Node: "node-a", Ready: false}); err != nil {
			t.Fatal(err)
		}
		staysUnanswered(t, l, "eth0", ip)
	})

	t.Run("Local policy answers from the endpoint's node and follows it", func(t *testing.T) {
		svc := lab.LoadBalancer("local", lab.FromPool("l2"), lab.Local)
		ip := createService(t, l, svc)
		nodeA, nodeB, nodeC := l.Node("node-a"), l.Node("node-b"), l.Node("node-c")
		setEndpoints(t, l, svc, lab.Endpoint{Node: nodeA.Name, Ready: false}, lab.Endpoint{Node: nodeB.Name, Ready: true})
		waitAnswerers(t, l, "eth0", ip, nodeB.Name)
		waitAnnouncers(t, l, ip, "layer2", nodeB.Name)

		w, err := l.WatchARP("eth0")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for _, to := range []*lab.Node{nodeC, nodeA} {
			moved := time.Now()
			setEndpoints(t, l, svc, lab.Endpoint{Node: to.Name, Ready: true})
			waitAnswerers(t, l, "eth0", ip, to.Name)
			wctx, cancel := context.WithTimeout(ctx, settle)
			e, err := w.WaitGratuitous(wctx, moved, ip, func(mac net.HardwareAddr) bool { return bytes.Equal(mac, to.MAC) })
			cancel()
			if err != nil {
				t.Fatalf("no gratuitous ARP from %s after the endpoint moved there: %v", to.Name, err)
			}
			t.Logf("endpoint moved to %s: gratuitous ARP after %v", to.Name, e.Time.Sub(moved).Round(time.Millisecond))
		}

		setEndpoints(t, l, svc) // the last endpoint goes
		waitAnswerers(t, l, "eth0", ip)
		waitAnnouncers(t, l, ip, "layer2")
	})

	t.Run("excluded node does not answer", func(t *testing.T) {
		ip := createService(t, l, lab.LoadBalancer("excl", lab.FromPool("l2")))
		first := owner(t, l, ip)
		setLabel(t, first, excludeLabel, ptr(""))
		waitOwnerAmong(t, l, ip, otherThan(l, first))
		for _, n := range l.Nodes {
			setLabel(t, n, excludeLabel, ptr(""))
		}
		waitAnswerers(t, l, "eth0", ip)
		for _, n := range l.Nodes {
			setLabel(t, n, excludeLabel, nil)
		}
		// The decision is a function of the eligible nodes: the same set
		// elects the same node again.
		waitAnswerers(t, l, "eth0", ip, first.Name)
	})

	t.Run("nodeSelectors of the L2Advertisement choose the nodes", func(t *testing.T) {
		const key = "lab.ironlb.io/l2"
		pool := lab.Pool("sel", "203.0.113.60-203.0.113.69")
		pool.Spec.AutoAssign = ptr(false)
		adv := lab.L2Advertisement("sel", "sel")
		adv.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{key: "yes"}}}
		if err := l.Create(ctx, pool, adv); err != nil {
			t.Fatal(err)
		}
		nodeA, nodeC := l.Node("node-a"), l.Node("node-c")
		setLabel(t, nodeC, key, ptr("yes"))
		var ips []netip.Addr
		for _, name := range []string{"sel-1", "sel-2", "sel-3", "sel-4"} {
			ips = append(ips, createService(t, l, lab.LoadBalancer(name, lab.FromPool("sel"))))
		}
		for _, ip := range ips {
			waitAnswerers(t, l, "eth0", ip, nodeC.Name)
		}
		setLabel(t, nodeA, key, ptr("yes"))
		setLabel(t, nodeC, key, nil)
		for _, ip := range ips {
			waitAnswerers(t, l, "eth0", ip, nodeA.Name)
		}
	})

	t.Run("interfaces of the L2Advertisement choose the links", func(t *testing.T) {
		pool := lab.Pool("eth1-only", "203.0.113.70-203.0.113.79")
		pool.Spec.AutoAssign = ptr(false)
		adv := lab.L2Advertisement("eth1-only", "eth1-only")
		adv.Spec.Interfaces = []string{"eth1"}
		if err := l.Create(ctx, pool, adv); err != nil {
			t.Fatal(err)
		}
		ip := createService(t, l, lab.LoadBalancer("on-eth1", lab.FromPool("eth1-only")))
		var got []string
		err := lab.Poll(ctx, settle, every, func(ctx context.Context) error {
			var err error
			got, err = l.Answerers(ctx, "eth1", ip)
			if err == nil && len(got) != 1 {
				err = fmt.Errorf("answerers on eth1 %v, want one node", got)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		macs, err := l.Arping(ctx, "eth1", ip)
		if err != nil {
			t.Fatal(err)
		}
		if n := l.Node(got[0]); len(macs) != 1 || !bytes.Equal(macs[0], n.MAC2) {
			t.Errorf("answer on eth1 from %v, want %s's eth1 %s", macs, n.Name, n.MAC2)
		}
		staysUnanswered(t, l, "eth0", ip)
	})

	t.Run("unassigned addresses get no answer", func(t *testing.T) {
		assigned := assignedIPs(t, l)
		owner(t, l, assigned[0]) // the speakers are up to date
		unassigned := []netip.Addr{
			firstFree(t, netip.MustParseAddr("203.0.113.10"), assigned), // in a pool
			firstFree(t, netip.MustParseAddr("2001:db8:200::10"), assigned),
			netip.MustParseAddr("203.0.113.100"), // in no pool
		}
		for _, ip := range unassigned {
			staysUnanswered(t, l, "eth0", ip)
		}
	})
}

// TestLayer2Failover kills the owner's speaker with SIGKILL, then stops one
// with SIGTERM, and checks that another node takes over and announces it
// with a gratuitous ARP.
func TestLayer2Failover(t *testing.T) {
	l := newLab(t, lab.Options{})
	ctx := t.Context()
	if err := l.Create(ctx, l2Objects()...); err != nil {
		t.Fatal(err)
	}
	ip := createService(t, l, lab.LoadBalancer("web", lab.FromPool("l2")))
	first := owner(t, l, ip)
	w, err := l.WatchARP("eth0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			waitAnswerers(t, l, "eth0", ip, first.Name)
			stopped := time.Now()
			if err := first.KillSpeaker(sig); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, settle)
			defer cancel()
			e, err := w.WaitGratuitous(wctx, stopped, ip, func(mac net.HardwareAddr) bool {
				n := l.NodeByMAC(mac)
				return n != nil && n != first
			})
			if err != nil {
				t.Fatalf("no gratuitous ARP from another node after %v of %s's speaker: %v", sig, first.Name, err)
			}
			next := l.NodeByMAC(e.SenderMAC)
			t.Logf("%v of %s's speaker: %s took over, gratuitous ARP after %v",
				sig, first.Name, next.Name, e.Time.Sub(stopped).Round(time.Millisecond))
			waitAnswerers(t, l, "eth0", ip, next.Name)

			// A restarted speaker resumes: the same live nodes elect the
			// same owner again.
			if err := first.StartSpeaker(ctx); err != nil {
				t.Fatal(err)
			}
			waitAnswerers(t, l, "eth0", ip, first.Name)
		})
	}
}

// TestLayer2APIServerDown stops the API server: answers continue, and a
// failover still happens, since speakers see each other without it.
func TestLayer2APIServerDown(t *testing.T) {
	l := newLab(t, lab.Options{})
	ctx := t.Context()
	if err := l.Create(ctx, l2Objects()...); err != nil {
		t.Fatal(err)
	}
	ip := createService(t, l, lab.LoadBalancer("web", lab.FromPool("l2")))
	first := owner(t, l, ip)
	if err := l.StopAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	// Long enough for the speakers' watches to fail and retry a few times.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		got, err := l.Answerers(ctx, "eth0", ip)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{first.Name}) {
			t.Fatalf("with the API server down %s is answered by %v, want %s", ip, got, first.Name)
		}
	}
	if err := first.KillSpeaker(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitOwnerAmong(t, l, ip, otherThan(l, first))

	if err := l.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.StartSpeaker(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnswerers(t, l, "eth0", ip, first.Name)
}

// waitOwnerAmong waits until exactly one node answers for ip and it is one of
// names; it returns that node.
func waitOwnerAmong(t testing.TB, l *lab.Lab, ip netip.Addr, names []string) *lab.Node {
	t.Helper()
	var got []string
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		var err error
		if got, err = l.Answerers(ctx, "eth0", ip); err != nil {
			return err
		}
		if len(got) != 1 || !slices.Contains(names, got[0]) {
			return fmt.Errorf("answerers %v, want one of %v", got, names)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", ip, err)
	}
	return l.Node(got[0])
}

// setEndpoints replaces the Service's endpoints.
func setEndpoints(t testing.TB, l *lab.Lab, svc *corev1.Service, eps ...lab.Endpoint) {
	t.Helper()
	if err := l.SetEndpoints(t.Context(), svc, eps...); err != nil {
		t.Fatal(err)
	}
}

// setLabel sets or (nil) removes a node label, and removes it when the test
// ends.
func setLabel(t testing.TB, n *lab.Node, key string, value *string) {
	t.Helper()
	if err := n.SetLabel(t.Context(), key, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.SetLabel(context.Background(), key, nil) })
}

// assignedIPs lists every address in a Service status.
func assignedIPs(t testing.TB, l *lab.Lab) []netip.Addr {
	t.Helper()
	var list corev1.ServiceList
	if err := l.Kube.List(t.Context(), &list); err != nil {
		t.Fatal(err)
	}
	var ips []netip.Addr
	for i := range list.Items {
		got, err := l.Ingress(t.Context(), &list.Items[i])
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, got...)
	}
	if len(ips) == 0 {
		t.Fatal("no Service has an address")
	}
	return ips
}

// firstFree returns the first address from start that is not in used.
func firstFree(t testing.TB, start netip.Addr, used []netip.Addr) netip.Addr {
	t.Helper()
	for ip := start; ip.IsValid(); ip = ip.Next() {
		if !slices.Contains(used, ip) {
			return ip
		}
	}
	t.Fatalf("no free address after %s", start)
	return netip.Addr{}
}

//go:build lab

package cluster_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/test/cluster/echo"
	"github.com/ironlb/ironlb/test/lab"
)

// TestCluster is what a user does first: install IronLB with Helm on real
// nodes, give it a pool, expose an application with a LoadBalancer Service,
// and reach the application through the external IP, the way Kubernetes in
// Action (§11.2) walks through it. The steps share one cluster and run in
// order: each builds on the one before.
func TestCluster(t *testing.T) {
	l := newCluster(t)
	ctx := t.Context()

	t.Run("install with helm", func(t *testing.T) { install(t, l) })
	if t.Failed() {
		t.FailNow()
	}
	t.Run("webhooks served through their Service", func(t *testing.T) { webhookRejects(t, l) })
	apply(t, l, poolsManifest)
	deployBackend(t, l, "web", 3)

	t.Run("cluster policy reaches every node's backend", func(t *testing.T) {
		svc := expose(t, l, "web-cluster", "web")
		vip := ingress(t, l, svc, 4)
		owner := arpOwner(t, l, vip)
		// The speaker answers ARP as soon as the address is assigned;
		// kube-proxy programs the address within its sync period, and
		// until then the node refuses the traffic (net unreachable).
		getEventually(t, l, l.Client, netip.Addr{}, vip)
		seen := map[string]bool{}
		var replies []echo.Reply
		for range 60 {
			r, err := get(ctx, l, l.Client, netip.Addr{}, vip)
			if err != nil {
				t.Fatalf("GET http://%s/: %v", vip, err)
			}
			seen[r.Node] = true
			replies = append(replies, r)
		}
		if len(seen) != len(l.Nodes) {
			t.Errorf("60 requests to %s reached backends on %v, want every node", vip, keys(seen))
		}
		// The book's trade-off, shown: under the Cluster policy a request is
		// source-NATed by the node that received it, so no backend sees the
		// client, and one on another node sees that node's address.
		for _, r := range replies {
			if r.Client == l.Client.IPv4.String() {
				t.Errorf("backend %s on %s saw the client's own address %s under the Cluster policy", r.Pod, r.Node, r.Client)
			}
			if r.Node != owner.Name && r.Client != owner.IPv4.String() {
				t.Errorf("backend %s on %s saw %s, want the receiving node %s's address %s",
					r.Pod, r.Node, r.Client, owner.Name, owner.IPv4)
			}
		}
		t.Logf("%s answered by %s; backends saw the client as %v", vip, owner.Name, clients(replies))
	})

	t.Run("IPv6 VIP serves the same backends", func(t *testing.T) {
		svc := expose(t, l, "web-v6", "web", lab.IPv6Only)
		vip := ingress(t, l, svc, 6)
		r := getEventually(t, l, l.Client, netip.Addr{}, vip)
		if !strings.HasPrefix(r.Pod, "web-") {
			t.Errorf("GET http://[%s]/ answered by %q, want a web pod", vip, r.Pod)
		}
	})

	t.Run("allocateLoadBalancerNodePorts false", func(t *testing.T) {
		svc := expose(t, l, "web-noports", "web", lab.NoNodePorts)
		vip := ingress(t, l, svc, 4)
		var cur corev1.Service
		if err := l.Kube.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			t.Fatal(err)
		}
		for _, p := range cur.Spec.Ports {
			if p.NodePort != 0 {
				t.Errorf("port %s has node port %d, want none", p.Name, p.NodePort)
			}
		}
		getEventually(t, l, l.Client, netip.Addr{}, vip)
	})

	t.Run("loadBalancerSourceRanges", func(t *testing.T) {
		outsider := netip.MustParseAddr("198.51.100.101")
		if _, err := l.Exec(ctx, l.Client, "ip", "addr", "add", outsider.String()+"/24", "dev", "eth0", "nodad"); err != nil {
			t.Fatal(err)
		}
		svc := expose(t, l, "web-ranges", "web", func(s *corev1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{l.Client.IPv4.String() + "/32"}
		})
		open := expose(t, l, "web-open", "web")
		vip, openVIP := ingress(t, l, svc, 4), ingress(t, l, open, 4)
		getEventually(t, l, l.Client, l.Client.IPv4, vip)
		// The outsider is served by a Service without ranges, so what
		// refuses it below is the range and nothing else.
		getEventually(t, l, l.Client, outsider, openVIP)
		for range 3 {
			if r, err := get(ctx, l, l.Client, outsider, vip); err == nil {
				t.Fatalf("%s outside loadBalancerSourceRanges was served by %s", outsider, r.Pod)
			}
		}
	})

	t.Run("local policy keeps the client address and follows the endpoint", func(t *testing.T) {
		first, second := l.Nodes[0], l.Nodes[1]
		deployBackend(t, l, "pinned", 1, lab.OnNode(first.Name))
		svc := expose(t, l, "pinned-local", "pinned", lab.Local)
		vip := ingress(t, l, svc, 4)
		r := getEventually(t, l, l.Client, netip.Addr{}, vip)
		if r.Client != l.Client.IPv4.String() || r.Node != first.Name {
			t.Errorf("reply %+v, want node %s seeing the client %s", r, first.Name, l.Client.IPv4)
		}
		if got := arpOwner(t, l, vip); got != first {
			t.Errorf("%s announced by %s, want %s, the only node with an endpoint", vip, got, first)
		}
		// Move the backend: traffic and the announcement follow it.
		moveBackend(t, l, "pinned", second.Name)
		waitFor(t, "requests served from "+second.Name, func() error {
			r, err := get(ctx, l, l.Client, netip.Addr{}, vip)
			if err != nil {
				return err
			}
			if r.Node != second.Name || r.Client != l.Client.IPv4.String() {
				return fmt.Errorf("reply %+v", r)
			}
			return nil
		})
		if got := arpOwner(t, l, vip); got != second {
			t.Errorf("%s announced by %s after the move, want %s", vip, got, second)
		}
	})

	t.Run("BGP: a client behind the router reaches the VIP over ECMP", func(t *testing.T) {
		apply(t, l, bgpManifest)
		svc := expose(t, l, "web-bgp", "web", lab.FromPool("lab-bgp"))
		vip := ingress(t, l, svc, 4)
		waitFor(t, "three ECMP next hops at the router", func() error {
			hops, err := l.Router.InstalledNextHops(ctx, netip.PrefixFrom(vip, 32))
			if err != nil {
				return err
			}
			if len(hops) != len(l.Nodes) {
				return fmt.Errorf("next hops %v", hops)
			}
			return nil
		})
		r := getEventually(t, l, l.Remote, netip.Addr{}, vip)
		t.Logf("%s from %s answered by %s on %s", vip, l.Remote.IPv4, r.Pod, r.Node)
	})

	t.Run("speaker pod of the announcing node deleted", func(t *testing.T) {
		svc := expose(t, l, "web-fault-pod", "web")
		vip := ingress(t, l, svc, 4)
		owner := arpOwner(t, l, vip)
		other := otherServiceVIP(t, l)
		w, err := l.WatchARP("eth0")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		since := time.Now()
		kubectl(t, l, "-n", lab.SystemNamespace, "delete", "pod", "--wait=false", speakerPod(t, l, owner.Name))
		// The DaemonSet brings the speaker back within seconds and its node
		// wins the address back; what matters is that another node took
		// over meanwhile, at once, and told the client.
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		e, err := w.WaitGratuitous(wctx, since, vip, func(mac net.HardwareAddr) bool {
			n := l.NodeByMAC(mac)
			return n != nil && n != owner
		})
		if err != nil {
			t.Fatalf("no other node took %s over from %s: %v", vip, owner, err)
		}
		t.Logf("%s taken over by %s %v after the speaker pod on %s was deleted",
			vip, l.NodeByMAC(e.SenderMAC), e.Time.Sub(since).Round(time.Millisecond), owner)
		getEventually(t, l, l.Client, netip.Addr{}, vip)
		if _, err := get(ctx, l, l.Client, netip.Addr{}, other); err != nil {
			t.Errorf("another Service's VIP %s stopped serving: %v", other, err)
		}
		waitSpeakers(t, l)
	})

	t.Run("link of the announcing node cut", func(t *testing.T) {
		svc := expose(t, l, "web-fault-link", "web")
		vip := ingress(t, l, svc, 4)
		owner := arpOwner(t, l, vip)
		// Only backends that stay reachable: the cut node's pod would fail a
		// share of requests until the node is declared NotReady, which is
		// not what this case measures.
		selectPodsNotOn(t, l, svc, owner.Name)
		if err := l.CutLink(ctx, &owner.Host); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := l.RestoreLink(context.Background(), &owner.Host); err != nil {
				t.Errorf("restoring %s's link: %v", owner, err)
			}
		})
		waitFor(t, "another node to serve "+vip.String(), func() error {
			r, err := get(ctx, l, l.Client, netip.Addr{}, vip)
			if err != nil {
				return err
			}
			if r.Node == owner.Name {
				return fmt.Errorf("served from the cut node %s", r.Node)
			}
			return nil
		})
	})

	t.Run("helm upgrade keeps every address", func(t *testing.T) {
		before := allIngress(t, l)
		if _, err := helm(t, l, "upgrade", "ironlb", "charts/ironlb", "--namespace", lab.SystemNamespace,
			"--reuse-values", "--set", "controller.workers=8", "--wait", "--timeout", "5m"); err != nil {
			t.Fatal(err)
		}
		if args := controllerArgs(t, l); !slices.Contains(args, "--workers=8") {
			t.Errorf("controller args after the upgrade %v, want --workers=8", args)
		}
		if after := allIngress(t, l); !maps.Equal(before, after) {
			t.Errorf("addresses changed by the upgrade: before %v, after %v", before, after)
		}
		getEventually(t, l, l.Client, netip.Addr{}, ingress(t, l, service("web-cluster"), 4))
	})

	t.Run("helm uninstall", func(t *testing.T) {
		vip := ingress(t, l, service("web-cluster"), 4)
		if _, err := helm(t, l, "uninstall", "ironlb", "--namespace", lab.SystemNamespace, "--wait", "--timeout", "3m"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "IronLB's pods gone", func() error {
			var pods corev1.PodList
			if err := l.Kube.List(ctx, &pods, client.InNamespace(lab.SystemNamespace)); err != nil {
				return err
			}
			if len(pods.Items) > 0 {
				return fmt.Errorf("%d pods left", len(pods.Items))
			}
			return nil
		})
		waitFor(t, vip.String()+" no longer answered", func() error {
			if got := arpOwnerNow(ctx, l, vip); got != nil {
				return fmt.Errorf("still answered by %s", got)
			}
			return nil
		})
	})
}

// install installs the chart as the README says, with the chart's defaults
// but for pull policy (nothing can be pulled here), and checks the
// controller and a speaker on every node become Ready.
func install(t testing.TB, l *lab.Lab) {
	t.Helper()
	if _, err := l.InstallIronLB(t.Context()); err != nil {
		t.Fatal(err)
	}
	// helm --wait counts a DaemonSet ready once all but its maxUnavailable
	// (1) pods are; the last speaker follows within moments.
	waitFor(t, "a ready speaker on every node", func() error {
		var dss appsv1.DaemonSetList
		if err := l.Kube.List(t.Context(), &dss, client.InNamespace(lab.SystemNamespace)); err != nil {
			return err
		}
		if len(dss.Items) != 1 {
			return fmt.Errorf("%d speaker DaemonSets, want one", len(dss.Items))
		}
		if ready := dss.Items[0].Status.NumberReady; ready != int32(len(l.Nodes)) {
			return fmt.Errorf("%d of %d speakers ready", ready, len(l.Nodes))
		}
		return nil
	})
	var deps appsv1.DeploymentList
	if err := l.Kube.List(t.Context(), &deps, client.InNamespace(lab.SystemNamespace)); err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 1 || deps.Items[0].Status.AvailableReplicas < 1 {
		t.Errorf("controller Deployments %v, want one available", deps.Items)
	}
	// hostNetwork pods share their node's network namespace: each node's
	// speaker process is found in it.
	for _, n := range l.Nodes {
		speakerPod(t, l, n.Name)
		if _, err := speakerPid(t.Context(), n, readySpeaker(t, l, n.Name).UID); err != nil {
			t.Error(err)
		}
	}
}

// webhookRejects applies a broken pool: the API server asks the controller's
// webhook, through its Service, and the user sees the webhook's message.
func webhookRejects(t testing.TB, l *lab.Lab) {
	manifest := `apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: reversed}
spec:
  addresses: ["203.0.113.90-203.0.113.80"]
`
	// The webhook's certificate is written by the controller after it
	// starts; until the API server can call it, it refuses with a failed
	// call instead of the webhook's verdict.
	var out string
	var err error
	waitFor(t, "the webhook's verdict", func() error {
		out, err = l.Apply(t.Context(), manifest)
		if err == nil || strings.Contains(err.Error(), "spec.addresses[0]") {
			return nil
		}
		return err
	})
	if err == nil {
		t.Fatalf("a reversed range was admitted: %s", out)
	}
	if !strings.Contains(err.Error(), `"203.0.113.90-203.0.113.80": range is reversed`) {
		t.Errorf("rejection %v, want the webhook's message naming the range", err)
	}
}

const poolsManifest = `apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-l2}
spec:
  addresses: ["203.0.113.10-203.0.113.40", "2001:db8:113::10-2001:db8:113::40"]
---
apiVersion: ironlb.io/v1beta1
kind: L2Advertisement
metadata: {name: lab-l2}
spec:
  ipAddressPools: [lab-l2]
  interfaces: [eth0]
`

// bgpManifest: a pool only for Services that ask for it, advertised to the
// router by every node.
const bgpManifest = `apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-bgp}
spec:
  addresses: ["203.0.113.64-203.0.113.80"]
  autoAssign: false
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: router}
spec:
  myASN: 64513
  peerASN: 64512
  peerAddress: 198.51.100.1
  holdTime: 9s
  keepaliveTime: 3s
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: lab-bgp}
spec:
  ipAddressPools: [lab-bgp]
`

//go:build lab

package lab_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/test/lab"
)

// bgpObjects is the BGP setup the BGP tests start from: one pool, the lab
// router as BGPPeer of every node, and a BGPAdvertisement of the pool.
func bgpObjects(l *lab.Lab, myASN uint32) []client.Object {
	return []client.Object{
		lab.Pool("bgp", lab.PoolRangeV4, lab.PoolRangeV6),
		lab.BGPPeer("router", myASN, lab.RouterASN, l.Router.IPv4),
		lab.BGPAdvertisement("bgp", "bgp"),
	}
}

// routerNeighbors lists the nodes' IPv4 addresses as neighbors of the router
// in AS asn, carrying IPv4 and (MP-BGP) IPv6 routes over IPv4 sessions.
func routerNeighbors(asn uint32, password string) []lab.Neighbor {
	var ns []lab.Neighbor
	for i := range 3 {
		ns = append(ns, lab.Neighbor{
			Address:  netip.AddrFrom4([4]byte{198, 51, 100, byte(11 + i)}),
			ASN:      asn,
			Password: password, IPv6Unicast: true,
		})
	}
	return ns
}

// TestBGP checks, from FRR's own tables, what the three speakers advertise.
func TestBGP(t *testing.T) {
	l := newLab(t, lab.Options{Router: &lab.RouterConfig{Neighbors: routerNeighbors(lab.NodeASN, "")}})
	ctx := t.Context()
	if err := l.Create(ctx, bgpObjects(l, lab.NodeASN)...); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, l, "Established")
	all := nodeHops(l.Nodes...)

	t.Run("Cluster service learned with three next hops (ECMP)", func(t *testing.T) {
		ip := createService(t, l, lab.LoadBalancer("cluster", lab.FromPool("bgp")))
		prefix := netip.PrefixFrom(ip, 32)
		waitNextHops(t, l, prefix, all...)
		// bgpd marks multipath once best-path selection has run over all
		// three paths, a moment after they arrive: wait for it.
		err := lab.Poll(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
			route, err := l.Router.Route(ctx, prefix)
			if err != nil {
				return err
			}
			for _, p := range route.Paths {
				if !p.Best && !p.Multipath {
					return fmt.Errorf("path via %s is neither best nor multipath: %+v", p.NextHop, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		waitInstalled(t, l, prefix, all...)
		waitAnnouncers(t, l, ip, "bgp", "node-a", "node-b", "node-c")
	})

	t.Run("Local service via the endpoint's node, moving, withdrawn", func(t *testing.T) {
		svc := lab.LoadBalancer("local", lab.FromPool("bgp"), lab.Local)
		ip := createService(t, l, svc)
		prefix := netip.PrefixFrom(ip, 32)
		control := createService(t, l, lab.LoadBalancer("local-control", lab.FromPool("bgp")))
		waitNextHops(t, l, netip.PrefixFrom(control, 32), all...) // the speakers are up to date
		neverLearned(t, l, prefix)

		nodeA, nodeB, nodeC := l.Node("node-a"), l.Node("node-b"), l.Node("node-c")
		steps := []struct {
			name string
			eps  []lab.Endpoint
			want []string
		}{
			{"ready endpoint on node-b", []lab.Endpoint{{Node: "node-a", Ready: false}, {Node: "node-b", Ready: true}}, nodeHops(nodeB)},
			{"moved to node-c", []lab.Endpoint{{Node: "node-c", Ready: true}}, nodeHops(nodeC)},
			{"on node-a and node-c", []lab.Endpoint{{Node: "node-a", Ready: true}, {Node: "node-c", Ready: true}}, nodeHops(nodeA, nodeC)},
			{"last endpoint gone", nil, nil},
		}
		for _, s := range steps {
			setEndpoints(t, l, svc, s.eps...)
			waitNextHops(t, l, prefix, s.want...)
		}
	})

	t.Run("IPv6 service learned over MP-BGP", func(t *testing.T) {
		ip := createService(t, l, lab.LoadBalancer("v6", lab.FromPool("bgp"), lab.IPv6Only))
		prefix := netip.PrefixFrom(ip, 128)
		var v6 []string
		for _, n := range l.Nodes {
			v6 = append(v6, n.IPv6.String())
		}
		waitNextHops(t, l, prefix, v6...)
		sessions, err := l.Router.Sessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for addr := range sessions {
			if !netip.MustParseAddr(addr).Is4() {
				t.Errorf("FRR has an IPv6 session with %s; the route should come over the IPv4 sessions", addr)
			}
		}
	})

	t.Run("aggregationLength 27 gives one /27", func(t *testing.T) {
		// An aggregate never reaches outside its pool entry, so the pool
		// is the whole /27.
		pool := lab.Pool("agg", "203.0.113.128/27")
		pool.Spec.AutoAssign = ptr(false)
		adv := lab.BGPAdvertisement("agg", "agg")
		adv.Spec.AggregationLength = ptr(int32(27))
		if err := l.Create(ctx, pool, adv); err != nil {
			t.Fatal(err)
		}
		var ips []netip.Addr
		for _, name := range []string{"agg-1", "agg-2", "agg-3"} {
			ips = append(ips, createService(t, l, lab.LoadBalancer(name, lab.FromPool("agg"))))
		}
		aggregate := netip.MustParsePrefix("203.0.113.128/27")
		waitNextHops(t, l, aggregate, all...)
		prefixes, err := l.Router.Prefixes(ctx, "ipv4")
		if err != nil {
			t.Fatal(err)
		}
		for _, ip := range ips {
			if _, ok := prefixes[netip.PrefixFrom(ip, 32)]; ok {
				t.Errorf("FRR holds %s/32 besides the aggregate", ip)
			}
		}
	})

	t.Run("node losing the advertisement's selector label withdraws", func(t *testing.T) {
		const key = "lab.ironlb.io/bgp"
		pool := lab.Pool("sel", "203.0.113.60-203.0.113.69")
		pool.Spec.AutoAssign = ptr(false)
		adv := lab.BGPAdvertisement("sel", "sel")
		adv.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{key: "yes"}}}
		if err := l.Create(ctx, pool, adv); err != nil {
			t.Fatal(err)
		}
		for _, n := range l.Nodes {
			setLabel(t, n, key, ptr("yes"))
		}
		prefix := netip.PrefixFrom(createService(t, l, lab.LoadBalancer("sel", lab.FromPool("sel"))), 32)
		waitNextHops(t, l, prefix, all...)
		nodeA, nodeB, nodeC := l.Node("node-a"), l.Node("node-b"), l.Node("node-c")
		setLabel(t, nodeB, key, nil)
		waitNextHops(t, l, prefix, nodeHops(nodeA, nodeC)...)
	})

	t.Run("node losing the peer's selector label withdraws", func(t *testing.T) {
		const key = "lab.ironlb.io/peer"
		for _, n := range l.Nodes {
			setLabel(t, n, key, ptr("yes"))
		}
		var peer ironlbv1beta1.BGPPeer
		if err := l.Kube.Get(ctx, client.ObjectKey{Name: "router"}, &peer); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(peer.DeepCopy())
		peer.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{key: "yes"}}}
		if err := l.Kube.Patch(ctx, &peer, patch); err != nil {
			t.Fatal(err)
		}
		prefix := netip.PrefixFrom(createService(t, l, lab.LoadBalancer("peer-sel", lab.FromPool("bgp"))), 32)
		waitNextHops(t, l, prefix, all...)
		nodeA, nodeB := l.Node("node-a"), l.Node("node-b")
		setLabel(t, nodeA, key, nil)
		waitNextHops(t, l, prefix, nodeHops(nodeB, l.Node("node-c"))...)
		waitSession(t, l, nodeA.IPv4, func(s lab.Session) bool { return s.State != "Established" })
		waitSession(t, l, nodeB.IPv4, func(s lab.Session) bool { return s.State == "Established" })
	})
}

// TestBGPAttributes checks communities and localPref over iBGP, where
// localPref is sent.
func TestBGPAttributes(t *testing.T) {
	l := newLab(t, lab.Options{Router: &lab.RouterConfig{Neighbors: routerNeighbors(lab.RouterASN, "")}})
	ctx := t.Context()
	objs := bgpObjects(l, lab.RouterASN)
	adv := objs[2].(*ironlbv1beta1.BGPAdvertisement)
	adv.Spec.Communities = []string{"64512:100", "65000:7", "large:64512:1:2"}
	adv.Spec.LocalPref = ptr(uint32(250))
	if err := l.Create(ctx, objs...); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, l, "Established")
	prefix := netip.PrefixFrom(createService(t, l, lab.LoadBalancer("attrs", lab.FromPool("bgp"))), 32)
	waitNextHops(t, l, prefix, nodeHops(l.Nodes...)...)
	route, err := l.Router.Route(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range route.Paths {
		got := lab.BGPPath{NextHop: p.NextHop, LocalPref: p.LocalPref, Communities: p.Communities, LargeCommunities: p.LargeCommunities}
		want := lab.BGPPath{NextHop: p.NextHop, LocalPref: ptr(uint32(250)), Communities: "64512:100 65000:7", LargeCommunities: "64512:1:2"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("path attributes at FRR (-want +got):\n%s", diff)
		}
	}
}

// TestBGPPassword checks TCP MD5: a wrong password never establishes and
// BGPPeer status says so; the right one, read again when the Secret changes,
// does.
func TestBGPPassword(t *testing.T) {
	const password = "lab-md5-secret"
	l := newLab(t, lab.Options{Router: &lab.RouterConfig{Neighbors: routerNeighbors(lab.NodeASN, password)}})
	ctx := t.Context()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: lab.BGPSecretNamespace, Name: "router-password"},
		StringData: map[string]string{"password": "not-" + password},
	}
	objs := bgpObjects(l, lab.NodeASN)
	objs[1].(*ironlbv1beta1.BGPPeer).Spec.PasswordSecret = &ironlbv1beta1.SecretKeyRef{
		Namespace: secret.Namespace, Name: secret.Name, Key: "password",
	}
	if err := l.Create(ctx, append([]client.Object{secret}, objs...)...); err != nil {
		t.Fatal(err)
	}

	// Status lists every node, none Established, each with a reason.
	var peer ironlbv1beta1.BGPPeer
	err := lab.Poll(ctx, settle, every, func(ctx context.Context) error {
		if err := l.Kube.Get(ctx, client.ObjectKey{Name: "router"}, &peer); err != nil {
			return err
		}
		var nodes []string
		for _, s := range peer.Status.Sessions {
			nodes = append(nodes, s.Node)
		}
		slices.Sort(nodes)
		if diff := cmp.Diff([]string{"node-a", "node-b", "node-c"}, nodes); diff != "" {
			return fmt.Errorf("status.sessions nodes (-want +got):\n%s", diff)
		}
		for _, s := range peer.Status.Sessions {
			if s.State == "Established" || s.Message == "" {
				return fmt.Errorf("status of %s: %s %q, want not Established, with a reason", s.Node, s.State, s.Message)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Never established: FRR, which drops every segment with a wrong MD5
	// signature, and the status agree for a while.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		sessions, err := l.Router.Sessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for addr, s := range sessions {
			if s.State == "Established" || s.Established > 0 {
				t.Fatalf("session with %s established with a wrong password: %+v", addr, s)
			}
		}
		if err := l.Kube.Get(ctx, client.ObjectKey{Name: "router"}, &peer); err != nil {
			t.Fatal(err)
		}
		for _, s := range peer.Status.Sessions {
			if s.State == "Established" {
				t.Fatalf("status of %s says Established with a wrong password", s.Node)
			}
		}
	}
	for _, s := range peer.Status.Sessions {
		t.Logf("status with a wrong password: %s %s %q", s.Node, s.State, s.Message)
	}

	// The right password, through the same Secret.
	patch := client.MergeFrom(secret.DeepCopy())
	secret.StringData = map[string]string{"password": password}
	if err := l.Kube.Patch(ctx, secret, patch); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, l, "Established")
	err = lab.Poll(ctx, settle, every, func(ctx context.Context) error {
		if err := l.Kube.Get(ctx, client.ObjectKey{Name: "router"}, &peer); err != nil {
			return err
		}
		for _, s := range peer.Status.Sessions {
			if s.State != "Established" {
				return fmt.Errorf("status of %s: %s %q", s.Node, s.State, s.Message)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// nodeHops returns the IPv4 addresses of nodes, as FRR lists next hops.
func nodeHops(nodes ...*lab.Node) []string {
	hops := make([]string, 0, len(nodes))
	for _, n := range nodes {
		hops = append(hops, n.IPv4.String())
	}
	slices.Sort(hops)
	return hops
}

// nextHops returns the sorted next hops of FRR's BGP paths for prefix.
func nextHops(ctx context.Context, l *lab.Lab, prefix netip.Prefix) ([]string, error) {
	route, err := l.Router.Route(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var hops []string
	for _, p := range route.Paths {
		hops = append(hops, p.NextHop)
	}
	slices.Sort(hops)
	return hops, nil
}

// waitNextHops waits until FRR's paths for prefix come exactly from want
// (empty: FRR does not know the prefix).
func waitNextHops(t testing.TB, l *lab.Lab, prefix netip.Prefix, want ...string) {
	t.Helper()
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		got, err := nextHops(ctx, l, prefix)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("next hops of %s at FRR (-want +got):\n%s", prefix, diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitInstalled waits until zebra installed prefix with exactly the next hops
// want: the ECMP set of the router's forwarding table.
func waitInstalled(t testing.TB, l *lab.Lab, prefix netip.Prefix, want ...string) {
	t.Helper()
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		got, err := l.Router.InstalledNextHops(ctx, prefix)
		if err != nil {
			return err
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("installed next hops of %s (-want +got):\n%s", prefix, diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// neverLearned checks that FRR does not learn prefix during quiet.
func neverLearned(t testing.TB, l *lab.Lab, prefix netip.Prefix) {
	t.Helper()
	for end := time.Now().Add(quiet); time.Now().Before(end); time.Sleep(every) {
		hops, err := nextHops(t.Context(), l, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(hops) > 0 {
			t.Fatalf("FRR learned %s via %v, want nothing", prefix, hops)
		}
	}
}

// waitSessions waits until FRR sees every neighbor in state.
func waitSessions(t testing.TB, l *lab.Lab, state string) {
	t.Helper()
	err := lab.Poll(t.Context(), time.Minute, every, func(ctx context.Context) error {
		sessions, err := l.Router.Sessions(ctx)
		if err != nil {
			return err
		}
		for addr, s := range sessions {
			if s.State != state {
				return fmt.Errorf("FRR session with %s is %s, want %s", addr, s.State, state)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitSession waits until FRR's session with addr satisfies ok.
func waitSession(t testing.TB, l *lab.Lab, addr netip.Addr, ok func(lab.Session) bool) {
	t.Helper()
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		sessions, err := l.Router.Sessions(ctx)
		if err != nil {
			return err
		}
		if s := sessions[addr.String()]; !ok(s) {
			return fmt.Errorf("FRR session with %s: %+v", addr, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ClusterOptions turn the lab into a real cluster: every node namespace runs
// containerd, a kubelet that registers its Node and kube-proxy; the
// scheduler and the controller manager run beside the API server. IronLB is
// then not started by the lab: a test installs it, as a user would.
type ClusterOptions struct {
	// ImagesDir holds the ImageArchives (docker-save tarballs, as `make
	// images lab-images` writes them), imported into every node's
	// containerd; nothing is ever pulled.
	ImagesDir string
	// Tag is the images' tag: ChartVersion, as hack/images gives them.
	Tag string
}

// Cluster addressing, all in the benchmarking range and apart from the LAN
// (198.51.100.0/24), the second LAN (192.0.2.0/24) and the pools of the
// tests (203.0.113.0/25, 2001:db8:113::/64). Node .11 gets the pod ranges
// 198.18.11.0/24 and 2001:db8:18:11::/64, so an address tells its node.
var (
	clusterCIDR4 = netip.MustParsePrefix("198.18.0.0/16")
	clusterCIDR6 = netip.MustParsePrefix("2001:db8:18::/48")
	// serviceCIDR4 and serviceCIDR6 are the ClusterIP ranges; their first
	// addresses are the kubernetes Service's.
	serviceCIDR4 = netip.MustParsePrefix("198.19.0.0/16")
	serviceCIDR6 = netip.MustParsePrefix("2001:db8:19::/112")
)

// PodCIDRs are the pod ranges of n: one per family.
func (n *Node) PodCIDRs() [2]netip.Prefix {
	v4 := clusterCIDR4.Addr().As4()
	v4[2] = n.index
	v6 := clusterCIDR6.Addr().As16()
	v6[6], v6[7] = bcd(n.index)
	return [2]netip.Prefix{netip.PrefixFrom(netip.AddrFrom4(v4), 24), netip.PrefixFrom(netip.AddrFrom16(v6), 64)}
}

// kubernetesServiceIPs are the ClusterIPs of the kubernetes Service, the
// addresses pods reach the API server at.
func kubernetesServiceIPs() []netip.Addr {
	return []netip.Addr{serviceCIDR4.Addr().Next(), serviceCIDR6.Addr().Next()}
}

// configureClusterAPIServer makes envtest's API server one a cluster can
// use: a serving certificate pods accept at the kubernetes Service's
// addresses, the ServiceAccount admission plugin (envtest turns it off) so
// pods get their tokens, and webhooks reached at their endpoints' pod
// addresses, since the root namespace it runs in has no kube-proxy.
func (l *Lab) configureClusterAPIServer(s *envtest.APIServer, certDir string) error {
	addrs := append(kubernetesServiceIPs(), hostAddr(lan4, rootHost), hostAddr(lan6, rootHost))
	ca, err := clusterCerts(certDir, addrs)
	if err != nil {
		return err
	}
	s.SecureServing.CA = ca
	args := s.Configure()
	args.Disable("disable-admission-plugins")
	args.Set("advertise-address", hostAddr(lan4, rootHost).String())
	args.Set("enable-aggregator-routing", "true")
	// Reach kubelets (logs, exec) at their Node's InternalIP: nothing here
	// resolves node names, and no lookup may leave the lab.
	args.Set("kubelet-preferred-address-types", "InternalIP")
	return nil
}

// startCluster starts the control-plane components and every node's
// runtime, kubelet and kube-proxy, and waits until every Node is Ready.
func (l *Lab) startCluster(ctx context.Context) error {
	if l.opts.Cluster == nil {
		return nil
	}
	bins, err := ClusterAssets(ctx)
	if err != nil {
		return err
	}
	l.cluster = &clusterState{bins: bins, caFile: filepath.Join(l.api.certDir, "ca.crt")}
	if err := l.startControlPlane(ctx); err != nil {
		return err
	}
	for _, n := range l.Nodes {
		if err := n.routePodRanges(ctx); err != nil {
			return err
		}
	}
	for _, n := range l.Nodes {
		if err := n.startRuntime(ctx); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	for _, n := range l.Nodes {
		if err := n.startKubelet(ctx); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	if err := l.waitNodesReady(ctx); err != nil {
		return err
	}
	return l.createClientRoutes(ctx)
}

// clusterState is what a cluster lab adds to the lab.
type clusterState struct {
	bins         string // directory of kubelet, kube-proxy, ...
	caFile       string // CA of the API server's serving certificate
	controlPlane []*process
}

// alive fails when a control-plane component has exited: waiting on the
// cluster cannot help then.
func (c *clusterState) alive() error {
	for _, p := range c.controlPlane {
		if p.exited() {
			return errors.Join(fmt.Errorf("%s exited: %v\n%s", p.name, p.err, tail(p.logPath, 30)), errStop)
		}
	}
	return nil
}

// ClusterAssets returns the directory of kubelet, kube-proxy,
// kube-scheduler and kube-controller-manager: $IRONLB_CLUSTER_ASSETS, else
// what hack/cluster.sh prints (it builds them once).
func ClusterAssets(ctx context.Context) (string, error) {
	if dir := os.Getenv("IRONLB_CLUSTER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	out, err := command(ctx, filepath.Join(root, "hack", "cluster.sh"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// startControlPlane starts kube-scheduler and kube-controller-manager in the
// root namespace, beside the API server. Neither serves HTTPS: nothing here
// scrapes them.
func (l *Lab) startControlPlane(ctx context.Context) error {
	c := l.cluster
	components := []struct {
		name string
		args []string
	}{
		{"kube-scheduler", []string{"--secure-port=0"}},
		{"kube-controller-manager", []string{
			"--secure-port=0",
			// Publishes kube-root-ca.crt into every namespace: the CA
			// in pods' service-account volumes.
			"--root-ca-file=" + c.caFile,
			"--use-service-account-credentials=false",
		}},
	}
	for _, comp := range components {
		argv := append([]string{filepath.Join(c.bins, comp.name),
			"--kubeconfig=" + l.Kubeconfig, "--leader-elect=false"}, comp.args...)
		p, err := startProcess(comp.name, filepath.Join(l.Dir, comp.name+".log"), nil, argv...)
		if err != nil {
			return err
		}
		l.track(p)
		l.cluster.controlPlane = append(l.cluster.controlPlane, p)
	}
	return nil
}

// routePodRanges routes n's pod ranges through n's LAN address, from every
// other node and from the root namespace (where the API server calls
// webhooks at pod addresses).
func (n *Node) routePodRanges(ctx context.Context) error {
	l := n.lab
	via := map[bool]netip.Addr{true: n.IPv4, false: n.IPv6}
	for _, p := range n.PodCIDRs() {
		gw := via[p.Addr().Is4()].String()
		if err := ip(ctx, "route", "replace", p.String(), "via", gw, "dev", l.rootLink); err != nil {
			return err
		}
		for _, other := range l.Nodes {
			if other == n {
				continue
			}
			if err := ip(ctx, "-n", other.Netns, "route", "replace", p.String(), "via", gw); err != nil {
				return err
			}
		}
	}
	return nil
}

// createClientRoutes puts the pools' ranges on the client's LAN, so it asks
// for a VIP with ARP or NDP and the speaker that owns it answers, as on a LAN
// where the pool is part of the subnet.
func (l *Lab) createClientRoutes(ctx context.Context) error {
	for _, p := range []netip.Prefix{ClusterPool4, ClusterPool6} {
		if err := ip(ctx, "-n", l.Client.Netns, "route", "replace", p.String(), "dev", "eth0"); err != nil {
			return err
		}
	}
	return nil
}

// ClusterPool4 and ClusterPool6 are where the cluster tests' pools take
// their addresses; the client reaches them on its LAN.
var (
	ClusterPool4 = netip.MustParsePrefix("203.0.113.0/25")
	ClusterPool6 = netip.MustParsePrefix("2001:db8:113::/64")
)

// waitNodesReady waits until every lab node's Node object is Ready.
func (l *Lab) waitNodesReady(ctx context.Context) error {
	return Poll(ctx, 3*time.Minute, 500*time.Millisecond, func(ctx context.Context) error {
		if err := l.cluster.alive(); err != nil {
			return err
		}
		for _, n := range l.Nodes {
			if err := n.kubeletAlive(); err != nil {
				return errors.Join(err, errStop)
			}
			var node corev1.Node
			if err := l.Kube.Get(ctx, client.ObjectKey{Name: n.Name}, &node); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
			if !nodeReady(&node) {
				return fmt.Errorf("node %s is not Ready", n.Name)
			}
		}
		return nil
	})
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

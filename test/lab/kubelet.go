package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// A cluster node is its namespace plus three processes of its own, each with
// its own state under the node's directory: containerd (root, state, socket,
// CNI config and IPAM), kubelet (root dir, pod logs, cgroup parent) and
// kube-proxy. All three are entered into the node's network namespace with
// nsenter, not `ip netns exec`: the latter also remounts /sys, which hides
// the cgroup mounts from runc and the kubelet.

// nodeAgents are the processes of a cluster node.
type nodeAgents struct {
	dir                      string
	socket                   string // containerd's CRI endpoint
	cgroup                   string // the kubelet's cgroupRoot, one per node
	containerd, kubelet, kpx *process
}

// startRuntime prepares n for pods (forwarding, cgroups, CNI) and starts its
// containerd with every image of the lab imported.
func (n *Node) startRuntime(ctx context.Context) error {
	l := n.lab
	a := &nodeAgents{dir: filepath.Join(l.Dir, n.Name), cgroup: l.rootLink + "-" + n.Name}
	a.socket = filepath.Join(a.dir, "containerd.sock")
	n.agents = a
	l.onClose(func(context.Context) error { return n.removeAgents() })
	for _, d := range []string{"containerd", "cni/net.d", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return err
		}
	}
	// A node routes: traffic for a VIP is forwarded to pods, pods' traffic
	// to the LAN.
	if err := sysctl(ctx, n.Netns, map[string]string{
		"net.ipv4.ip_forward":              "1",
		"net.ipv6.conf.all.forwarding":     "1",
		"net.ipv4.conf.all.rp_filter":      "0",
		"net.ipv4.conf.default.rp_filter":  "0",
		"net.ipv6.conf.default.accept_dad": "0",
	}); err != nil {
		return err
	}
	// Processes on the node itself (the kubelet's hostNetwork pods, the
	// speaker among them) reach ClusterIPs: kube-proxy rewrites them after
	// the kernel has found a route, so the Service ranges need one. Only
	// those: the lab has no default route, so nothing leaves it.
	for _, r := range [][2]string{{serviceCIDR4.String(), hostAddr(lan4, rootHost).String()},
		{serviceCIDR6.String(), hostAddr(lan6, rootHost).String()}} {
		if err := ip(ctx, "-n", n.Netns, "route", "replace", r[0], "via", r[1]); err != nil {
			return err
		}
	}
	if err := makeCgroup(a.cgroup); err != nil {
		return err
	}
	files := map[string]string{
		"containerd.toml":                  n.containerdConfig(),
		"cni/net.d/10-lab-bridge.conflist": n.cniConfig(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(a.dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	p, err := startProcess("containerd "+n.Name, filepath.Join(l.Dir, "containerd-"+n.Name+".log"), nil,
		n.nsenter("containerd", "--config", filepath.Join(a.dir, "containerd.toml"))...)
	if err != nil {
		return err
	}
	a.containerd = p
	l.track(p)
	err = Poll(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		if p.exited() {
			return errors.Join(fmt.Errorf("containerd exited: %v\n%s", p.err, tail(p.logPath, 20)), errStop)
		}
		_, err := n.ctr(ctx, "version")
		return err
	})
	if err != nil {
		return err
	}
	for _, img := range ImageArchives {
		if _, err := n.ctr(ctx, "images", "import", filepath.Join(l.opts.Cluster.ImagesDir, img)); err != nil {
			return err
		}
	}
	return nil
}

// ctr runs containerd's CLI against n's containerd, in the namespace the
// kubelet's images and containers live in.
func (n *Node) ctr(ctx context.Context, args ...string) (string, error) {
	return command(ctx, "ctr", append([]string{"--address", n.agents.socket, "--namespace", "k8s.io"}, args...)...)
}

// nsenter is argv run in n's network namespace (and nothing else's).
func (n *Node) nsenter(argv ...string) []string {
	return append([]string{"nsenter", "--net=/run/netns/" + n.Netns, "--"}, argv...)
}

// containerdConfig gives n's containerd its own paths. restrict_oom_score_adj:
// root here lacks CAP_SYS_RESOURCE, and runc fails when a sandbox asks for a
// lower OOM score than its parent's.
func (n *Node) containerdConfig() string {
	d := filepath.Join(n.agents.dir, "containerd")
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  # Pods' network namespaces under state, not /run/netns: they go with the
  # node's directory.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[6]q
`, filepath.Join(d, "root"), filepath.Join(d, "state"), n.agents.socket, filepath.Join(d, "opt"),
		n.lab.labImage("pause"), filepath.Join(n.agents.dir, "cni", "net.d"))
}

// cniConfig puts pods on a bridge of their own in n, with addresses of both
// families from n's pod ranges and n as their default gateway. No
// masquerading: pods' own addresses are routed across the LAN.
func (n *Node) cniConfig() string {
	cidrs := n.PodCIDRs()
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "lab",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q}], [{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, filepath.Join(n.agents.dir, "cni", "ipam"), cidrs[0], cidrs[1])
}

// startKubelet starts n's kubelet and kube-proxy. The kubelet registers
// the Node with both LAN addresses as InternalIPs.
func (n *Node) startKubelet(ctx context.Context) error {
	l, a := n.lab, n.agents
	files := map[string]string{
		"kubelet.yaml":    n.kubeletConfig(),
		"kube-proxy.yaml": n.kubeProxyConfig(),
		// Pods resolve nothing: every address they use is an IP.
		"resolv.conf": "options ndots:1\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(a.dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	bins := l.cluster.bins
	kubelet, err := startProcess("kubelet "+n.Name, filepath.Join(l.Dir, "kubelet-"+n.Name+".log"), nil,
		n.nsenter(filepath.Join(bins, "kubelet"),
			"--config="+filepath.Join(a.dir, "kubelet.yaml"),
			"--kubeconfig="+l.Kubeconfig,
			"--hostname-override="+n.Name,
			"--node-ip="+n.IPv4.String()+","+n.IPv6.String(),
			"--root-dir="+filepath.Join(a.dir, "kubelet"),
			"--cert-dir="+filepath.Join(a.dir, "kubelet", "pki"),
		)...)
	if err != nil {
		return err
	}
	a.kubelet = kubelet
	l.track(kubelet)
	proxy, err := startProcess("kube-proxy "+n.Name, filepath.Join(l.Dir, "kube-proxy-"+n.Name+".log"), nil,
		n.nsenter(filepath.Join(bins, "kube-proxy"), "--config="+filepath.Join(a.dir, "kube-proxy.yaml"))...)
	if err != nil {
		return err
	}
	a.kpx = proxy
	l.track(proxy)
	return nil
}

// kubeletAlive fails when n's kubelet or kube-proxy has exited.
func (n *Node) kubeletAlive() error {
	for _, p := range []*process{n.agents.kubelet, n.agents.kpx, n.agents.containerd} {
		if p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, tail(p.logPath, 30))
		}
	}
	return nil
}

// kubeletConfig: cgroup v1 with cgroupfs under a cgroup of n's own, nothing
// reserved or enforced (three kubelets share one small machine), no image
// garbage collection (the imported images cannot be pulled again), and
// eviction only when the machine is really out of room.
//
// The API server reaches the kubelet (logs, exec) with no client
// certificate, so the kubelet lets anonymous requests in: this is a lab in
// namespaces nothing else can reach.
func (n *Node) kubeletConfig() string {
	a := n.agents
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
readOnlyPort: 0
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: /%[2]s
cgroupsPerQOS: true
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://%[3]s
imageServiceEndpoint: unix://%[3]s
podLogsDir: %[4]s
resolvConf: %[5]s
volumePluginDir: %[6]s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
serializeImagePulls: false
clusterDomain: cluster.local
registerNode: true
`, n.IPv4, a.cgroup, a.socket, filepath.Join(a.dir, "pod-logs"), filepath.Join(a.dir, "resolv.conf"),
		filepath.Join(a.dir, "volume-plugins"))
}

// kubeProxyConfig: iptables mode, dual-stack, traffic from the pod ranges
// counted as local. Conntrack limits are left alone: they are global to the
// machine, and three kube-proxies would fight over them.
func (n *Node) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %[1]s
hostnameOverride: %[2]s
mode: iptables
clusterCIDR: %[3]s,%[4]s
detectLocalMode: ClusterCIDR
healthzBindAddress: %[5]s:10256
metricsBindAddress: %[5]s:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, n.lab.Kubeconfig, n.Name, clusterCIDR4, clusterCIDR6, n.IPv4)
}

// removeAgents stops what the node's containers left running and removes
// their mounts and cgroups. The kubelet, kube-proxy and containerd are
// already dead (Close kills tracked processes first); containerd's shims
// and the containers are not its children, so they are found by their
// cgroups and command lines.
func (n *Node) removeAgents() error {
	a := n.agents
	if a == nil {
		return nil
	}
	killCgroup(a.cgroup)
	for _, pid := range processesMentioning(a.dir + "/") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return errors.Join(unmountUnder(a.dir), removeCgroup(a.cgroup))
}

// cgroupMounts are the mount points of the cgroup v1 hierarchies.
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// "id parent major:minor root mountpoint options - fstype source superoptions"
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if f := strings.Fields(pre); ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup ") {
			mounts = append(mounts, f[4])
		}
	}
	return mounts, s.Err()
}

// makeCgroup creates cgroup name in every v1 hierarchy: the kubelet refuses
// a cgroupRoot missing from any. A new cpuset cgroup has no CPUs and no
// memory nodes until given its parent's.
func makeCgroup(name string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(m, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// killCgroup kills every process in cgroup name and below.
func killCgroup(name string) {
	mounts, _ := cgroupMounts()
	for _, m := range mounts {
		_ = filepath.WalkDir(filepath.Join(m, name), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			procs, _ := os.ReadFile(path)
			for pid := range strings.FieldsSeq(string(procs)) {
				var p int
				if _, err := fmt.Sscan(pid, &p); err == nil {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// removeCgroup removes cgroup name and its children, deepest first; a cgroup
// goes once its killed processes are reaped, so it retries for a while.
func removeCgroup(name string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		root := filepath.Join(m, name)
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			err := Poll(context.Background(), 10*time.Second, 50*time.Millisecond, func(context.Context) error {
				if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
					return fmt.Errorf("removing cgroup %s: %w", d, err)
				}
				return nil
			})
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unmountUnder lazily unmounts every mount point below dir, deepest first:
// pods' volumes, sandboxes' shm and containers' root filesystems.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 5 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	f.Close()
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Command lab is the README demo of layer 2 on a real cluster: it starts the
// cluster lab of package test/lab (an API server, scheduler and controller
// manager, three node namespaces each running containerd, kubelet and
// kube-proxy, a client namespace on the same bridge), installs IronLB with
// Helm as a user would, applies a sample pool and L2Advertisement, deploys a
// backend and exposes it with a LoadBalancer Service. It prints `kubectl get
// svc`, asks the client's arping who has the Service's address (naming the
// node that answered), and ends with an HTTP request from the client through
// that address, answered by a backend pod that names itself, its node and
// the client address it saw. Needs root.
//
//	go run ./hack/lab                          # build the images, show, then tear everything down
//	go run ./hack/lab --images-dir dist        # use archives from make images lab-images
//	go run ./hack/lab --wait                   # keep the lab up until Ctrl-C
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/test/cluster/echo"
	"github.com/ironlb/ironlb/test/lab"
)

func main() {
	wait := flag.Bool("wait", false, "Keep the lab running after the demo until Ctrl-C, to explore it.")
	imagesDir := flag.String("images-dir", "", "Directory holding the image archives (make images lab-images puts them in dist/); default: dist/ when it has them all, else build them.")
	verbose := flag.Bool("v", false, "Print the lab's progress.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *imagesDir, *wait, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "hack/lab:", err)
		os.Exit(1)
	}
}

// demoName names the sample pool, L2Advertisement, Deployment and Service.
const demoName = "demo-web"

// demoManifest is the sample pool and L2Advertisement, applied with kubectl
// as the README has users do. The ranges lie in lab.ClusterPool4 and
// lab.ClusterPool6, which the client reaches on its LAN.
const demoManifest = `apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata:
  name: demo
spec:
  addresses:
  - 203.0.113.10-203.0.113.40
  - 2001:db8:113::10-2001:db8:113::40
---
apiVersion: ironlb.io/v1beta1
kind: L2Advertisement
metadata:
  name: demo
spec:
  ipAddressPools: [demo]
  interfaces: [eth0]
`

func run(ctx context.Context, out io.Writer, imagesDir string, wait, verbose bool) (err error) {
	// envtest logs through controller-runtime's global logger.
	ctrllog.SetLogger(logr.Discard())
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces, raw sockets, containers)")
	}
	tag, err := lab.ChartVersion(ctx)
	if err != nil {
		return err
	}
	dir, cleanup, err := images(ctx, out, imagesDir)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintln(out, "Starting the lab cluster: API server, scheduler, controller manager, 3 nodes running containerd, kubelet and kube-proxy ...")
	opts := lab.Options{Cluster: &lab.ClusterOptions{ImagesDir: dir, Tag: tag}}
	if verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	}
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "Removing the lab ...")
		err = errors.Join(err, l.Close())
	}()
	vip, err := demo(ctx, out, l)
	if err != nil {
		l.DumpLogs(func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
		return err
	}
	if wait {
		explain(out, l, vip)
		<-ctx.Done()
	}
	return nil
}

// images returns the directory of the image archives: dir, else dist/ in
// the module root when it holds them all, else a temporary directory they
// are built into, which cleanup removes.
func images(ctx context.Context, out io.Writer, dir string) (_ string, cleanup func(), err error) {
	cleanup = func() {}
	if dir != "" {
		// The nodes' containerd imports them from other directories.
		if dir, err = filepath.Abs(dir); err != nil {
			return "", nil, err
		}
		if !lab.HaveImages(dir) {
			return "", nil, fmt.Errorf("--images-dir %s lacks some of %s (make images lab-images builds them into dist/)",
				dir, strings.Join(lab.ImageArchives, ", "))
		}
		return dir, cleanup, nil
	}
	root, err := lab.ModuleRoot(ctx)
	if err != nil {
		return "", nil, err
	}
	if dist := filepath.Join(root, "dist"); lab.HaveImages(dist) {
		return dist, cleanup, nil
	}
	tmp, err := os.MkdirTemp("", "ironlb-lab-images-")
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintln(out, "Building the image archives of ironlb-controller, ironlb-speaker and the lab's pause and backend ...")
	if err := lab.BuildImages(ctx, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// demo installs IronLB, exposes a backend and shows what the client sees. It
// returns the Service's IPv4 address.
func demo(ctx context.Context, out io.Writer, l *lab.Lab) (netip.Addr, error) {
	if err := install(ctx, out, l); err != nil {
		return netip.Addr{}, err
	}
	vip, err := expose(ctx, out, l)
	if err != nil {
		return netip.Addr{}, err
	}
	owner, err := arp(ctx, out, l, vip)
	if err != nil {
		return netip.Addr{}, err
	}
	return vip, request(ctx, out, l, vip, owner)
}

// install installs the chart and lists IronLB's pods.
func install(ctx context.Context, out io.Writer, l *lab.Lab) error {
	fmt.Fprintln(out, "\nInstalling IronLB with Helm ...")
	helm, err := l.InstallIronLB(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ helm install ironlb charts/ironlb --namespace %s --wait\n%s", lab.SystemNamespace, helm)
	pods, err := l.Kubectl(ctx, "-n", lab.SystemNamespace, "get", "pods", "-o", "wide")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ kubectl -n %s get pods -o wide\n%s", lab.SystemNamespace, pods)
	return nil
}

// expose applies the pool, deploys the backend, creates its LoadBalancer
// Service and returns the Service's IPv4 address.
func expose(ctx context.Context, out io.Writer, l *lab.Lab) (netip.Addr, error) {
	// helm --wait waited for the controller's pod; the API server reaches
	// its webhook once the endpoints follow, a moment later. Applying again
	// is harmless.
	var applied string
	if err := lab.Poll(ctx, time.Minute, time.Second, func(ctx context.Context) error {
		var err error
		applied, err = l.Apply(ctx, demoManifest)
		return err
	}); err != nil {
		return netip.Addr{}, err
	}
	fmt.Fprintf(out, "\n$ kubectl apply -f - <<EOF\n%sEOF\n%s", demoManifest, applied)

	fmt.Fprintf(out, "\nDeploying the backend (Deployment %s, 3 replicas, one per node) and its LoadBalancer Service %s/%s ...\n",
		demoName, lab.ServiceNamespace, demoName)
	if err := l.DeployEcho(ctx, demoName, 3); err != nil {
		return netip.Addr{}, err
	}
	pods, err := l.Kubectl(ctx, "get", "pods", "-l", "app="+demoName, "-o", "wide")
	if err != nil {
		return netip.Addr{}, err
	}
	fmt.Fprintf(out, "\n$ kubectl get pods -l app=%s -o wide\n%s", demoName, pods)
	svc := lab.LoadBalancer(demoName, func(s *corev1.Service) {
		s.Spec.Selector = map[string]string{"app": demoName}
	})
	if err := l.Create(ctx, svc); err != nil {
		return netip.Addr{}, err
	}
	ips, err := l.WaitForIngress(ctx, svc)
	if err != nil {
		return netip.Addr{}, err
	}
	var vip netip.Addr
	for _, ip := range ips {
		if ip.Is4() {
			vip = ip
			break
		}
	}
	if !vip.IsValid() {
		return netip.Addr{}, fmt.Errorf("service %s got %v, no IPv4 address", demoName, ips)
	}
	kubectl, err := l.Kubectl(ctx, "get", "svc", demoName)
	if err != nil {
		return netip.Addr{}, err
	}
	fmt.Fprintf(out, "\n$ kubectl get svc %s\n%s", demoName, kubectl)
	return vip, nil
}

// arp shows the client's ARP answer for vip and the speakers' metrics, and
// returns the node that answered (nil if it was none of them).
func arp(ctx context.Context, out io.Writer, l *lab.Lab, vip netip.Addr) (*lab.Node, error) {
	// Wait for an answer first, so the printed arping is not the one that
	// raced the speakers.
	if err := lab.Poll(ctx, time.Minute, 50*time.Millisecond, func(ctx context.Context) error {
		macs, err := l.Arping(ctx, "eth0", vip)
		if err == nil && len(macs) == 0 {
			err = fmt.Errorf("no ARP answer for %s", vip)
		}
		return err
	}); err != nil {
		return nil, err
	}
	arping, err := l.Exec(ctx, l.Client, "arping", "-c", "1", "-i", "eth0", vip.String())
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "\n$ ip netns exec %s arping -c 1 -i eth0 %s    # from the client %s\n%s",
		l.Client.Netns, vip, l.Client.IPv4, arping)
	macs, err := l.Arping(ctx, "eth0", vip)
	if err != nil {
		return nil, err
	}
	var owner *lab.Node
	for _, mac := range macs {
		if n := l.NodeByMAC(mac); n != nil {
			fmt.Fprintf(out, "\n%s answered from %s: that is eth0 of %s (%s), whose speaker announces it.\n",
				vip, mac, n.Name, n.IPv4)
			if owner == nil {
				owner = n
			}
		} else {
			fmt.Fprintf(out, "\n%s answered from %s, which is no lab node.\n", vip, mac)
		}
	}
	return owner, announcedBy(ctx, out, l, vip)
}

// announcedBy prints which speakers report announcing ip in ironlb_announced.
func announcedBy(ctx context.Context, out io.Writer, l *lab.Lab, ip netip.Addr) error {
	var lines []string
	for _, n := range l.Nodes {
		samples, err := n.Metrics(ctx)
		if err != nil {
			return err
		}
		v := lab.Sum(samples, "ironlb_announced", map[string]string{"ip": ip.String(), "protocol": "layer2"})
		lines = append(lines, fmt.Sprintf("  %s: ironlb_announced{ip=%q,protocol=\"layer2\"} %g", n.Name, ip, v))
	}
	fmt.Fprintf(out, "Speakers' metrics:\n%s\n", strings.Join(lines, "\n"))
	return nil
}

// request asks the backend through vip from the client until one answers,
// and prints the answer: which pod on which node, and whom it saw as the
// client. owner is the node that answered ARP for vip, nil if unknown.
func request(ctx context.Context, out io.Writer, l *lab.Lab, vip netip.Addr, owner *lab.Node) error {
	var body string
	var reply echo.Reply
	// kube-proxy on the receiving node may still be writing the Service's
	// rules; each try is short, so a dropped packet shows soon.
	if err := lab.Poll(ctx, time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		var err error
		if body, err = l.HTTPGet(ctx, l.Client, netip.Addr{}, netip.AddrPortFrom(vip, 80), "/"); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(body), &reply); err != nil {
			return fmt.Errorf("decoding %q: %w", body, err)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("GET http://%s/ from the client: %w", vip, err)
	}
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	fmt.Fprintf(out, "\n$ curl http://%s/    # from the client %s\n%s", vip, l.Client.IPv4, body)
	fmt.Fprintf(out, "\nAnswered by pod %s on %s, which saw the client as %s.\n", reply.Pod, reply.Node, reply.Client)
	if reply.Client == l.Client.IPv4.String() {
		fmt.Fprintln(out, "The client's address was preserved all the way to the backend.")
		return nil
	}
	receiver := "the node that received the request (the one answering ARP)"
	if owner != nil {
		receiver = "the node that received the request, " + owner.Name + " (the one answering ARP),"
	}
	fmt.Fprintf(out, "Under externalTrafficPolicy: Cluster %s source-NATs it, so the backend sees a node address, not the client's %s.\n",
		receiver, l.Client.IPv4)
	return nil
}

// explain says how to look around a lab left running by --wait.
func explain(out io.Writer, l *lab.Lab, vip netip.Addr) {
	fmt.Fprintf(out, "\nThe lab keeps running until Ctrl-C. To look around:\n")
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", l.Kubeconfig)
	fmt.Fprintf(out, "  %s get nodes,pods -A -o wide\n", l.KubectlPath())
	fmt.Fprintf(out, "  %s get svc,ipaddresspools,l2advertisements\n", l.KubectlPath())
	fmt.Fprintf(out, "  ip netns exec %s curl http://%s/\n", l.Client.Netns, vip)
	fmt.Fprintf(out, "  ip netns exec %s arping -c 3 -i eth0 %s\n", l.Client.Netns, vip)
	for _, n := range l.Nodes {
		fmt.Fprintf(out, "  %s: namespace %s, %s, eth0 %s\n", n.Name, n.Netns, n.IPv4, n.MAC)
	}
	fmt.Fprintf(out, "  logs: %s\n", l.Dir)
}

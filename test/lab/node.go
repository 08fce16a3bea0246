package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Node is a Kubernetes node of the lab: a host with a Node object and an
// ironlb-speaker process in its namespace.
type Node struct {
	Host
	lab     *Lab
	speaker *process
	agents  *nodeAgents // containerd, kubelet and kube-proxy of a cluster node
}

// Ports of the speaker inside each node namespace.
const (
	SpeakerMetricsPort = 7472
	SpeakerHealthPort  = 7473
	SpeakerPprofPort   = 7474
	MemberlistPort     = 7946
)

// SystemNamespace is where IronLB's components live, and BGPSecretNamespace
// the only namespace speakers read BGP password Secrets from.
const (
	SystemNamespace    = "ironlb-system"
	BGPSecretNamespace = "ironlb-system-bgp-secrets"
)

// createNodes creates the ironlb-system namespace and one Ready Node object
// per node host, with its addresses as InternalIPs.
func (l *Lab) createNodes(ctx context.Context) error {
	if l.opts.Cluster != nil {
		// The kubelets register their Nodes; IronLB's namespace is the
		// installing test's to create.
		return nil
	}
	for _, name := range []string{SystemNamespace, BGPSecretNamespace} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := l.Kube.Create(ctx, ns); err != nil {
			return err
		}
	}
	// The API server creates "default" shortly after it starts serving.
	err := Poll(ctx, 30*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		return l.Kube.Get(ctx, client.ObjectKey{Name: ServiceNamespace}, &corev1.Namespace{})
	})
	if err != nil {
		return err
	}
	for _, n := range l.Nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:   n.Name,
			Labels: map[string]string{corev1.LabelHostname: n.Name, corev1.LabelOSStable: "linux"},
		}}
		if err := l.Kube.Create(ctx, node); err != nil {
			return err
		}
		now := metav1.Now()
		node.Status = corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.IPv4.String()},
				{Type: corev1.NodeInternalIP, Address: n.IPv6.String()},
				{Type: corev1.NodeHostName, Address: n.Name},
			},
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "lab node", LastHeartbeatTime: now, LastTransitionTime: now,
			}},
		}
		// Status is a subresource: a plain Update would drop it.
		if err := l.Kube.Status().Update(ctx, node); err != nil {
			return err
		}
	}
	return nil
}

// startSpeakers starts a speaker in every node namespace.
func (l *Lab) startSpeakers(ctx context.Context) error {
	if l.opts.Binaries == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := n.StartSpeaker(ctx); err != nil {
			return err
		}
	}
	return nil
}

// StartSpeaker starts the node's speaker (again) and waits until its health
// endpoint answers.
func (n *Node) StartSpeaker(ctx context.Context) error {
	l := n.lab
	if l.opts.Binaries == nil {
		return errors.New("the lab has no binaries")
	}
	if n.speaker != nil && !n.speaker.exited() {
		return fmt.Errorf("the speaker of %s is running", n.Name)
	}
	argv := []string{"ip", "netns", "exec", n.Netns, l.opts.Binaries.Speaker,
		"--kubeconfig=" + l.Kubeconfig,
		"--node-name=" + n.Name,
		"--memberlist-bind-address=" + n.IPv4.String(),
		"--memberlist-port=" + strconv.Itoa(MemberlistPort),
		"--metrics-bind-address=:" + strconv.Itoa(SpeakerMetricsPort),
		"--health-probe-bind-address=:" + strconv.Itoa(SpeakerHealthPort),
		// Only the node's own namespace and the host reach it.
		"--pprof-bind-address=" + netip.AddrPortFrom(n.IPv4, SpeakerPprofPort).String(),
	}
	argv = append(argv, l.opts.SpeakerArgs...)
	// GOMAXPROCS=1 as the chart starts speakers (speaker.goMaxProcs);
	// SpeakerEnv may override it.
	env := append([]string{"IRONLB_MEMBERLIST_KEY=" + MemberlistKey, "NODE_NAME=" + n.Name, "GOMAXPROCS=1"}, l.opts.SpeakerEnv...)
	p, err := startProcess("speaker "+n.Name, filepath.Join(l.Dir, "speaker-"+n.Name+".log"), env, argv...)
	if err != nil {
		return err
	}
	n.speaker = p
	l.track(p)
	return waitHealthy(ctx, p, netip.AddrPortFrom(n.IPv4, SpeakerHealthPort))
}

// KillSpeaker sends sig to the node's speaker; for SIGKILL and SIGTERM it
// waits until the process is gone.
func (n *Node) KillSpeaker(sig syscall.Signal) error {
	if n.speaker == nil {
		return fmt.Errorf("%s has no speaker", n.Name)
	}
	if err := n.speaker.signal(sig); err != nil {
		return err
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		select {
		case <-n.speaker.done:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("the speaker of %s did not end after %v", n.Name, sig)
		}
	}
	return nil
}

// SpeakerPid is the process id of the node's speaker, 0 if none runs.
func (n *Node) SpeakerPid() int {
	if n.speaker == nil || n.speaker.exited() {
		return 0
	}
	return n.speaker.Pid()
}

// SpeakerUsage reads the RSS and CPU time of the node's speaker.
func (n *Node) SpeakerUsage() (Usage, error) {
	pid := n.SpeakerPid()
	if pid == 0 {
		return Usage{}, fmt.Errorf("%s has no running speaker", n.Name)
	}
	return readUsage(pid)
}

// startController starts ironlb-controller in the root namespace.
func (l *Lab) startController(ctx context.Context) error {
	if l.opts.Binaries == nil || l.opts.NoController {
		return nil
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	metrics, err := freePort(loopback)
	if err != nil {
		return err
	}
	health, err := freePort(loopback)
	if err != nil {
		return err
	}
	p, err := startProcess("controller", filepath.Join(l.Dir, "controller.log"), nil,
		l.opts.Binaries.Controller,
		"--kubeconfig="+l.Kubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address="+netip.AddrPortFrom(loopback, uint16(metrics)).String(),
		"--health-probe-bind-address="+netip.AddrPortFrom(loopback, uint16(health)).String(),
	)
	if err != nil {
		return err
	}
	l.controller = p
	l.track(p)
	return waitHealthy(ctx, p, netip.AddrPortFrom(loopback, uint16(health)))
}

// waitHealthy waits until GET /healthz on addr answers 200, failing at once
// if the process exits.
func waitHealthy(ctx context.Context, p *process, addr netip.AddrPort) error {
	url := "http://" + addr.String() + "/healthz"
	err := Poll(ctx, time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		}
		return httpGet(ctx, url, nil)
	})
	if err != nil {
		return fmt.Errorf("%s not healthy: %w\n%s", p.name, err, tail(p.logPath, 20))
	}
	return nil
}

// httpGet fetches url; body, when not nil, receives the response body.
func httpGet(ctx context.Context, url string, body *string) error {
	var b strings.Builder
	if err := httpGetTo(ctx, url, 2*time.Second, &b); err != nil {
		return err
	}
	if body != nil {
		*body = b.String()
	}
	return nil
}

// httpGetTo fetches url into w, within timeout; an answer other than 200 OK
// is an error.
func httpGetTo(ctx context.Context, url string, timeout time.Duration, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// NodeObject fetches the node's Node object.
func (n *Node) NodeObject(ctx context.Context) (*corev1.Node, error) {
	var node corev1.Node
	err := n.lab.Kube.Get(ctx, client.ObjectKey{Name: n.Name}, &node)
	return &node, err
}

// SetLabel sets (value non-nil) or removes (nil) a label of the Node object.
func (n *Node) SetLabel(ctx context.Context, key string, value *string) error {
	node, err := n.NodeObject(ctx)
	if err != nil {
		return err
	}
	patch := client.MergeFrom(node.DeepCopy())
	if value == nil {
		delete(node.Labels, key)
	} else {
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		node.Labels[key] = *value
	}
	return n.lab.Kube.Patch(ctx, node, patch)
}

// NodeByMAC returns the node whose eth0 or eth1 has mac, nil if none.
func (l *Lab) NodeByMAC(mac net.HardwareAddr) *Node {
	for _, n := range l.Nodes {
		if bytes.Equal(n.MAC, mac) || (n.MAC2 != nil && bytes.Equal(n.MAC2, mac)) {
			return n
		}
	}
	return nil
}

// Node returns the node named name; it panics on an unknown name, a test bug.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	panic("lab: no node " + name)
}

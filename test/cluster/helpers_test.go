//go:build lab

package cluster_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/test/cluster/echo"
	"github.com/ironlb/ironlb/test/lab"
)

// waitFor polls cond for up to two minutes, failing the test with its last
// error.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	err := lab.Poll(context.Background(), 2*time.Minute, 200*time.Millisecond,
		func(context.Context) error { return cond() })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// service names a Service of the lab's Service namespace.
func service(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: lab.ServiceNamespace, Name: name}}
}

// deployBackend runs replicas backend pods labelled app=name, failing the
// test on error.
func deployBackend(t testing.TB, l *lab.Lab, name string, replicas int32, mods ...func(*corev1.PodSpec)) {
	t.Helper()
	if err := l.DeployEcho(t.Context(), name, replicas, mods...); err != nil {
		t.Fatal(err)
	}
}

// backendPods are the pods of Deployment name, terminating ones included.
func backendPods(t testing.TB, l *lab.Lab, name string) []corev1.Pod {
	t.Helper()
	pods, err := l.Pods(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

// moveBackend pins Deployment name's pods to node and waits for the move.
func moveBackend(t testing.TB, l *lab.Lab, name, node string) {
	t.Helper()
	var d appsv1.Deployment
	if err := l.Kube.Get(t.Context(), client.ObjectKey{Namespace: lab.ServiceNamespace, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(d.DeepCopy())
	lab.OnNode(node)(&d.Spec.Template.Spec)
	if err := l.Kube.Patch(t.Context(), &d, patch); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitRollout(t.Context(), name); err != nil {
		t.Fatal(err)
	}
}

// expose creates a LoadBalancer Service for the pods of app, changed by
// mods.
func expose(t testing.TB, l *lab.Lab, name, app string, mods ...func(*corev1.Service)) *corev1.Service {
	t.Helper()
	svc := lab.LoadBalancer(name, append([]func(*corev1.Service){func(s *corev1.Service) {
		s.Spec.Selector = map[string]string{"app": app}
	}}, mods...)...)
	if err := l.Kube.Create(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

// ingress waits for the Service's address of family 4 or 6.
func ingress(t testing.TB, l *lab.Lab, svc *corev1.Service, family int) netip.Addr {
	t.Helper()
	var vip netip.Addr
	waitFor(t, "an external IP for "+svc.Name, func() error {
		addrs, err := l.Ingress(context.Background(), svc)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if (family == 4) == a.Is4() {
				vip = a
				return nil
			}
		}
		return fmt.Errorf("ingress %v has no IPv%d address", addrs, family)
	})
	return vip
}

// allIngress maps every Service to its external addresses.
func allIngress(t testing.TB, l *lab.Lab) map[string]string {
	t.Helper()
	var svcs corev1.ServiceList
	if err := l.Kube.List(t.Context(), &svcs, client.InNamespace(lab.ServiceNamespace)); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, s := range svcs.Items {
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			ips = append(ips, in.IP)
		}
		if len(ips) > 0 {
			m[s.Name] = strings.Join(ips, ",")
		}
	}
	return m
}

// getEventually asks vip until a backend answers, and returns the answer.
func getEventually(t testing.TB, l *lab.Lab, h *lab.Host, src, vip netip.Addr) echo.Reply {
	t.Helper()
	var r echo.Reply
	waitFor(t, "an answer from "+vip.String(), func() error {
		var err error
		r, err = get(context.Background(), l, h, src, vip)
		return err
	})
	return r
}

// arpOwnerNow is the node answering ARP for vip at the client now, nil if
// none answers.
func arpOwnerNow(ctx context.Context, l *lab.Lab, vip netip.Addr) *lab.Node {
	got, err := l.Arping(ctx, "eth0", vip)
	if err != nil || len(got) == 0 {
		return nil
	}
	return l.NodeByMAC(got[0])
}

// arpOwner waits until exactly one node answers ARP for vip, and returns it.
func arpOwner(t testing.TB, l *lab.Lab, vip netip.Addr) *lab.Node {
	t.Helper()
	var owner *lab.Node
	waitFor(t, "one node to answer ARP for "+vip.String(), func() error {
		got, err := l.Arping(context.Background(), "eth0", vip)
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("answered by %v", got)
		}
		if owner = l.NodeByMAC(got[0]); owner == nil {
			return fmt.Errorf("answered by %s, no node's MAC", got[0])
		}
		return nil
	})
	return owner
}

// otherServiceVIP is the IPv4 VIP of web-cluster, a Service the faults must
// not disturb.
func otherServiceVIP(t testing.TB, l *lab.Lab) netip.Addr {
	return ingress(t, l, service("web-cluster"), 4)
}

// speakerPod is the name of the running speaker pod on node.
func speakerPod(t testing.TB, l *lab.Lab, node string) string {
	t.Helper()
	return findSpeakerPod(t, l, node, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
}

// speakerPodAny is the name of the speaker pod on node, whatever its state.
func speakerPodAny(t testing.TB, l *lab.Lab, node string) string {
	t.Helper()
	return findSpeakerPod(t, l, node, func(*corev1.Pod) bool { return true })
}

func findSpeakerPod(t testing.TB, l *lab.Lab, node string, ok func(*corev1.Pod) bool) string {
	t.Helper()
	var pods corev1.PodList
	if err := l.Kube.List(t.Context(), &pods, client.InNamespace(lab.SystemNamespace),
		client.MatchingFields{"spec.nodeName": node}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && strings.Contains(p.Name, "speaker") && ok(&p) {
			return p.Name
		}
	}
	t.Fatalf("no speaker pod on %s among %d pods", node, len(pods.Items))
	return ""
}

// waitSpeakers waits until every node has a ready speaker pod, not being
// deleted, whose process runs in the node's namespace. (The DaemonSet's own
// counts lag a deleted pod by a moment.)
func waitSpeakers(t testing.TB, l *lab.Lab) {
	t.Helper()
	waitFor(t, "a ready speaker on every node", func() error {
		for _, n := range l.Nodes {
			pod, err := findReadySpeaker(l, n.Name)
			if err != nil {
				return err
			}
			if _, err := speakerPid(context.Background(), n, pod.UID); err != nil {
				return err
			}
		}
		return nil
	})
}

// readySpeaker is node's ready speaker pod, failing the test if there is
// none.
func readySpeaker(t testing.TB, l *lab.Lab, node string) *corev1.Pod {
	t.Helper()
	p, err := findReadySpeaker(l, node)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func findReadySpeaker(l *lab.Lab, node string) (*corev1.Pod, error) {
	var pods corev1.PodList
	if err := l.Kube.List(context.Background(), &pods, client.InNamespace(lab.SystemNamespace),
		client.MatchingFields{"spec.nodeName": node}); err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		if strings.Contains(p.Name, "speaker") && p.DeletionTimestamp == nil && podReady(&p) {
			return &p, nil
		}
	}
	return nil, fmt.Errorf("no ready speaker pod on %s", node)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// selectPodsNotOn narrows svc to the pods of its app that run elsewhere than
// node, by a label of their own.
func selectPodsNotOn(t testing.TB, l *lab.Lab, svc *corev1.Service, node string) {
	t.Helper()
	ctx := t.Context()
	key := "lab-" + svc.Name
	for _, p := range backendPods(t, l, svc.Spec.Selector["app"]) {
		if p.Spec.NodeName == node {
			continue
		}
		patch := client.MergeFrom(p.DeepCopy())
		p.Labels[key] = "yes"
		if err := l.Kube.Patch(ctx, &p, patch); err != nil {
			t.Fatal(err)
		}
	}
	var cur corev1.Service
	if err := l.Kube.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Selector[key] = "yes"
	if err := l.Kube.Patch(ctx, &cur, patch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "only pods off "+node+" behind "+svc.Name, func() error {
		var eps discoveryv1.EndpointSliceList
		if err := l.Kube.List(ctx, &eps, client.InNamespace(svc.Namespace),
			client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
			return err
		}
		var on []string
		for _, s := range eps.Items {
			for _, e := range s.Endpoints {
				if e.NodeName == nil || *e.NodeName == node {
					return fmt.Errorf("an endpoint on %v", e.NodeName)
				}
				on = append(on, *e.NodeName)
			}
		}
		if len(on) == 0 {
			return fmt.Errorf("no endpoints")
		}
		return nil
	})
}

// controllerArgs are the args of the controller Deployment's container.
func controllerArgs(t testing.TB, l *lab.Lab) []string {
	t.Helper()
	var deps appsv1.DeploymentList
	if err := l.Kube.List(t.Context(), &deps, client.InNamespace(lab.SystemNamespace)); err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 1 {
		t.Fatalf("%d Deployments in %s, want the controller's", len(deps.Items), lab.SystemNamespace)
	}
	return deps.Items[0].Spec.Template.Spec.Containers[0].Args
}

func keys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

// clients are the distinct client addresses the backends saw.
func clients(replies []echo.Reply) []string {
	seen := map[string]bool{}
	for _, r := range replies {
		seen[r.Client] = true
	}
	return keys(seen)
}

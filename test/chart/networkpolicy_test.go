//go:build lab

package chart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podMonitor is the part of the Prometheus Operator's PodMonitor read here.
type podMonitor struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		PodMetricsEndpoints []struct {
			Port        string `json:"port"`
			Path        string `json:"path"`
			Interval    string `json:"interval"`
			Relabelings []struct {
				SourceLabels []string `json:"sourceLabels"`
				TargetLabel  string   `json:"targetLabel"`
			} `json:"relabelings"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// podTemplate is the selector and pod template of the workload of component.
func podTemplate(t testing.TB, objs []*unstructured.Unstructured, component string) (*metav1.LabelSelector, corev1.PodTemplateSpec) {
	t.Helper()
	if component == "controller" {
		d := convert[appsv1.Deployment](t, find(t, objs, "Deployment", "ironlb-controller"))
		return d.Spec.Selector, d.Spec.Template
	}
	ds := convert[appsv1.DaemonSet](t, find(t, objs, "DaemonSet", "ironlb-speaker"))
	return ds.Spec.Selector, ds.Spec.Template
}

func hasContainerPort(pod corev1.PodTemplateSpec, name string) bool {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func kinds(objs []*unstructured.Unstructured, kind string) []string {
	var out []string
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o.GetName())
		}
	}
	return out
}

func TestPodMonitor(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		components []string
	}{
		{
			name:       "controller and speakers",
			args:       []string{"--set", "prometheus.podMonitor.enabled=true,prometheus.podMonitor.interval=15s,prometheus.podMonitor.labels.release=prom"},
			components: []string{"controller", "speaker"},
		},
		{
			name:       "controller alone",
			args:       []string{"--set", "prometheus.podMonitor.enabled=true,prometheus.podMonitor.interval=15s,prometheus.podMonitor.labels.release=prom,speaker.enabled=false"},
			components: []string{"controller"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, tt.args...)
			if got, want := kinds(objs, "PodMonitor"), len(tt.components); len(got) != want {
				t.Errorf("PodMonitors %v, want %d", got, want)
			}
			if sm := kinds(objs, "ServiceMonitor"); len(sm) > 0 {
				t.Errorf("ServiceMonitors %v rendered beside the PodMonitors", sm)
			}
			for _, component := range tt.components {
				pm := convert[podMonitor](t, find(t, objs, "PodMonitor", "ironlb-"+component))
				selector, pod := podTemplate(t, objs, component)
				if diff := cmp.Diff(*selector, pm.Spec.Selector); diff != "" {
					t.Errorf("%s: PodMonitor selector is not the workload's (-workload +podmonitor):\n%s", component, diff)
				}
				if pm.Namespace != "ironlb-system" || !cmp.Equal(pm.Spec.NamespaceSelector.MatchNames, []string{"ironlb-system"}) {
					t.Errorf("%s: namespace %q, namespaceSelector %v: want the release namespace", component, pm.Namespace, pm.Spec.NamespaceSelector.MatchNames)
				}
				if pm.Labels["release"] != "prom" || pm.Spec.JobLabel != "app.kubernetes.io/component" {
					t.Errorf("%s: labels %v, jobLabel %q", component, pm.Labels, pm.Spec.JobLabel)
				}
				if len(pm.Spec.PodMetricsEndpoints) != 1 {
					t.Fatalf("%s: %d endpoints, want 1", component, len(pm.Spec.PodMetricsEndpoints))
				}
				ep := pm.Spec.PodMetricsEndpoints[0]
				if ep.Port != "metrics" || !hasContainerPort(pod, ep.Port) || ep.Path != "/metrics" || ep.Interval != "15s" {
					t.Errorf("%s: endpoint port %q (a container port of the pod: %v), path %q, interval %q", component, ep.Port, hasContainerPort(pod, ep.Port), ep.Path, ep.Interval)
				}
				// The alerts and the dashboard name speakers by node.
				wantNode := component == "speaker"
				gotNode := len(ep.Relabelings) == 1 && ep.Relabelings[0].TargetLabel == "node" &&
					cmp.Equal(ep.Relabelings[0].SourceLabels, []string{"__meta_kubernetes_pod_node_name"})
				if gotNode != wantNode {
					t.Errorf("%s: relabelings %+v; node label from the pod's node: want %v", component, ep.Relabelings, wantNode)
				}
			}
		})
	}

	t.Run("not beside the ServiceMonitors", func(t *testing.T) {
		args := []string{"template", "ironlb", chartDir(t), "--namespace", "ironlb-system",
			"--set", "prometheus.podMonitor.enabled=true,prometheus.serviceMonitor.enabled=true"}
		_, err := runHelm(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), "enable one of them") {
			t.Errorf("helm template with both monitors: %v, want a refusal", err)
		}
	})
}

func TestNetworkPolicy(t *testing.T) {
	custom := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(custom, []byte(`
networkPolicy:
  enabled: true
  webhookFrom: [{ipBlock: {cidr: 192.0.2.0/24}}]
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  apiServer: {ports: [6443], cidrs: [192.0.2.1/32, 2001:db8::1/128]}
  extraEgress:
    - ports: [{port: 53, protocol: UDP}]
`), 0o644); err != nil {
		t.Fatal(err)
	}

	tcp := ptr.To(corev1.ProtocolTCP)
	named := func(name string) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromString(name)), Protocol: tcp}}
	}
	numbered := func(ports ...int) []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for _, p := range ports {
			out = append(out, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt32(int32(p))), Protocol: tcp})
		}
		return out
	}
	tests := []struct {
		name    string
		args    []string
		ingress []networkingv1.NetworkPolicyIngressRule
		egress  []networkingv1.NetworkPolicyEgressRule
	}{
		{
			// Webhook and metrics from anywhere, health for the kubelet;
			// out to the API server's ports only.
			name: "defaults",
			args: []string{"--set", "networkPolicy.enabled=true"},
			ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: named("webhook")}, {Ports: named("metrics")}, {Ports: named("health")},
			},
			egress: []networkingv1.NetworkPolicyEgressRule{{Ports: numbered(443, 6443)}},
		},
		{
			name: "sources and the API server named",
			args: []string{"-f", custom},
			ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: named("webhook"), From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24"}}}},
				{Ports: named("metrics"), From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"},
				}}}},
				{Ports: named("health")},
			},
			egress: []networkingv1.NetworkPolicyEgressRule{
				{Ports: numbered(6443), To: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.1/32"}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "2001:db8::1/128"}},
				}},
				{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(53)), Protocol: ptr.To(corev1.ProtocolUDP)}}},
			},
		},
		{
			name: "no webhook port without webhooks",
			args: []string{"--set", "networkPolicy.enabled=true,webhook.enabled=false"},
			ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: named("metrics")}, {Ports: named("health")},
			},
			egress: []networkingv1.NetworkPolicyEgressRule{{Ports: numbered(443, 6443)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, tt.args...)
			// One policy: the speakers, on the host's network, are not
			// subject to NetworkPolicies.
			if got := kinds(objs, "NetworkPolicy"); len(got) != 1 {
				t.Fatalf("NetworkPolicies %v, want the controller's alone", got)
			}
			obj := find(t, objs, "NetworkPolicy", "ironlb-controller")
			acceptedByAPIServer(t, obj)
			np := convert[networkingv1.NetworkPolicy](t, obj)
			selector, pod := podTemplate(t, objs, "controller")
			if diff := cmp.Diff(*selector, np.Spec.PodSelector); diff != "" {
				t.Errorf("podSelector is not the controller's (-deployment +policy):\n%s", diff)
			}
			wantTypes := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
			if !cmp.Equal(np.Spec.PolicyTypes, wantTypes) {
				t.Errorf("policyTypes %v, want %v", np.Spec.PolicyTypes, wantTypes)
			}
			if diff := cmp.Diff(tt.ingress, np.Spec.Ingress); diff != "" {
				t.Errorf("ingress (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.egress, np.Spec.Egress); diff != "" {
				t.Errorf("egress (-want +got):\n%s", diff)
			}
			// A named port the pod lacks would match nothing.
			for _, r := range np.Spec.Ingress {
				for _, p := range r.Ports {
					if p.Port.Type == intstr.String && !hasContainerPort(pod, p.Port.StrVal) {
						t.Errorf("ingress to port %q, which the controller's container does not name", p.Port.StrVal)
					}
				}
			}
		})
	}
}

// acceptedByAPIServer creates obj in a server-side dry run with strict
// field validation, in the namespace default: the API server's own checks
// of the object (field names, CIDRs, ports) without storing it.
func acceptedByAPIServer(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	o := obj.DeepCopy()
	o.SetNamespace("default")
	if err := cluster(t).admin.Create(context.Background(), o, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
		t.Errorf("the API server refuses %s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

// helm lint --strict with the monitoring and policy options switched on.
func TestNetworkPolicyPodMonitorDashboardLint(t *testing.T) {
	out := mustHelm(t, "", "lint", "--strict", chartDir(t), "--set",
		"networkPolicy.enabled=true,prometheus.podMonitor.enabled=true,prometheus.prometheusRule.enabled=true,grafana.dashboard.enabled=true")
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Errorf("helm lint:\n%s", out)
	}
}

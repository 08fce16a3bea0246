//go:build lab

package chart

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestHelmLint(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "defaults"},
		{name: "everything switched on", args: []string{
			"--set", "prometheus.serviceMonitor.enabled=true,prometheus.prometheusRule.enabled=true,controller.replicas=2",
		}},
		{name: "controller alone, no webhooks", args: []string{"--set", "speaker.enabled=false,webhook.enabled=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustHelm(t, "", append([]string{"lint", "--strict", chartDir(t)}, tt.args...)...)
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint:\n%s", out)
			}
		})
	}
}

// workloads is what a user would check of the rendered chart: which objects
// it makes, and the settings values reach in the two workloads.
type workloads struct {
	Objects []string // Kind/name, sorted

	ControllerReplicas     int32
	ControllerImage        string
	ControllerArgs         []string
	ControllerResources    corev1.ResourceRequirements
	ControllerNodeSelector map[string]string
	ControllerTolerations  []corev1.Toleration

	SpeakerImage        string
	SpeakerArgs         []string
	SpeakerEnv          []corev1.EnvVar
	SpeakerProbeHost    string // httpGet.host of both probes ("" = the pod's IP)
	SpeakerCapabilities []corev1.Capability
	SpeakerResources    corev1.ResourceRequirements
	SpeakerNodeSelector map[string]string
	SpeakerTolerations  []corev1.Toleration
	// SpeakerSecretsNamespace holds the speaker's Role and RoleBinding: the
	// only namespace it may read Secrets in.
	SpeakerSecretsNamespace string
}

func convert[T any](t testing.TB, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("converting %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func summarize(t testing.TB, objs []*unstructured.Unstructured) workloads {
	t.Helper()
	var w workloads
	for _, o := range objs {
		w.Objects = append(w.Objects, o.GetKind()+"/"+o.GetName())
		switch o.GetKind() {
		case "Deployment":
			d := convert[appsv1.Deployment](t, o)
			c := d.Spec.Template.Spec.Containers[0]
			w.ControllerReplicas = *d.Spec.Replicas
			w.ControllerImage, w.ControllerArgs, w.ControllerResources = c.Image, c.Args, c.Resources
			w.ControllerNodeSelector = d.Spec.Template.Spec.NodeSelector
			w.ControllerTolerations = d.Spec.Template.Spec.Tolerations
		case "DaemonSet":
			ds := convert[appsv1.DaemonSet](t, o)
			c := ds.Spec.Template.Spec.Containers[0]
			w.SpeakerImage, w.SpeakerArgs, w.SpeakerEnv, w.SpeakerResources = c.Image, c.Args, c.Env, c.Resources
			w.SpeakerCapabilities = c.SecurityContext.Capabilities.Add
			w.SpeakerNodeSelector = ds.Spec.Template.Spec.NodeSelector
			w.SpeakerTolerations = ds.Spec.Template.Spec.Tolerations
			w.SpeakerProbeHost = probeHost(t, c)
		case "Role", "RoleBinding":
			if strings.HasSuffix(o.GetName(), "-speaker") {
				w.SpeakerSecretsNamespace = o.GetNamespace()
			}
		}
	}
	sort.Strings(w.Objects)
	return w
}

// probeHost is the host both probes of c are sent to; they must agree.
func probeHost(t testing.TB, c corev1.Container) string {
	t.Helper()
	live, ready := c.LivenessProbe.HTTPGet.Host, c.ReadinessProbe.HTTPGet.Host
	if live != ready {
		t.Errorf("liveness probe host %q, readiness probe host %q: want the same", live, ready)
	}
	return live
}

func defaultWorkloads() workloads {
	linux := map[string]string{"kubernetes.io/os": "linux"}
	return workloads{
		Objects: []string{
			"ClusterRole/ironlb-controller", "ClusterRole/ironlb-speaker",
			"ClusterRoleBinding/ironlb-controller", "ClusterRoleBinding/ironlb-speaker",
			"DaemonSet/ironlb-speaker", "Deployment/ironlb-controller",
			"Namespace/ironlb-system-bgp-secrets",
			"Role/ironlb-controller", "Role/ironlb-speaker",
			"RoleBinding/ironlb-controller", "RoleBinding/ironlb-speaker",
			"Secret/ironlb-memberlist", "Secret/ironlb-webhook-cert",
			"Service/ironlb-controller-metrics", "Service/ironlb-speaker-metrics", "Service/ironlb-webhook",
			"ServiceAccount/ironlb-controller", "ServiceAccount/ironlb-speaker",
			"ValidatingAdmissionPolicy/ironlb-controller-service-writes",
			"ValidatingAdmissionPolicyBinding/ironlb-controller-service-writes",
			"ValidatingWebhookConfiguration/ironlb-validating-webhook-configuration",
		},
		ControllerReplicas: 1,
		ControllerImage:    "ghcr.io/ironlb/ironlb-controller:0.1.0",
		ControllerArgs: []string{
			"--load-balancer-class=ironlb.io/ironlb",
			"--default-class=true",
			"--leader-elect=true",
			"--leader-election-namespace=$(POD_NAMESPACE)",
			"--leader-elect-lease-duration=15s",
			"--leader-elect-renew-deadline=10s",
			"--leader-elect-retry-period=2s",
			"--metrics-bind-address=:7472",
			"--health-probe-bind-address=:7473",
			"--workers=16",
			"--zap-log-level=info",
			"--webhook-mode=enabled",
			"--webhook-port=9443",
			"--webhook-cert-dir=/tmp/k8s-webhook-server/serving-certs",
			"--webhook-namespace=$(POD_NAMESPACE)",
			"--webhook-secret-name=ironlb-webhook-cert",
			"--webhook-service-name=ironlb-webhook",
			"--webhook-configuration-name=ironlb-validating-webhook-configuration",
		},
		ControllerResources:    resources("50m", "64Mi", "256Mi"),
		ControllerNodeSelector: linux,
		SpeakerImage:           "ghcr.io/ironlb/ironlb-speaker:0.1.0",
		// Metrics and probes listen on the node's IP only, not on every
		// address of the host (its other networks, pod bridges).
		SpeakerArgs: []string{
			"--load-balancer-class=ironlb.io/ironlb",
			"--default-class=true",
			"--metrics-bind-address=[$(HOST_IP)]:7472",
			"--health-probe-bind-address=[$(HOST_IP)]:7473",
			"--memberlist-port=7946",
			"--bgp-listen-port=-1",
			"--secret-namespace=ironlb-system-bgp-secrets",
			"--log-level=info",
		},
		SpeakerEnv: []corev1.EnvVar{
			{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "IRONLB_MEMBERLIST_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "ironlb-memberlist"}, Key: "key",
			}}},
			// Keys still accepted during a rotation, when the Secret has any.
			{Name: "IRONLB_MEMBERLIST_OLD_KEYS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "ironlb-memberlist"}, Key: "oldKeys", Optional: ptr.To(true),
			}}},
			{Name: "GOMAXPROCS", Value: "1"}, // speaker.goMaxProcs
		},
		SpeakerCapabilities: []corev1.Capability{"NET_RAW"},
		SpeakerResources:    resources("50m", "64Mi", "256Mi"),
		SpeakerNodeSelector: linux,
		SpeakerTolerations: []corev1.Toleration{
			{Key: "node-role.kubernetes.io/control-plane", Operator: "Exists", Effect: "NoSchedule"},
			{Key: "node-role.kubernetes.io/master", Operator: "Exists", Effect: "NoSchedule"},
		},
		SpeakerSecretsNamespace: "ironlb-system-bgp-secrets",
	}
}

func resources(cpu, mem, memLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity(cpu), corev1.ResourceMemory: mustQuantity(mem)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: mustQuantity(memLimit)},
	}
}

func TestHelmTemplate(t *testing.T) {
	custom := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(custom, []byte(`
loadBalancerClass: example.com/bare-metal
defaultClass: false
logLevel: debug
imagePullSecrets: [regcred]
controller:
  image: {repository: registry.example/ironlb-controller, tag: v9}
  replicas: 3
  workers: 4
  leaderElection: {leaseDuration: 30s, renewDeadline: 20s, retryPeriod: 4s}
  resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 512Mi}}
  nodeSelector: {node-role.kubernetes.io/infra: ""}
  tolerations: [{key: infra, operator: Exists, effect: NoSchedule}]
  extraArgs: [--kube-api-qps=50]
  restrictServiceWrites: false
speaker:
  image: {repository: registry.example/ironlb-speaker, tag: v9}
  logLevel: error
  resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 128Mi}}
  nodeSelector: {ironlb.io/speaker: "true"}
  tolerations: [{operator: Exists}]
  memberlist: {port: 7947}
  metrics: {bindAddress: 0.0.0.0}
  healthBindAddress: 2001:db8::11
  bgp:
    listenPort: 179
    listenAddress: 192.0.2.11,2001:db8::11
    secretsNamespace: {name: bgp-passwords, create: false}
webhook: {enabled: false}
prometheus:
  serviceMonitor: {enabled: true}
  prometheusRule: {enabled: true}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want func(*workloads)
	}{
		{name: "defaults", want: func(*workloads) {}},
		{
			name: "every value changed",
			args: []string{"-f", custom},
			want: func(w *workloads) {
				w.Objects = append(w.Objects, "PrometheusRule/ironlb", "ServiceMonitor/ironlb-controller", "ServiceMonitor/ironlb-speaker")
				w.Objects = remove(w.Objects, "Secret/ironlb-webhook-cert", "Service/ironlb-webhook",
					"ValidatingWebhookConfiguration/ironlb-validating-webhook-configuration",
					"Namespace/ironlb-system-bgp-secrets",
					"ValidatingAdmissionPolicy/ironlb-controller-service-writes",
					"ValidatingAdmissionPolicyBinding/ironlb-controller-service-writes")
				sort.Strings(w.Objects)
				w.ControllerReplicas = 3
				w.ControllerImage = "registry.example/ironlb-controller:v9"
				w.ControllerArgs = []string{
					"--load-balancer-class=example.com/bare-metal",
					"--default-class=false",
					"--leader-elect=true",
					"--leader-election-namespace=$(POD_NAMESPACE)",
					"--leader-elect-lease-duration=30s",
					"--leader-elect-renew-deadline=20s",
					"--leader-elect-retry-period=4s",
					"--metrics-bind-address=:7472",
					"--health-probe-bind-address=:7473",
					"--workers=4",
					"--zap-log-level=debug",
					"--webhook-mode=disabled",
					"--kube-api-qps=50",
				}
				w.ControllerResources = resources("100m", "128Mi", "512Mi")
				w.ControllerNodeSelector = map[string]string{"node-role.kubernetes.io/infra": "", "kubernetes.io/os": "linux"}
				w.ControllerTolerations = []corev1.Toleration{{Key: "infra", Operator: "Exists", Effect: "NoSchedule"}}
				w.SpeakerImage = "registry.example/ironlb-speaker:v9"
				w.SpeakerArgs = []string{
					"--load-balancer-class=example.com/bare-metal",
					"--default-class=false",
					"--metrics-bind-address=0.0.0.0:7472",
					"--health-probe-bind-address=[2001:db8::11]:7473",
					"--memberlist-port=7947",
					"--bgp-listen-port=179",
					"--bgp-listen-address=192.0.2.11,2001:db8::11",
					"--secret-namespace=bgp-passwords",
					"--log-level=error",
				}
				w.SpeakerProbeHost = "2001:db8::11"
				w.SpeakerSecretsNamespace = "bgp-passwords"
				w.SpeakerCapabilities = []corev1.Capability{"NET_RAW", "NET_BIND_SERVICE"}
				w.SpeakerResources = resources("10m", "32Mi", "128Mi")
				w.SpeakerNodeSelector = map[string]string{"ironlb.io/speaker": "true", "kubernetes.io/os": "linux"}
				w.SpeakerTolerations = []corev1.Toleration{{Operator: "Exists"}}
			},
		},
		{
			name: "BGP listening on an unprivileged port needs no extra capability",
			args: []string{"--set", "speaker.bgp.listenPort=1790"},
			want: func(w *workloads) {
				w.SpeakerArgs[5] = "--bgp-listen-port=1790"
			},
		},
		{
			// GoBGP listens on these instead of the node's InternalIPs.
			name: "BGP listening on chosen addresses",
			args: []string{"--set", "speaker.bgp.listenPort=1790,speaker.bgp.listenAddress=198.51.100.7"},
			want: func(w *workloads) {
				w.SpeakerArgs[5] = "--bgp-listen-port=1790"
				w.SpeakerArgs = slices.Insert(w.SpeakerArgs, 6, "--bgp-listen-address=198.51.100.7")
			},
		},
		{
			name: "speaker endpoints on every address again",
			args: []string{"--set", "speaker.metrics.bindAddress=::,speaker.healthBindAddress=0.0.0.0"},
			want: func(w *workloads) {
				w.SpeakerArgs[2] = "--metrics-bind-address=[::]:7472"
				w.SpeakerArgs[3] = "--health-probe-bind-address=0.0.0.0:7473"
			},
		},
		{
			name: "BGP password Secrets in a namespace of the user's",
			args: []string{"--set", "speaker.bgp.secretsNamespace.name=bgp-passwords,speaker.bgp.secretsNamespace.create=false"},
			want: func(w *workloads) {
				w.Objects = remove(w.Objects, "Namespace/ironlb-system-bgp-secrets")
				w.SpeakerArgs[6] = "--secret-namespace=bgp-passwords"
				w.SpeakerSecretsNamespace = "bgp-passwords"
			},
		},
		{
			name: "controller alone",
			args: []string{"--set", "speaker.enabled=false"},
			want: func(w *workloads) {
				w.Objects = remove(w.Objects, "ClusterRole/ironlb-speaker", "ClusterRoleBinding/ironlb-speaker",
					"DaemonSet/ironlb-speaker", "Role/ironlb-speaker", "RoleBinding/ironlb-speaker",
					"Secret/ironlb-memberlist", "Service/ironlb-speaker-metrics", "ServiceAccount/ironlb-speaker",
					"Namespace/ironlb-system-bgp-secrets")
				w.SpeakerImage, w.SpeakerArgs, w.SpeakerEnv, w.SpeakerCapabilities = "", nil, nil, nil
				w.SpeakerResources, w.SpeakerNodeSelector, w.SpeakerTolerations = corev1.ResourceRequirements{}, nil, nil
				w.SpeakerSecretsNamespace = ""
			},
		},
		{
			name: "memberlist key from an existing Secret",
			args: []string{"--set", "speaker.memberlist.existingSecret=my-key"},
			want: func(w *workloads) {
				w.Objects = remove(w.Objects, "Secret/ironlb-memberlist")
				w.SpeakerEnv[3].ValueFrom.SecretKeyRef.Name = "my-key"
				w.SpeakerEnv[4].ValueFrom.SecretKeyRef.Name = "my-key"
			},
		},
		{
			name: "release named otherwise",
			args: []string{"--set", "fullnameOverride=lb"},
			want: func(w *workloads) {
				for i, o := range w.Objects {
					// The BGP Secrets' namespace follows the release's
					// namespace, not the object names.
					if !strings.HasPrefix(o, "Namespace/") {
						w.Objects[i] = strings.Replace(o, "/ironlb-", "/lb-", 1)
					}
				}
				sort.Strings(w.Objects)
				for i, a := range w.ControllerArgs {
					switch {
					case strings.HasPrefix(a, "--webhook-secret-name="):
						w.ControllerArgs[i] = "--webhook-secret-name=lb-webhook-cert"
					case strings.HasPrefix(a, "--webhook-service-name="):
						w.ControllerArgs[i] = "--webhook-service-name=lb-webhook"
					case strings.HasPrefix(a, "--webhook-configuration-name="):
						w.ControllerArgs[i] = "--webhook-configuration-name=lb-validating-webhook-configuration"
					}
				}
				w.SpeakerEnv[3].ValueFrom.SecretKeyRef.Name = "lb-memberlist"
				w.SpeakerEnv[4].ValueFrom.SecretKeyRef.Name = "lb-memberlist"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, tt.args...)
			want := defaultWorkloads()
			tt.want(&want)
			if diff := cmp.Diff(want, summarize(t, objs)); diff != "" {
				t.Errorf("rendered chart (-want +got):\n%s", diff)
			}
			checkPodSecurity(t, objs)
			checkNoWildcards(t, objs)
		})
	}
}

func remove(list []string, drop ...string) []string {
	var out []string
	for _, s := range list {
		keep := true
		for _, d := range drop {
			keep = keep && s != d
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

// checkPodSecurity holds for every rendering: nothing privileged, nothing
// escalates, root filesystems are read-only, every capability is dropped and
// only the speaker adds any (NET_RAW, NET_BIND_SERVICE for a low BGP port);
// the controller runs as non-root, the speaker on the host network.
func checkPodSecurity(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		var spec corev1.PodSpec
		switch o.GetKind() {
		case "Deployment":
			spec = convert[appsv1.Deployment](t, o).Spec.Template.Spec
			if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
				t.Errorf("controller pod may run as root: %+v", sc)
			}
			if spec.HostNetwork {
				t.Error("controller uses the host network")
			}
		case "DaemonSet":
			spec = convert[appsv1.DaemonSet](t, o).Spec.Template.Spec
			if !spec.HostNetwork {
				t.Error("speaker does not use the host network")
			}
		default:
			continue
		}
		for _, c := range spec.Containers {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("%s: no securityContext", c.Name)
				continue
			case sc.Privileged != nil && *sc.Privileged:
				t.Errorf("%s is privileged", c.Name)
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("%s may escalate privileges", c.Name)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Errorf("%s has a writable root filesystem", c.Name)
			case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
				t.Errorf("%s does not drop every capability: %+v", c.Name, sc.Capabilities)
			}
			for _, add := range sc.Capabilities.Add {
				if o.GetKind() != "DaemonSet" || (add != "NET_RAW" && add != "NET_BIND_SERVICE") {
					t.Errorf("%s adds capability %s", c.Name, add)
				}
			}
		}
	}
}

// checkNoWildcards: no RBAC rule of the chart grants "*" of anything.
func checkNoWildcards(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		for _, r := range convert[rbacv1.ClusterRole](t, o).Rules {
			for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs} {
				for _, s := range list {
					if strings.Contains(s, "*") {
						t.Errorf("%s %s grants a wildcard: %+v", o.GetKind(), o.GetName(), r)
					}
				}
			}
		}
	}
}

// A typo or a wrong type in values fails at install time, naming the key.
func TestValuesSchemaRejectsMistakes(t *testing.T) {
	tests := []struct {
		name string
		set  string
		want string
	}{
		{"misspelt key", "controler.replicas=2", "additional properties 'controler' not allowed"},
		{"misspelt nested key", "speaker.memberlist.prot=7946", "additional properties 'prot' not allowed"},
		{"misspelt toleration field", "speaker.tolerations[0].efect=NoSchedule", "additional properties 'efect' not allowed"},
		{"string for a number", "controller.replicas=three", "at '/controller/replicas': got string, want integer"},
		{"unknown log level", "logLevel=verbose", "at '/logLevel'"},
		{"unknown failure policy", "webhook.failurePolicy=fail", "at '/webhook/failurePolicy'"},
		{"port out of range", "webhook.port=70000", "at '/webhook/port'"},
		{"class with spaces", "loadBalancerClass=my class", "at '/loadBalancerClass'"},
		{"flag without dashes", "controller.extraArgs[0]=workers=3", "at '/controller/extraArgs/0'"},
		{"bind address with a port", "speaker.metrics.bindAddress=192.0.2.1:7472", "at '/speaker/metrics/bindAddress'"},
		{"bind address in brackets", "speaker.healthBindAddress=[2001:db8::1]", "at '/speaker/healthBindAddress'"},
		{"BGP listen address with a port", "speaker.bgp.listenAddress=192.0.2.1:179", "at '/speaker/bgp/listenAddress'"},
		{"an old key with a comma", "speaker.memberlist.oldKeys[0]=a\\,b", "at '/speaker/memberlist/oldKeys/0'"},
		// The speakers may read every Secret of that namespace: never the
		// release's own, which holds the webhook's keys.
		{"BGP Secrets in the release namespace", "speaker.bgp.secretsNamespace.name=default",
			"speaker.bgp.secretsNamespace.name must not be the release namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runHelm(t, "", "template", "ironlb", chartDir(t), "--set", tt.set)
			if err == nil {
				t.Fatalf("helm template --set %s succeeded, want a schema error", tt.set)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("helm template --set %s:\n%v\nwant it to contain %q", tt.set, err, tt.want)
			}
		})
	}
}

// The chart ships the CRDs make generate produces, unchanged.
func TestChartCRDsAreGenerated(t *testing.T) {
	generated, err := filepath.Glob(filepath.Join(repoRoot(t), "config", "crd", "*.yaml"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("no generated CRDs in config/crd: %v", err)
	}
	shipped, _ := filepath.Glob(filepath.Join(chartDir(t), "crds", "*.yaml"))
	base := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if diff := cmp.Diff(base(generated), base(shipped)); diff != "" {
		t.Fatalf("charts/ironlb/crds differs from config/crd (-generated +chart):\n%s", diff)
	}
	for _, g := range generated {
		want, _ := os.ReadFile(g)
		got, _ := os.ReadFile(filepath.Join(chartDir(t), "crds", filepath.Base(g)))
		if string(want) != string(got) {
			t.Errorf("charts/ironlb/crds/%s is stale: run make generate", filepath.Base(g))
		}
	}
}

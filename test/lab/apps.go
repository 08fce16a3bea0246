package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// What a cluster lab runs in pods: IronLB as its chart installs it, and the
// lab's backend. Nothing is pulled: every image comes from the archives
// hack/images writes (make images lab-images), imported into each node.

// ImageArchives are the archives a cluster node imports, by file name.
var ImageArchives = []string{"ironlb-controller.tar", "ironlb-speaker.tar", "ironlb-lab-pause.tar", "ironlb-lab-echo.tar"}

// BuildImages writes every archive of ImageArchives into dir.
func BuildImages(ctx context.Context, dir string) error {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	_, err = command(ctx, "go", "-C", root, "run", "./hack/images", "--out", dir,
		"--components", "controller,speaker,./test/cluster/images/pause,./test/cluster/images/echo")
	return err
}

// HaveImages says whether dir holds every archive of ImageArchives.
func HaveImages(dir string) bool {
	for _, a := range ImageArchives {
		if _, err := os.Stat(filepath.Join(dir, a)); err != nil {
			return false
		}
	}
	return true
}

// ChartVersion is the chart's appVersion: the tag of every image hack/images
// builds, and the one the chart's defaults name.
func ChartVersion(ctx context.Context) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(root, "charts", "ironlb", "Chart.yaml"))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "appVersion:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`), nil
		}
	}
	return "", errors.New("charts/ironlb/Chart.yaml has no appVersion")
}

// labImage names a lab image as hack/images tags it.
func (l *Lab) labImage(program string) string {
	return "ghcr.io/ironlb/ironlb-lab-" + program + ":" + l.opts.Cluster.Tag
}

// Helm runs the helm CLI hack/helm.sh builds against the lab, in the
// repository's root (so charts/ironlb is the chart), with its state in the
// lab's directory.
func (l *Lab) Helm(ctx context.Context, args ...string) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin, err := command(ctx, filepath.Join(root, "hack", "helm.sh"))
	if err != nil {
		return "", err
	}
	home := filepath.Join(l.Dir, "helm")
	cmd := exec.CommandContext(ctx, strings.TrimSpace(bin), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+l.Kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// InstallIronLB installs the chart the way the README tells users to: the
// namespace, labelled for privileged pods (the speaker uses the host's
// network), then `helm install --wait` with the chart's defaults but for the
// pull policy, since nothing can be pulled here. It returns helm's output.
func (l *Lab) InstallIronLB(ctx context.Context, extra ...string) (string, error) {
	if _, err := l.Kubectl(ctx, "create", "namespace", SystemNamespace); err != nil {
		return "", err
	}
	if _, err := l.Kubectl(ctx, "label", "namespace", SystemNamespace, "pod-security.kubernetes.io/enforce=privileged"); err != nil {
		return "", err
	}
	args := append([]string{"install", "ironlb", "charts/ironlb", "--namespace", SystemNamespace,
		"--set", "controller.image.pullPolicy=Never", "--set", "speaker.image.pullPolicy=Never",
		"--wait", "--timeout", "5m"}, extra...)
	return l.Helm(ctx, args...)
}

// Apply writes manifest to a file and applies it with kubectl, as a user
// would.
func (l *Lab) Apply(ctx context.Context, manifest string) (string, error) {
	f, err := os.CreateTemp(l.Dir, "manifest-*.yaml")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(manifest); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return l.Kubectl(ctx, "apply", "-f", f.Name())
}

// EchoPort is the port the lab backend serves HTTP on.
const EchoPort = 8080

// DeployEcho runs replicas pods of the lab backend labelled app=name in the
// Service namespace, one per node while there are enough nodes, changed by
// mods, and waits until they are all ready. Each answers a request with its
// pod name, its node and the client address it saw (package
// test/cluster/echo).
func (l *Lab) DeployEcho(ctx context.Context, name string, replicas int32, mods ...func(*corev1.PodSpec)) error {
	labels := map[string]string{"app": name}
	fieldEnv := func(env, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:            "echo",
			Image:           l.labImage("echo"),
			ImagePullPolicy: corev1.PullNever,
			Env:             []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("NODE_NAME", "spec.nodeName")},
			Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: EchoPort}},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
				PeriodSeconds: 1,
			},
		}},
		// The backend ends at once on SIGTERM; no grace to wait out.
		TerminationGracePeriodSeconds: new(int64),
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelHostname,
			WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: labels},
		}},
	}
	for _, m := range mods {
		m(&spec)
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ServiceNamespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	if err := l.Kube.Create(ctx, d); err != nil {
		return err
	}
	return l.WaitRollout(ctx, name)
}

// WaitRollout waits until Deployment name in the Service namespace has all
// its replicas updated and ready, and no old pod is left.
func (l *Lab) WaitRollout(ctx context.Context, name string) error {
	return Poll(ctx, 3*time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
		var d appsv1.Deployment
		if err := l.Kube.Get(ctx, client.ObjectKey{Namespace: ServiceNamespace, Name: name}, &d); err != nil {
			return err
		}
		s, want := d.Status, *d.Spec.Replicas
		if d.Generation != s.ObservedGeneration || s.UpdatedReplicas != want || s.ReadyReplicas != want || s.Replicas != want {
			return fmt.Errorf("deployment %s: %d updated, %d ready of %d", name, s.UpdatedReplicas, s.ReadyReplicas, want)
		}
		pods, err := l.Pods(ctx, name)
		if err != nil {
			return err
		}
		if len(pods) != int(want) {
			return fmt.Errorf("deployment %s: %d pods, want %d", name, len(pods), want)
		}
		return nil
	})
}

// Pods are the pods labelled app=app in the Service namespace, terminating
// ones included.
func (l *Lab) Pods(ctx context.Context, app string) ([]corev1.Pod, error) {
	var pods corev1.PodList
	err := l.Kube.List(ctx, &pods, client.InNamespace(ServiceNamespace), client.MatchingLabels{"app": app})
	return pods.Items, err
}

// OnNode pins pods to one node.
func OnNode(node string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{corev1.LabelHostname: node} }
}

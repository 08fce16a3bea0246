//go:build lab

package chart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// liveObjects fetches every object of a manifest from the API server and
// returns "Kind/name" of those that exist.
func liveObjects(t *testing.T, s *apiServer, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var found []string
	for _, o := range objs {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		err := s.admin.Get(context.Background(), client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetName()}, live)
		switch {
		case err == nil:
			found = append(found, o.GetKind()+"/"+o.GetName())
		case !apierrors.IsNotFound(err):
			t.Fatalf("getting %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	sort.Strings(found)
	return found
}

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}

// helm install creates every object of the chart, and the CRDs, which are
// established and serve the IronLB kinds.
func TestInstallCreatesEveryObject(t *testing.T) {
	s := installed(t)
	manifest := parseObjects(t, mustHelm(t, s.kubeconfig, "get", "manifest", release, "--namespace", namespace))
	want := names(manifest)
	if diff := cmp.Diff(names(render(t)), want); diff != "" {
		t.Errorf("installed release differs from helm template (-template +installed):\n%s", diff)
	}
	if diff := cmp.Diff(want, liveObjects(t, s, manifest)); diff != "" {
		t.Errorf("objects missing from the API server (-manifest +live):\n%s", diff)
	}

	for _, crd := range []string{"ipaddresspools", "l2advertisements", "bgppeers", "bgpadvertisements", "bfdprofiles", "communities", "serviceannouncements"} {
		var got apiextensionsv1.CustomResourceDefinition
		if err := s.admin.Get(context.Background(), client.ObjectKey{Name: crd + ".ironlb.io"}, &got); err != nil {
			t.Errorf("CRD %s.ironlb.io: %v", crd, err)
			continue
		}
		established := false
		for _, c := range got.Status.Conditions {
			established = established || (c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue)
		}
		if !established {
			t.Errorf("CRD %s.ironlb.io is not established", crd)
		}
	}

	var key corev1.Secret
	if err := s.admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "ironlb-memberlist"}, &key); err != nil {
		t.Fatal(err)
	}
	if len(key.Data["key"]) < 32 {
		t.Errorf("memberlist key has %d bytes, want at least 32", len(key.Data["key"]))
	}
}

// Upgrading keeps the speakers' memberlist key (speakers of the old and new
// release must understand each other during the rollout), and the
// controller-written webhook certificate; the documented CRD upgrade command
// works on an installed release.
func TestUpgrade(t *testing.T) {
	s := installed(t)
	ctx := context.Background()
	get := func(name string) corev1.Secret {
		t.Helper()
		var sec corev1.Secret
		if err := s.admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &sec); err != nil {
			t.Fatal(err)
		}
		return sec
	}
	keyBefore := get("ironlb-memberlist").Data["key"]
	checksumBefore := speakerChecksum(t, s)
	// The webhook Secret as the controller fills it (or the empty one the
	// chart creates, when no controller ran yet).
	certBefore := get("ironlb-webhook-cert").Data

	mustHelm(t, s.kubeconfig, "upgrade", release, chartDir(t), "--namespace", namespace,
		"--reuse-values", "--set", "controller.workers=8")

	if diff := cmp.Diff(string(keyBefore), string(get("ironlb-memberlist").Data["key"])); diff != "" {
		t.Errorf("helm upgrade changed the memberlist key (-before +after):\n%s", diff)
	}
	// The same key, so the speakers are not restarted.
	if after := speakerChecksum(t, s); after != checksumBefore {
		t.Errorf("helm upgrade changed the speakers' %s from %s to %s: they would restart for nothing", checksumAnnotation, checksumBefore, after)
	}
	if diff := cmp.Diff(certBefore, get("ironlb-webhook-cert").Data); diff != "" {
		t.Errorf("helm upgrade changed the webhook certificate (-before +after):\n%s", diff)
	}
	values := mustHelm(t, s.kubeconfig, "get", "values", release, "--namespace", namespace)
	if !strings.Contains(values, "workers: 8") {
		t.Errorf("helm upgrade did not take the new value:\n%s", values)
	}

	// charts/ironlb/README.md, "Upgrade": helm never touches crds/ after install, so the CRDs
	// are applied first with server-side apply.
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	cmd := exec.Command(kubectl, "--kubeconfig", s.kubeconfig, "apply", "--server-side", "--force-conflicts",
		"-f", filepath.Join(chartDir(t), "crds"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("kubectl apply --server-side -f charts/ironlb/crds: %v\n%s", err, out)
	}
}

// speakerChecksum is the installed speakers' checksum/memberlist-key.
func speakerChecksum(t *testing.T, s *apiServer) string {
	t.Helper()
	var ds appsv1.DaemonSet
	if err := s.admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "ironlb-speaker"}, &ds); err != nil {
		t.Fatal(err)
	}
	sum := ds.Spec.Template.Annotations[checksumAnnotation]
	if sum == "" {
		t.Fatalf("the speakers' pod template has no %s", checksumAnnotation)
	}
	return sum
}

// A key rotation through values: the first step adds the new key to
// oldKeys; the generated key stays, the Secret gains oldKeys and the
// checksum changes, which rolls the speakers. Undoing it gives the checksum
// of the same key back: it follows the content, not the render.
func TestMemberlistRotationRestartsSpeakers(t *testing.T) {
	s := installed(t)
	get := func() corev1.Secret {
		t.Helper()
		var sec corev1.Secret
		if err := s.admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "ironlb-memberlist"}, &sec); err != nil {
			t.Fatal(err)
		}
		return sec
	}
	upgrade := func(set string) {
		t.Helper()
		mustHelm(t, s.kubeconfig, "upgrade", release, chartDir(t), "--namespace", namespace, "--reuse-values", "--set", set)
	}
	before, checksum := get(), speakerChecksum(t, s)

	upgrade("speaker.memberlist.oldKeys={the-next-key}")
	rotating := get()
	if string(rotating.Data["key"]) != string(before.Data["key"]) || string(rotating.Data["oldKeys"]) != "the-next-key" {
		t.Errorf("Secret after step 1: key changed %v, oldKeys %q; want the same key and oldKeys the-next-key",
			string(rotating.Data["key"]) != string(before.Data["key"]), rotating.Data["oldKeys"])
	}
	if speakerChecksum(t, s) == checksum {
		t.Error("adding an old key left the checksum as it was: the speakers would not pick it up")
	}

	upgrade("speaker.memberlist.oldKeys={}")
	if _, ok := get().Data["oldKeys"]; ok {
		t.Error("oldKeys still in the Secret after it was removed from values")
	}
	if got := speakerChecksum(t, s); got != checksum {
		t.Errorf("checksum %s after undoing the rotation, want the first one %s", got, checksum)
	}
}

// A second release, in its own namespace and with its own names, installs
// beside the first and uninstalls without a trace but the CRDs, which helm
// leaves for the first, and the namespace of BGP password Secrets, which
// holds the user's Secrets and is kept on purpose.
func TestUninstall(t *testing.T) {
	s := installed(t)
	const rel, ns = "second", "ironlb-second"
	// failurePolicy Ignore: this release never runs a controller, and its
	// webhooks must not block the other tests' objects while it exists.
	args := []string{"--namespace", ns, "--set", "webhook.failurePolicy=Ignore"}
	mustHelm(t, s.kubeconfig, append([]string{"install", rel, chartDir(t), "--create-namespace"}, args...)...)
	manifest := parseObjects(t, mustHelm(t, s.kubeconfig, "get", "manifest", rel, "--namespace", ns))
	if diff := cmp.Diff(names(manifest), liveObjects(t, s, manifest)); diff != "" {
		t.Errorf("second release: objects missing (-manifest +live):\n%s", diff)
	}
	for _, o := range manifest {
		// The BGP Secrets' namespace is named after this release's
		// namespace, "ironlb-second", not after a release.
		if strings.HasPrefix(o.GetName(), release+"-") && !strings.HasPrefix(o.GetName(), ns+"-") {
			t.Errorf("second release's %s %s has the first release's name", o.GetKind(), o.GetName())
		}
	}

	mustHelm(t, s.kubeconfig, "uninstall", rel, "--namespace", ns, "--wait")
	kept := "Namespace/" + ns + "-bgp-secrets"
	if diff := cmp.Diff([]string{kept}, liveObjects(t, s, manifest)); diff != "" {
		t.Errorf("left behind by helm uninstall (-want +got):\n%s", diff)
	}
	_ = s.admin.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns + "-bgp-secrets"}})
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := s.admin.List(context.Background(), &crds); err != nil {
		t.Fatal(err)
	}
	shipped, err := filepath.Glob(filepath.Join(chartDir(t), "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(crds.Items) != len(shipped) {
		t.Errorf("%d CRDs left after uninstalling the second release, want the %d of IronLB", len(crds.Items), len(shipped))
	}
}

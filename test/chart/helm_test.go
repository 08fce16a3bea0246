//go:build lab

package chart

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
	helmHome string
)

// helmBin is the helm CLI: $IRONLB_HELM, else what hack/helm.sh builds (or
// finds in its cache) from the Go module proxy.
func helmBin(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() {
		if helmHome, helmErr = os.MkdirTemp("", "ironlb-helm-home-"); helmErr != nil {
			return
		}
		if p := os.Getenv("IRONLB_HELM"); p != "" {
			helmPath = p
			return
		}
		var out []byte
		out, helmErr = exec.Command(filepath.Join(repoRoot(t), "hack", "helm.sh")).Output()
		helmPath = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		t.Fatalf("building helm with hack/helm.sh: %v", helmErr)
	}
	return helmPath
}

// runHelm runs helm with its state (repositories, cache) in a private
// directory, against kubeconfig when it is not "".
func runHelm(t testing.TB, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	bin := helmBin(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"),
	)
	if kubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	} else {
		// Nothing may reach a real cluster from a template or lint run.
		cmd.Env = append(cmd.Env, "KUBECONFIG="+os.DevNull)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(strings.TrimSpace(stderr.String()) + " (" + err.Error() + ")")
	}
	return stdout.String(), nil
}

func mustHelm(t testing.TB, kubeconfig string, args ...string) string {
	t.Helper()
	out, err := runHelm(t, kubeconfig, args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// parseObjects splits a multi-document YAML stream into objects, skipping
// empty documents.
func parseObjects(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("parsing manifest: %v", err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// render runs helm template with the release name "ironlb" in ironlb-system.
func render(t testing.TB, setArgs ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", "ironlb", chartDir(t), "--namespace", "ironlb-system"}, setArgs...)
	return parseObjects(t, mustHelm(t, "", args...))
}

// find returns the one object of kind and name, or fails.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q in the rendered chart", kind, name)
	return nil
}

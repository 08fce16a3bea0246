//go:build lab

package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
)

// normalize flattens rules into one line per (group, resource, name, verb),
// sorted, so that two rule lists granting the same things compare equal
// however they are grouped.
func normalize(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					for _, v := range r.Verbs {
						out = append(out, strings.Join([]string{g, res, n, v}, " "))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// The chart grants each program exactly what controller-gen derives from the
// +kubebuilder:rbac markers of its code (config/rbac/<program>/role.yaml,
// from make generate): nothing missing, nothing more.
func TestRBACMatchesGenerated(t *testing.T) {
	objs := render(t)
	for _, program := range []string{"controller", "speaker"} {
		t.Run(program, func(t *testing.T) {
			path := filepath.Join(repoRoot(t), "config", "rbac", program, "role.yaml")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading the generated RBAC (make generate writes it): %v", err)
			}
			generated := map[string][]rbacv1.PolicyRule{}
			for _, o := range parseObjects(t, string(data)) {
				generated[o.GetKind()] = append(generated[o.GetKind()], convert[rbacv1.ClusterRole](t, o).Rules...)
			}
			for _, kind := range []string{"ClusterRole", "Role"} {
				chart := convert[rbacv1.ClusterRole](t, find(t, objs, kind, "ironlb-"+program)).Rules
				if diff := cmp.Diff(normalize(generated[kind]), normalize(chart)); diff != "" {
					t.Errorf("%s ironlb-%s: chart differs from %s (-generated +chart):\n%s", kind, program, path, diff)
				}
			}
		})
	}
}

// Issue 9: who may read which Secrets. No ClusterRole grants any; the
// controller's grant names its webhook Secret, reads included; the
// speaker's lives in the namespace of BGP password Secrets, never in the
// release namespace, which holds the webhook's keys and the memberlist key.
func TestSecretGrants(t *testing.T) {
	var got []string
	for _, o := range render(t) {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		for _, r := range convert[rbacv1.ClusterRole](t, o).Rules {
			if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "secrets") {
				got = append(got, fmt.Sprintf("%s %s/%s: %v %v", o.GetKind(), o.GetNamespace(), o.GetName(), r.Verbs, r.ResourceNames))
			}
		}
	}
	want := []string{
		"Role ironlb-system/ironlb-controller: [list watch update] [ironlb-webhook-cert]",
		"Role ironlb-system-bgp-secrets/ironlb-speaker: [list watch] []",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Secret grants (-want +got):\n%s", diff)
	}
}

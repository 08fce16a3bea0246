//go:build lab

package chart

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const checksumAnnotation = "checksum/memberlist-key"

// memberlistRender is what one rendering says about the speakers' key.
type memberlistRender struct {
	key, oldKeys string // the generated Secret's data, decoded; "" without one
	checksum     string // the speaker pod template's annotation
}

func renderMemberlist(t *testing.T, args ...string) memberlistRender {
	t.Helper()
	objs := render(t, args...)
	var r memberlistRender
	for _, o := range objs {
		switch {
		case o.GetKind() == "Secret" && strings.HasSuffix(o.GetName(), "-memberlist"):
			sec := convert[corev1.Secret](t, o)
			r.key, r.oldKeys = string(sec.Data["key"]), string(sec.Data["oldKeys"])
		case o.GetKind() == "DaemonSet":
			r.checksum = convert[appsv1.DaemonSet](t, o).Spec.Template.Annotations[checksumAnnotation]
		}
	}
	if r.checksum == "" {
		t.Fatalf("no %s annotation on the speakers' pod template", checksumAnnotation)
	}
	return r
}

// Without a cluster (helm template, GitOps tools rendering that way) lookup
// finds no Secret and a key is drawn at each render; the speakers' checksum
// must not follow it, or every render would restart every speaker with a key
// the running ones do not have.
func TestMemberlistChecksumStableWithoutCluster(t *testing.T) {
	first, second := renderMemberlist(t), renderMemberlist(t)
	if len(first.key) < 32 {
		t.Errorf("generated key %q is shorter than 32 characters", first.key)
	}
	if first.key == second.key {
		t.Errorf("two renders without a cluster drew the same key %q: not random?", first.key)
	}
	if first.checksum != second.checksum {
		t.Errorf("the checksum changed between two renders (%s, %s): every render would restart the speakers", first.checksum, second.checksum)
	}
	if strings.Contains(first.checksum, first.key) {
		t.Error("the annotation holds the key itself")
	}
}

// speaker.memberlist.key renders the same Secret every time, and a new key or
// new old keys change the checksum, which restarts the speakers.
func TestMemberlistKeyFromValues(t *testing.T) {
	withKey := func(key string, old ...string) []string {
		set := "speaker.memberlist.key=" + key
		if len(old) > 0 {
			set += ",speaker.memberlist.oldKeys={" + strings.Join(old, ",") + "}"
		}
		return []string{"--set", set}
	}
	a1, a2 := renderMemberlist(t, withKey("key-a")...), renderMemberlist(t, withKey("key-a")...)
	if a1 != a2 {
		t.Errorf("two renders with the same key differ: %+v, %+v", a1, a2)
	}
	if a1.key != "key-a" || a1.oldKeys != "" {
		t.Errorf("Secret holds key %q, oldKeys %q; want key-a and none", a1.key, a1.oldKeys)
	}
	b := renderMemberlist(t, withKey("key-b")...)
	rotating := renderMemberlist(t, withKey("key-a", "key-b")...)
	generated := renderMemberlist(t)
	if rotating.oldKeys != "key-b" {
		t.Errorf("Secret oldKeys %q, want key-b", rotating.oldKeys)
	}
	seen := map[string]string{}
	for name, r := range map[string]memberlistRender{"key-a": a1, "key-b": b, "key-a + old key-b": rotating, "generated": generated} {
		if other, dup := seen[r.checksum]; dup {
			t.Errorf("%s and %s have the same checksum: changing between them would not restart the speakers", name, other)
		}
		seen[r.checksum] = name
	}
}

// An existing Secret cannot be read without a cluster: its name alone makes
// the checksum, stable across renders, and no Secret is rendered.
func TestMemberlistExistingSecret(t *testing.T) {
	one := renderMemberlist(t, "--set", "speaker.memberlist.existingSecret=my-key")
	again := renderMemberlist(t, "--set", "speaker.memberlist.existingSecret=my-key")
	other := renderMemberlist(t, "--set", "speaker.memberlist.existingSecret=other-key")
	if one.key != "" {
		t.Error("a memberlist Secret is rendered beside an existing one")
	}
	if one.checksum != again.checksum || one.checksum == other.checksum {
		t.Errorf("checksums %s, %s (same Secret), %s (another): want equal, equal, different", one.checksum, again.checksum, other.checksum)
	}
}

// The alerts on the speakers' gossip: an isolated speaker, and a speaker that
// sees fewer live speakers than it expects.
func TestPrometheusRuleSpeakerAlerts(t *testing.T) {
	objs := render(t, "--set", "prometheus.prometheusRule.enabled=true,prometheus.prometheusRule.speakerIsolated.for=1m")
	rule := find(t, objs, "PrometheusRule", "ironlb")
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	got := map[string]map[string]any{}
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			m := r.(map[string]any)
			got[m["alert"].(string)] = m
		}
	}
	want := map[string]struct{ expr, for_, severity string }{
		"IronLBSpeakerIsolated":     {"ironlb_speaker_isolated == 1", "1m", "critical"},
		"IronLBSpeakersUnreachable": {"ironlb_speaker_live_members < ironlb_speaker_expected_members", "10m", "warning"},
	}
	for name, w := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("no alert %s", name)
			continue
		}
		sev, _, _ := unstructured.NestedString(r, "labels", "severity")
		if strings.TrimSpace(r["expr"].(string)) != w.expr || r["for"] != w.for_ || sev != w.severity {
			t.Errorf("alert %s: expr %q, for %v, severity %q; want %q, %s, %s", name, r["expr"], r["for"], sev, w.expr, w.for_, w.severity)
		}
		desc, _, _ := unstructured.NestedString(r, "annotations", "description")
		if !strings.Contains(desc, "7946") {
			t.Errorf("alert %s does not name the memberlist port: %s", name, desc)
		}
	}
}

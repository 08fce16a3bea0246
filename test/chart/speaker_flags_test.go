//go:build lab

package chart

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// speakerArgs renders the chart with setArgs and returns the arguments of
// the speaker DaemonSet's container.
func speakerArgs(t *testing.T, setArgs ...string) []string {
	t.Helper()
	ds := convert[appsv1.DaemonSet](t, find(t, render(t, setArgs...), "DaemonSet", "ironlb-speaker"))
	return ds.Spec.Template.Spec.Containers[0].Args
}

// speaker.ignoreExcludeLB reaches the speaker as --ignore-exclude-lb, and
// only when set: by default nodes labelled
// node.kubernetes.io/exclude-from-external-load-balancers do not announce.
func TestSpeakerIgnoreExcludeLBFlag(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want bool
	}{
		{name: "default", want: false},
		{name: "false", set: []string{"--set", "speaker.ignoreExcludeLB=false"}, want: false},
		{name: "true", set: []string{"--set", "speaker.ignoreExcludeLB=true"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := speakerArgs(t, tt.set...)
			if got := slices.Contains(args, "--ignore-exclude-lb"); got != tt.want {
				t.Errorf("--ignore-exclude-lb in the speaker's args: %v, want %v; args %q", got, tt.want, args)
			}
		})
	}
}

// speaker.pprofBindAddress reaches the speaker as --pprof-bind-address, and
// only when set: by default no profiles are served on the host's network.
func TestSpeakerPprofFlag(t *testing.T) {
	if args := speakerArgs(t); slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--pprof-bind-address") }) {
		t.Errorf("default speaker args serve pprof: %q", args)
	}
	args := speakerArgs(t, "--set", "speaker.pprofBindAddress=127.0.0.1:6061")
	if !slices.Contains(args, "--pprof-bind-address=127.0.0.1:6061") {
		t.Errorf("speaker args %q lack --pprof-bind-address=127.0.0.1:6061", args)
	}
}

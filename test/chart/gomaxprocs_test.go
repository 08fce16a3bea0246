//go:build lab

package chart

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// controller.goMaxProcs and speaker.goMaxProcs reach each program as
// GOMAXPROCS: 1 by default, none when emptied (Go's own default then
// applies).
func TestGoMaxProcs(t *testing.T) {
	containerOf := map[string]func(t *testing.T, set []string) corev1.Container{
		"controller": func(t *testing.T, set []string) corev1.Container {
			d := convert[appsv1.Deployment](t, find(t, render(t, set...), "Deployment", "ironlb-controller"))
			return d.Spec.Template.Spec.Containers[0]
		},
		"speaker": func(t *testing.T, set []string) corev1.Container {
			ds := convert[appsv1.DaemonSet](t, find(t, render(t, set...), "DaemonSet", "ironlb-speaker"))
			return ds.Spec.Template.Spec.Containers[0]
		},
	}
	for program, container := range containerOf {
		tests := []struct {
			name string
			set  []string
			want string // "" = no GOMAXPROCS in the environment
		}{
			{name: "default", want: "1"},
			{name: "two", set: []string{"--set", program + ".goMaxProcs=2"}, want: "2"},
			{name: "Go's default", set: []string{"--set", program + ".goMaxProcs="}, want: ""},
		}
		for _, tt := range tests {
			t.Run(program+"/"+tt.name, func(t *testing.T) {
				got := ""
				for _, e := range container(t, tt.set).Env {
					if e.Name == "GOMAXPROCS" {
						got = e.Value
					}
				}
				if got != tt.want {
					t.Errorf("GOMAXPROCS %q, want %q", got, tt.want)
				}
			})
		}
	}
}

package main

import (
	"flag"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker"
)

func parse(t *testing.T, args []string, env map[string]string) (speaker.Options, error) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := InitFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return speaker.Options{}, err
	}
	return f.options(getenv)
}

func TestOptions(t *testing.T) {
	withKey := map[string]string{"NODE_NAME": "node-a", KeyEnv: "k"}
	defaults := speaker.Options{
		Config: speaker.Config{
			NodeName:        "node-a",
			Class:           v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: true},
			MemberlistPort:  7946,
			SecretNamespace: "ironlb-system",
		},
		MemberlistKey:          "k",
		BGPListenPort:          -1,
		MetricsBindAddress:     ":7472",
		HealthProbeBindAddress: ":7473",
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(o *speaker.Options)
		wantErr string
	}{
		{name: "defaults", env: withKey, want: func(*speaker.Options) {}},
		{
			name: "every flag",
			args: []string{
				"--node-name=node-b", "--load-balancer-class=example.com/lb", "--default-class=false",
				"--memberlist-port=7950", "--memberlist-bind-address=192.0.2.5", "--gratuitous-count=5",
				"--reannounce-interval=10s", "--bgp-listen-port=179", "--secret-namespace=",
				"--metrics-bind-address=0", "--health-probe-bind-address=:9000", "--log-level=debug",
			},
			env: withKey,
			want: func(o *speaker.Options) {
				o.NodeName = "node-b"
				o.Class = v1beta1.ClassFilter{Class: "example.com/lb", Default: false}
				o.MemberlistPort = 7950
				o.MemberlistBindAddress = netip.MustParseAddr("192.0.2.5")
				o.GratuitousCount = 5
				o.ReannounceInterval = 10 * time.Second
				o.BGPListenPort = 179
				o.SecretNamespace = ""
				o.MetricsBindAddress = "0"
				o.HealthProbeBindAddress = ":9000"
			},
		},
		{name: "insecure without a key", args: []string{"--insecure-memberlist"}, env: map[string]string{"NODE_NAME": "node-a"},
			want: func(o *speaker.Options) { o.MemberlistKey = ""; o.InsecureMemberlist = true }},
		{name: "no node name", env: map[string]string{KeyEnv: "k"}, wantErr: "--node-name (or NODE_NAME) is required"},
		{name: "no key", env: map[string]string{"NODE_NAME": "node-a"}, wantErr: "IRONLB_MEMBERLIST_KEY is empty"},
		{name: "bad bind address", args: []string{"--memberlist-bind-address=node-a"}, env: withKey, wantErr: "is not an IP address"},
		{name: "bad log level", args: []string{"--log-level=loud"}, env: withKey, wantErr: "--log-level"},
		{name: "bad BGP port", args: []string{"--bgp-listen-port=70000"}, env: withKey, wantErr: "--bgp-listen-port"},
		{name: "bad memberlist port", args: []string{"--memberlist-port=0"}, env: withKey, wantErr: "--memberlist-port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(t, tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			tc.want(&want)
			if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreFields(speaker.Config{}, "Registerer")); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

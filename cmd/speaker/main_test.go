package main

import (
	"flag"
	"io"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	// HOST_IP is the node's IP, which the chart passes from status.hostIP.
	withKey := map[string]string{"NODE_NAME": "node-a", KeyEnv: "k", "HOST_IP": "192.0.2.11"}
	without := func(env map[string]string, key string) map[string]string {
		out := maps.Clone(env)
		delete(out, key)
		return out
	}
	with := func(env map[string]string, key, value string) map[string]string {
		out := maps.Clone(env)
		out[key] = value
		return out
	}
	defaults := speaker.Options{
		Config: speaker.Config{
			NodeName:        "node-a",
			Class:           v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: true},
			MemberlistPort:  7946,
			SecretNamespace: "ironlb-system-bgp-secrets",
		},
		MemberlistKey: "k",
		BGPListenPort: -1,
		// Not every address of the host: only the node's own.
		MetricsBindAddress:     "192.0.2.11:7472",
		HealthProbeBindAddress: "192.0.2.11:7473",
		PprofBindAddress:       "0",
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
				"--reannounce-interval=10s", "--bgp-listen-port=179", "--bgp-listen-address=192.0.2.11,2001:db8::11",
				"--bgp-listen-address=::ffff:198.51.100.1", "--secret-namespace=",
				"--metrics-bind-address=0", "--health-probe-bind-address=:9000", "--log-level=debug",
				"--pprof-bind-address=127.0.0.1:6061",
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
				o.BGPListenAddresses = []netip.Addr{netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("2001:db8::11"),
					netip.MustParseAddr("198.51.100.1")}
				o.SecretNamespace = ""
				o.MetricsBindAddress = "0"
				o.HealthProbeBindAddress = ":9000"
				o.PprofBindAddress = "127.0.0.1:6061"
			},
		},
		{name: "metrics and probes on the node's IPv6 address", env: with(withKey, "HOST_IP", "2001:db8::11"),
			want: func(o *speaker.Options) {
				o.MetricsBindAddress, o.HealthProbeBindAddress = "[2001:db8::11]:7472", "[2001:db8::11]:7473"
			}},
		{name: "without HOST_IP the Node's InternalIP is looked up later", env: without(withKey, "HOST_IP"),
			want: func(o *speaker.Options) { o.MetricsBindAddress, o.HealthProbeBindAddress = "", "" }},
		{name: "every address when asked", args: []string{"--metrics-bind-address=:7472", "--health-probe-bind-address=[::]:7473"}, env: withKey,
			want: func(o *speaker.Options) { o.MetricsBindAddress, o.HealthProbeBindAddress = ":7472", "[::]:7473" }},
		{name: "bad HOST_IP", env: with(withKey, "HOST_IP", "node-a"), wantErr: "HOST_IP"},
		{name: "insecure without a key", args: []string{"--insecure-memberlist"}, env: without(withKey, KeyEnv),
			want: func(o *speaker.Options) { o.MemberlistKey = ""; o.InsecureMemberlist = true }},
		{name: "no node name", env: map[string]string{KeyEnv: "k"}, wantErr: "--node-name (or NODE_NAME) is required"},
		{name: "no key", env: map[string]string{"NODE_NAME": "node-a"}, wantErr: "IRONLB_MEMBERLIST_KEY is empty"},
		{name: "bad bind address", args: []string{"--memberlist-bind-address=node-a"}, env: withKey, wantErr: "is not an IP address"},
		{name: "bad log level", args: []string{"--log-level=loud"}, env: withKey, wantErr: "--log-level"},
		{name: "bad BGP port", args: []string{"--bgp-listen-port=70000"}, env: withKey, wantErr: "--bgp-listen-port"},
		{name: "no API requests allowed", args: []string{"--kube-api-qps=0"}, env: withKey, wantErr: "--kube-api-qps 0 and --kube-api-burst 100 must be positive"},
		{name: "bad BGP listen address", args: []string{"--bgp-listen-address=192.0.2.11,eth0"}, env: withKey,
			wantErr: `invalid value "192.0.2.11,eth0" for flag -bgp-listen-address: "eth0" is not an IP address`},
		// A rotation: the keys still accepted, blanks dropped.
		{name: "old keys", env: with(withKey, OldKeysEnv, " older, oldest ,"),
			want: func(o *speaker.Options) { o.MemberlistOldKeys = []string{"older", "oldest"} }},
		{name: "old keys without a key", args: []string{"--insecure-memberlist"}, env: with(without(withKey, KeyEnv), OldKeysEnv, "old"),
			wantErr: "IRONLB_MEMBERLIST_OLD_KEYS is set but IRONLB_MEMBERLIST_KEY is empty"},
		{name: "bad memberlist port", args: []string{"--memberlist-port=0"}, env: withKey, wantErr: "--memberlist-port"},
		{name: "exclude label ignored", args: []string{"--ignore-exclude-lb"}, env: withKey,
			want: func(o *speaker.Options) { o.IgnoreExcludeLB = true }},
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

// Without HOST_IP, the endpoints left unset go on the Node's InternalIP,
// never on every address of the host.
func TestOnNode(t *testing.T) {
	node := func(addrs ...corev1.NodeAddress) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Status: corev1.NodeStatus{Addresses: addrs}}
	}
	internal := func(ip string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
	}
	tests := []struct {
		name                   string
		node                   *corev1.Node
		metrics, probe         string
		wantMetrics, wantProbe string
		wantErr                string
	}{
		{name: "both on the InternalIP", node: node(corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.5"}, internal("198.51.100.11")),
			wantMetrics: "198.51.100.11:7472", wantProbe: "198.51.100.11:7473"},
		{name: "IPv6 InternalIP", node: node(internal("2001:db8::11")),
			wantMetrics: "[2001:db8::11]:7472", wantProbe: "[2001:db8::11]:7473"},
		{name: "a flag given stays", node: node(internal("198.51.100.11")), metrics: "0",
			wantMetrics: "0", wantProbe: "198.51.100.11:7473"},
		{name: "no InternalIP", node: node(), wantErr: "node node-a has no InternalIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := speaker.Options{MetricsBindAddress: tt.metrics, HealthProbeBindAddress: tt.probe}
			err := onNode(&opts, tt.node)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.MetricsBindAddress != tt.wantMetrics || opts.HealthProbeBindAddress != tt.wantProbe {
				t.Errorf("metrics %q, probes %q; want %q, %q", opts.MetricsBindAddress, opts.HealthProbeBindAddress, tt.wantMetrics, tt.wantProbe)
			}
		})
	}
}

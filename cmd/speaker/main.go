// Command ironlb-speaker announces load-balancer addresses from one node, by
// ARP/NDP and BGP. It runs on every node (a DaemonSet with hostNetwork);
// see package speaker for what it does and the README for its flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker"
	"github.com/ironlb/ironlb/speaker/member"
)

// KeyEnv holds the memberlist shared key; the chart fills it from a Secret.
const KeyEnv = "IRONLB_MEMBERLIST_KEY"

// OldKeysEnv holds keys still accepted but never sent with, comma-separated:
// the chart fills it from the Secret's optional "oldKeys" during a rotation.
const OldKeysEnv = "IRONLB_MEMBERLIST_OLD_KEYS"

// HostIPEnv holds the node's IP; the chart fills it from status.hostIP.
const HostIPEnv = "HOST_IP"

// Ports of the metrics endpoint and the probes when their flags are unset.
const (
	defaultMetricsPort = 7472
	defaultProbePort   = 7473
)

// flags are the command line, before validation.
type flags struct {
	kubeconfig         string
	metricsAddr        string
	probeAddr          string
	pprofAddr          string
	class              string
	defaultClass       bool
	nodeName           string
	memberlistPort     int
	memberlistBind     string
	insecureMemberlist bool
	gratuitousCount    int
	reannounce         time.Duration
	bgpListenPort      int
	bgpListenAddrs     addrList
	secretNamespace    string
	logLevel           string
	ignoreExcludeLB    bool
	kubeAPIQPS         float64
	kubeAPIBurst       int
}

// InitFlags registers every flag on fs. getenv supplies defaults taken from
// the environment (NODE_NAME).
func InitFlags(fs *flag.FlagSet, getenv func(string) string) *flags {
	f := &flags{}
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "Path to a kubeconfig; default in-cluster config or $KUBECONFIG.")
	// The speaker shares the host's network: ":port" would listen on every
	// address of the host, pod bridges and other networks included.
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", "",
		`Address of the metrics endpoint; default the node's IP ($HOST_IP, else its InternalIP), port 7472; ":7472" = every address; "0" disables it.`)
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", "",
		`Address of /healthz and /readyz; default the node's IP ($HOST_IP, else its InternalIP), port 7473; ":7473" = every address; "0" disables them.`)
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0",
		`Address Go's /debug/pprof profiles are served on, e.g. "127.0.0.1:6060"; "0" (the default) disables them.`)
	fs.StringVar(&f.class, "load-balancer-class", v1beta1.DefaultLoadBalancerClass, "spec.loadBalancerClass of the Services announced.")
	fs.BoolVar(&f.defaultClass, "default-class", true, "Also announce LoadBalancer Services with no spec.loadBalancerClass.")
	fs.StringVar(&f.nodeName, "node-name", getenv("NODE_NAME"), "Name of the Node this speaker runs on (default $NODE_NAME).")
	fs.IntVar(&f.memberlistPort, "memberlist-port", member.DefaultPort, "TCP and UDP port speakers gossip on; the same on every node.")
	fs.StringVar(&f.memberlistBind, "memberlist-bind-address", "", "Address to gossip on; default the Node's InternalIP.")
	fs.BoolVar(&f.insecureMemberlist, "insecure-memberlist", false, "Allow gossip without "+KeyEnv+": unencrypted and unauthenticated.")
	fs.IntVar(&f.gratuitousCount, "gratuitous-count", 0, "Gratuitous ARPs / unsolicited NAs sent on takeover; 0 = the layer2 default.")
	fs.DurationVar(&f.reannounce, "reannounce-interval", 0, "Re-send a gratuitous ARP / NA for every owned address this often; 0 = never.")
	fs.IntVar(&f.bgpListenPort, "bgp-listen-port", -1, "TCP port to accept BGP sessions on; -1 = only dial out.")
	fs.Var(&f.bgpListenAddrs, "bgp-listen-address",
		"Address to accept BGP sessions on, repeatable or comma-separated; default the Node's InternalIPs (both families), not every address of the host.")
	fs.StringVar(&f.secretNamespace, "secret-namespace", "ironlb-system-bgp-secrets", `The only namespace BGP password Secrets are read from; the speaker may read every Secret of it, so keep it for them alone (the chart's is "<release namespace>-bgp-secrets", the generated RBAC's "ironlb-system-bgp-secrets"); "" = any (needs cluster-wide Secret access).`)
	fs.BoolVar(&f.ignoreExcludeLB, "ignore-exclude-lb", false,
		"Let nodes labelled node.kubernetes.io/exclude-from-external-load-balancers announce too (clusters of control-plane nodes only); every speaker must be given the same value.")
	fs.StringVar(&f.logLevel, "log-level", "info", "Log level: error, info, debug, or a verbosity number (2 = more than debug).")
	// client-go's default (5, 10) or controller-runtime's (20, 30) would
	// take minutes to write the ServiceAnnouncements and Events of a burst
	// of thousands of Services in a small cluster, where each speaker
	// writes a third of them.
	fs.Float64Var(&f.kubeAPIQPS, "kube-api-qps", 50, "Sustained requests per second to the API server.")
	fs.IntVar(&f.kubeAPIBurst, "kube-api-burst", 100, "Burst of requests to the API server.")
	return f
}

// options validates the flags and the environment into speaker.Options.
// A bind address left unset is on the node's IP from HOST_IP; without
// HOST_IP it stays "" for main to put on the Node's InternalIP.
func (f *flags) options(getenv func(string) string) (speaker.Options, error) {
	opts := speaker.Options{
		Config: speaker.Config{
			NodeName:        f.nodeName,
			Class:           v1beta1.ClassFilter{Class: f.class, Default: f.defaultClass},
			MemberlistPort:  f.memberlistPort,
			SecretNamespace: f.secretNamespace,
		},
		MemberlistKey:          getenv(KeyEnv),
		MemberlistOldKeys:      splitKeys(getenv(OldKeysEnv)),
		InsecureMemberlist:     f.insecureMemberlist,
		GratuitousCount:        f.gratuitousCount,
		ReannounceInterval:     f.reannounce,
		IgnoreExcludeLB:        f.ignoreExcludeLB,
		MetricsBindAddress:     f.metricsAddr,
		HealthProbeBindAddress: f.probeAddr,
		PprofBindAddress:       f.pprofAddr,
	}
	var host netip.Addr
	if v := getenv(HostIPEnv); v != "" {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return opts, fmt.Errorf("%s %q is not an IP address", HostIPEnv, v)
		}
		host = ip.Unmap()
	}
	opts.MetricsBindAddress = onHost(f.metricsAddr, host, defaultMetricsPort)
	opts.HealthProbeBindAddress = onHost(f.probeAddr, host, defaultProbePort)
	if f.bgpListenPort < -1 || f.bgpListenPort > 65535 {
		return opts, fmt.Errorf("--bgp-listen-port %d is not -1 or a port", f.bgpListenPort)
	}
	opts.BGPListenPort = int32(f.bgpListenPort)
	opts.BGPListenAddresses = f.bgpListenAddrs
	if f.memberlistBind != "" {
		ip, err := netip.ParseAddr(f.memberlistBind)
		if err != nil {
			return opts, fmt.Errorf("--memberlist-bind-address %q is not an IP address", f.memberlistBind)
		}
		opts.MemberlistBindAddress = ip
	}
	if _, err := parseLogLevel(f.logLevel); err != nil {
		return opts, err
	}
	if f.kubeAPIQPS <= 0 || f.kubeAPIBurst <= 0 {
		return opts, fmt.Errorf("--kube-api-qps %v and --kube-api-burst %d must be positive", f.kubeAPIQPS, f.kubeAPIBurst)
	}
	return opts, opts.Validate()
}

// splitKeys splits a comma-separated list of keys, dropping blanks (a
// trailing comma, spaces around the commas).
func splitKeys(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// addrList is a flag of IP addresses, repeatable and comma-separated.
type addrList []netip.Addr

func (l *addrList) String() string {
	parts := make([]string, len(*l))
	for i, a := range *l {
		parts[i] = a.String()
	}
	return strings.Join(parts, ",")
}

func (l *addrList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || ip.Zone() != "" {
			return fmt.Errorf("%q is not an IP address without a zone", s)
		}
		*l = append(*l, ip.Unmap())
	}
	return nil
}

// onHost is a bind address: flag when set, else host:port ("[v6]:port"),
// else "" while the host is not known yet.
func onHost(flag string, host netip.Addr, port uint16) string {
	if flag != "" || !host.IsValid() {
		return flag
	}
	return netip.AddrPortFrom(host, port).String()
}

// onNode puts the bind addresses still unset on the Node's InternalIP.
func onNode(opts *speaker.Options, node *corev1.Node) error {
	if opts.MetricsBindAddress != "" && opts.HealthProbeBindAddress != "" {
		return nil
	}
	ip, ok := speaker.InternalIP(node)
	if !ok {
		return fmt.Errorf("node %s has no InternalIP for metrics and probes: set %s, --metrics-bind-address and --health-probe-bind-address",
			node.Name, HostIPEnv)
	}
	opts.MetricsBindAddress = onHost(opts.MetricsBindAddress, ip, defaultMetricsPort)
	opts.HealthProbeBindAddress = onHost(opts.HealthProbeBindAddress, ip, defaultProbePort)
	return nil
}

// parseLogLevel maps --log-level to zap: info is logr V(0), debug V(1), a
// number n V(n).
func parseLogLevel(s string) (zapcore.Level, error) {
	switch strings.ToLower(s) {
	case "error":
		return zapcore.ErrorLevel, nil
	case "info", "":
		return zapcore.InfoLevel, nil
	case "debug":
		return zapcore.DebugLevel, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 127 {
		return 0, fmt.Errorf("--log-level %q: want error, info, debug or a verbosity 0-127", s)
	}
	return zapcore.Level(-n), nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return ctrl.GetConfig()
}

func main() {
	fs := flag.NewFlagSet("ironlb-speaker", flag.ExitOnError)
	f := InitFlags(fs, os.Getenv)
	_ = fs.Parse(os.Args[1:]) // ExitOnError: exits on a bad flag
	opts, err := f.options(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ironlb-speaker:", err)
		os.Exit(1)
	}
	level, _ := parseLogLevel(f.logLevel) // checked by options
	ctrl.SetLogger(zap.New(zap.Level(level)))
	log := ctrl.Log.WithName("setup")

	cfg, err := restConfig(f.kubeconfig)
	if err != nil {
		log.Error(err, "Unable to load a kubeconfig")
		os.Exit(1)
	}
	cfg.QPS, cfg.Burst = float32(f.kubeAPIQPS), f.kubeAPIBurst
	// Decompressing the API server's gzip was 6 % of a speaker's CPU in a
	// burst of Services (and compressing costs the API server, once per
	// node); the watch events it shrinks are small and few at rest.
	cfg.DisableCompression = true
	// SIGTERM or SIGINT cancels the context (a second one exits at once);
	// Run then leaves the memberlist, stops BGP and returns.
	ctx := ctrl.SetupSignalHandler()
	if err := bindOnNode(ctx, cfg, &opts); err != nil {
		log.Error(err, "Cannot place the metrics and probe endpoints")
		os.Exit(1)
	}
	if err := speaker.Run(ctx, cfg, opts); err != nil {
		log.Error(err, "Speaker failed")
		os.Exit(1)
	}
}

// bindOnNode reads this speaker's Node, only when a bind address is still
// unset (no HOST_IP), and puts it on the Node's InternalIP.
func bindOnNode(ctx context.Context, cfg *rest.Config, opts *speaker.Options) error {
	if opts.MetricsBindAddress != "" && opts.HealthProbeBindAddress != "" {
		return nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, opts.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading Node %s for its InternalIP: %w", opts.NodeName, err)
	}
	return onNode(opts, node)
}

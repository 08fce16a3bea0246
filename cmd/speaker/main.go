// Command ironlb-speaker announces load-balancer addresses from one node, by
// ARP/NDP and BGP. It runs on every node (a DaemonSet with hostNetwork);
// see package speaker for what it does and API.md for its flags.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
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

// flags are the command line, before validation.
type flags struct {
	kubeconfig         string
	metricsAddr        string
	probeAddr          string
	class              string
	defaultClass       bool
	nodeName           string
	memberlistPort     int
	memberlistBind     string
	insecureMemberlist bool
	gratuitousCount    int
	reannounce         time.Duration
	bgpListenPort      int
	secretNamespace    string
	logLevel           string
}

// InitFlags registers every flag on fs. getenv supplies defaults taken from
// the environment (NODE_NAME).
func InitFlags(fs *flag.FlagSet, getenv func(string) string) *flags {
	f := &flags{}
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "Path to a kubeconfig; default in-cluster config or $KUBECONFIG.")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":7472", `Address of the metrics endpoint; "0" disables it.`)
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":7473", `Address of /healthz and /readyz; "0" disables them.`)
	fs.StringVar(&f.class, "load-balancer-class", v1beta1.DefaultLoadBalancerClass, "spec.loadBalancerClass of the Services announced.")
	fs.BoolVar(&f.defaultClass, "default-class", true, "Also announce LoadBalancer Services with no spec.loadBalancerClass.")
	fs.StringVar(&f.nodeName, "node-name", getenv("NODE_NAME"), "Name of the Node this speaker runs on (default $NODE_NAME).")
	fs.IntVar(&f.memberlistPort, "memberlist-port", member.DefaultPort, "TCP and UDP port speakers gossip on; the same on every node.")
	fs.StringVar(&f.memberlistBind, "memberlist-bind-address", "", "Address to gossip on; default the Node's InternalIP.")
	fs.BoolVar(&f.insecureMemberlist, "insecure-memberlist", false, "Allow gossip without "+KeyEnv+": unencrypted and unauthenticated.")
	fs.IntVar(&f.gratuitousCount, "gratuitous-count", 0, "Gratuitous ARPs / unsolicited NAs sent on takeover; 0 = the layer2 default.")
	fs.DurationVar(&f.reannounce, "reannounce-interval", 0, "Re-send a gratuitous ARP / NA for every owned address this often; 0 = never.")
	fs.IntVar(&f.bgpListenPort, "bgp-listen-port", -1, "TCP port to accept BGP sessions on; -1 = only dial out.")
	fs.StringVar(&f.secretNamespace, "secret-namespace", "ironlb-system", `The only namespace BGP password Secrets are read from; "" = any (needs cluster-wide Secret access).`)
	fs.StringVar(&f.logLevel, "log-level", "info", "Log level: error, info, debug, or a verbosity number (2 = more than debug).")
	return f
}

// options validates the flags and the environment into speaker.Options.
func (f *flags) options(getenv func(string) string) (speaker.Options, error) {
	opts := speaker.Options{
		Config: speaker.Config{
			NodeName:        f.nodeName,
			Class:           v1beta1.ClassFilter{Class: f.class, Default: f.defaultClass},
			MemberlistPort:  f.memberlistPort,
			SecretNamespace: f.secretNamespace,
		},
		MemberlistKey:          getenv(KeyEnv),
		InsecureMemberlist:     f.insecureMemberlist,
		GratuitousCount:        f.gratuitousCount,
		ReannounceInterval:     f.reannounce,
		MetricsBindAddress:     f.metricsAddr,
		HealthProbeBindAddress: f.probeAddr,
	}
	if f.bgpListenPort < -1 || f.bgpListenPort > 65535 {
		return opts, fmt.Errorf("--bgp-listen-port %d is not -1 or a port", f.bgpListenPort)
	}
	opts.BGPListenPort = int32(f.bgpListenPort)
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
	return opts, opts.Validate()
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
	// SIGTERM or SIGINT cancels the context (a second one exits at once);
	// Run then leaves the memberlist, stops BGP and returns.
	if err := speaker.Run(ctrl.SetupSignalHandler(), cfg, opts); err != nil {
		log.Error(err, "Speaker failed")
		os.Exit(1)
	}
}

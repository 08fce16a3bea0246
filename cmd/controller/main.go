// Command ironlb-controller assigns external IPs from IPAddressPools to
// LoadBalancer Services. See the README for its flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers"
	"github.com/ironlb/ironlb/controllers/webhook"
)

// Options are the controller's flags.
type Options struct {
	MetricsAddr   string
	ProbeAddr     string
	PprofAddr     string
	LeaderElect   bool
	LeaderElectNS string
	// Leader-election timings, as kube-controller-manager names them.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	Class         string
	DefaultClass  bool
	Workers       int
	KubeAPIQPS    float64
	KubeAPIBurst  int
	Zap           zap.Options
	Webhook       webhook.Options
}

// InitFlags registers the flags on fs. --kubeconfig is registered by
// controller-runtime itself.
func (o *Options) InitFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":7472", "Address the Prometheus metrics endpoint binds to; \"0\" disables it.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":7473", "Address the /healthz and /readyz probes bind to.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "0", "Address Go's /debug/pprof profiles are served on; \"0\" (the default) disables them.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "Elect a leader through a Lease, so only one replica assigns addresses.")
	fs.StringVar(&o.LeaderElectNS, "leader-election-namespace", "ironlb-system", "Namespace of the leader-election Lease.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a standby waits after the leader's last renewal before it takes the Lease over: the longest hand-over after a leader dies. Whole seconds.")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew the Lease before it stops leading; shorter than --leader-elect-lease-duration.")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often replicas try to acquire or renew the Lease.")
	fs.StringVar(&o.Class, "load-balancer-class", v1beta1.DefaultLoadBalancerClass, "spec.loadBalancerClass of the Services handled.")
	fs.BoolVar(&o.DefaultClass, "default-class", true, "Also handle LoadBalancer Services without spec.loadBalancerClass.")
	fs.IntVar(&o.Workers, "workers", 16, "Services reconciled concurrently.")
	fs.Float64Var(&o.KubeAPIQPS, "kube-api-qps", 500, "Sustained requests per second to the API server.")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", 1000, "Burst of requests to the API server.")
	o.Zap.BindFlags(fs)
	o.Webhook.BindFlags(fs)
}

// Validate checks the flags before anything starts.
func (o *Options) Validate() error {
	var errs []error
	if o.Class == "" {
		errs = append(errs, errors.New("--load-balancer-class must not be empty"))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1, got %d", o.Workers))
	}
	if o.KubeAPIQPS <= 0 || o.KubeAPIBurst <= 0 {
		errs = append(errs, errors.New("--kube-api-qps and --kube-api-burst must be positive"))
	}
	if o.LeaseDuration <= 0 || o.RenewDeadline <= 0 || o.RetryPeriod <= 0 {
		errs = append(errs, errors.New("--leader-elect-lease-duration, --leader-elect-renew-deadline and --leader-elect-retry-period must be positive"))
	} else {
		// The Lease records its duration in whole seconds, and the other
		// replicas go by that: 2.5s would let them take over after 2s,
		// possibly before this leader's renew deadline stops it.
		if o.LeaseDuration%time.Second != 0 {
			errs = append(errs, fmt.Errorf("--leader-elect-lease-duration must be a whole number of seconds (the Lease records seconds), got %s", o.LeaseDuration))
		}
		// client-go's own rules: a leader must stop before its Lease can
		// expire for the others, and get more than one try at renewing.
		if o.RenewDeadline >= o.LeaseDuration {
			errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline (%s) must be shorter than --leader-elect-lease-duration (%s)", o.RenewDeadline, o.LeaseDuration))
		}
		if float64(o.RenewDeadline) <= 1.2*float64(o.RetryPeriod) {
			errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline (%s) must be longer than 1.2 x --leader-elect-retry-period (%s)", o.RenewDeadline, o.RetryPeriod))
		}
	}
	errs = append(errs, o.Webhook.Validate())
	return errors.Join(errs...)
}

func main() {
	var opts Options
	opts.InitFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(lazyValues(zap.New(zap.UseFlagOptions(&opts.Zap))))
	log := ctrl.Log.WithName("setup")
	if err := opts.Validate(); err != nil {
		log.Error(err, "Invalid flags")
		os.Exit(2)
	}
	if err := run(opts, log); err != nil {
		log.Error(err, "Controller stopped")
		os.Exit(1)
	}
}

func run(opts Options, log logr.Logger) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(opts.KubeAPIQPS), opts.KubeAPIBurst
	// The controller sits next to the API server: gzip on its watch streams
	// and responses cost a tenth of its CPU in a burst and save no time.
	cfg.DisableCompression = true

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:        opts.ProbeAddr,
		PprofBindAddress:              opts.PprofAddr,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              "ironlb-controller",
		LeaderElectionNamespace:       opts.LeaderElectNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.LeaseDuration,
		RenewDeadline:                 &opts.RenewDeadline,
		RetryPeriod:                   &opts.RetryPeriod,
		WebhookServer:                 opts.Webhook.NewServer(),
		Cache: cache.Options{
			// No reconciler reads managedFields, often the largest part of
			// an object's metadata: drop them before the cache stores each
			// object, which keeps it and the garbage collector's work on it
			// smaller.
			DefaultTransform: cache.TransformStripManagedFields(),
			// Only namespace labels are read; keep the cache small.
			ByObject: map[client.Object]cache.ByObject{&corev1.Namespace{}: {}},
		},
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{
		Class:   v1beta1.ClassFilter{Class: opts.Class, Default: opts.DefaultClass},
		Workers: opts.Workers,
		// The registry the manager's metrics endpoint serves.
		Metrics: metrics.Registry,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if opts.Webhook.Enabled() {
		ready, err := webhook.Enable(mgr, opts.Webhook)
		if err != nil {
			return err
		}
		if err := mgr.AddReadyzCheck("webhook", ready); err != nil {
			return err
		}
	}
	log.Info("Starting", "class", opts.Class, "defaultClass", opts.DefaultClass, "leaderElect", opts.LeaderElect)
	return mgr.Start(ctrl.SetupSignalHandler())
}

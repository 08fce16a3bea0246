package webhook

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Webhook modes of --webhook-mode.
const (
	ModeEnabled  = "enabled"
	ModeDisabled = "disabled"
)

// Options are ironlb-controller's webhook flags. The chart sets every one;
// the defaults suit a controller started by hand, which serves no webhooks.
type Options struct {
	// Mode is ModeEnabled or ModeDisabled.
	Mode string
	// Port the webhook server listens on (all addresses).
	Port int
	CertOptions
}

// BindFlags registers the --webhook-* flags on fs, the way zap.Options does
// for the log flags.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "ironlb-system"
	}
	fs.StringVar(&o.Mode, "webhook-mode", ModeDisabled, `"enabled" serves the validating webhooks and manages their certificate; "disabled" serves none.`)
	fs.IntVar(&o.Port, "webhook-port", 9443, "Port the webhook server listens on.")
	fs.StringVar(&o.CertDir, "webhook-cert-dir", DefaultCertDir, "Writable directory the webhook serving certificate is written to.")
	fs.StringVar(&o.Namespace, "webhook-namespace", ns, "Namespace of the webhook Secret and Service ($POD_NAMESPACE when set).")
	fs.StringVar(&o.SecretName, "webhook-secret-name", DefaultSecretName, "Secret holding the webhook certificate and its CA; it must exist.")
	fs.StringVar(&o.ServiceName, "webhook-service-name", DefaultServiceName, "Service the API server calls the webhooks through.")
	fs.StringVar(&o.ConfigurationName, "webhook-configuration-name", DefaultConfigurationName, "ValidatingWebhookConfiguration whose caBundle is kept up to date.")
}

// Validate checks the flags.
func (o *Options) Validate() error {
	switch o.Mode {
	case ModeEnabled, ModeDisabled:
	default:
		return fmt.Errorf("--webhook-mode must be %q or %q, got %q", ModeEnabled, ModeDisabled, o.Mode)
	}
	if o.Port < 1 || o.Port > 65535 {
		return fmt.Errorf("--webhook-port must be a port number, got %d", o.Port)
	}
	if o.Mode == ModeEnabled && o.Namespace == "" {
		return fmt.Errorf("--webhook-namespace must not be empty")
	}
	return nil
}

// Enabled reports whether webhooks are served.
func (o *Options) Enabled() bool { return o.Mode == ModeEnabled }

// NewServer returns the webhook server for ctrl.Options.WebhookServer. It is
// only started when the webhooks are set up.
func (o *Options) NewServer() ctrlwebhook.Server {
	return ctrlwebhook.NewServer(ctrlwebhook.Options{Port: o.Port, CertDir: o.CertDir})
}

// Enable sets up certificate rotation and, once a certificate is ready, the
// webhooks: [SetupCertRotation] then [SetupWhenReady]. The returned check
// belongs in the manager's readyz checks, so that a replica only receives
// admission requests once it can answer them.
func Enable(mgr ctrl.Manager, o Options) (healthz.Checker, error) {
	ready, err := SetupCertRotation(mgr, o.CertOptions)
	if err != nil {
		return nil, err
	}
	if err := SetupWhenReady(mgr, ready); err != nil {
		return nil, err
	}
	return ReadyCheck(ready), nil
}

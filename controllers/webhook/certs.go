package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Names the chart gives the webhook's objects; they are CertOptions' defaults.
const (
	DefaultSecretName        = "ironlb-webhook-cert"
	DefaultServiceName       = "ironlb-webhook"
	DefaultConfigurationName = "ironlb-validating-webhook-configuration"
	// DefaultCertDir is controller-runtime's default webhook CertDir.
	DefaultCertDir = "/tmp/k8s-webhook-server/serving-certs"
)

// Files of the serving certificate in CertDir, as controller-runtime's
// webhook server reads them by default.
const (
	certFile = "tls.crt"
	keyFile  = "tls.key"
)

// CertOptions say where the webhook's serving certificate lives. Only
// Namespace is required.
type CertOptions struct {
	// Namespace of the controller: it holds the Secret and the Service.
	Namespace string
	// SecretName is the Secret the certificate and its CA are stored in. It
	// must exist (the chart creates it empty); it is filled and renewed here.
	// Default DefaultSecretName.
	SecretName string
	// ServiceName is the Service the API server calls the webhook through;
	// the certificate is issued for <ServiceName>.<Namespace>.svc.
	// Default DefaultServiceName.
	ServiceName string
	// ConfigurationName is the ValidatingWebhookConfiguration whose caBundle
	// is kept in step with the CA. Default DefaultConfigurationName.
	ConfigurationName string
	// CertDir is where the certificate is written for the webhook server
	// (its Options.CertDir). It must be writable: an emptyDir in the pod.
	// Default DefaultCertDir.
	CertDir string
}

func (o *CertOptions) defaults() error {
	if o.Namespace == "" {
		return errors.New("webhook certificates: the namespace is required")
	}
	if o.SecretName == "" {
		o.SecretName = DefaultSecretName
	}
	if o.ServiceName == "" {
		o.ServiceName = DefaultServiceName
	}
	if o.ConfigurationName == "" {
		o.ConfigurationName = DefaultConfigurationName
	}
	if o.CertDir == "" {
		o.CertDir = DefaultCertDir
	}
	return nil
}

// SetupCertRotation adds to mgr a certificate rotator (cert-controller's) that
// keeps a self-signed CA and a serving certificate in the Secret, renews them
// before they expire, and patches the CA into the caBundle of every webhook of
// the ValidatingWebhookConfiguration. Next to it, a small watcher copies the
// Secret's certificate into CertDir on every change: the controller writes
// its own files instead of waiting for the kubelet to sync a Secret volume,
// which takes up to a minute after install and does not exist at all when the
// controller runs outside a pod.
//
// Both run on every replica, leader or not, since every replica serves
// webhooks. The returned channel is closed once the certificate is in CertDir
// and the CA is in the configuration: pass it to [SetupWhenReady] and
// [ReadyCheck].
//
// RBAC: list, watch and update of the Secret and of the
// ValidatingWebhookConfiguration, both by name (see scopeToNames).
func SetupCertRotation(mgr ctrl.Manager, opts CertOptions) (<-chan struct{}, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	dns := fmt.Sprintf("%s.%s.svc", opts.ServiceName, opts.Namespace)
	r := &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: opts.Namespace, Name: opts.SecretName},
		CertDir:        opts.CertDir,
		CAName:         "ironlb-webhook-ca",
		CAOrganization: "ironlb",
		DNSName:        dns,
		ExtraDNSNames:  []string{dns + ".cluster.local"},
		IsReady:        ready,
		Webhooks:       []rotator.WebhookInfo{{Name: opts.ConfigurationName, Type: rotator.Validating}},
		FieldOwner:     "ironlb-controller",
		// The certificate files are rewritten in place and the webhook
		// server's certwatcher reloads them: no restart needed.
		RestartOnSecretRefresh: false,
		RequireLeaderElection:  false,
		EnableReadinessCheck:   true,
	}
	if err := rotator.AddRotator(scopeToNames(mgr, opts), r); err != nil {
		return nil, fmt.Errorf("adding the webhook certificate rotator: %w", err)
	}
	if err := addCertWriter(mgr, opts); err != nil {
		return nil, err
	}
	return ready, nil
}

// scopeToNames returns mgr with a client configuration whose list and watch
// requests of Secrets in opts.Namespace and of ValidatingWebhookConfigurations
// select opts.SecretName and opts.ConfigurationName by name.
//
// cert-controller builds its informer cache from mgr.GetConfig() with no
// selector and no way to pass one, so it would list every Secret of the
// namespace, and RBAC would have to allow that: resourceNames do not limit a
// plain list. With a metadata.name field selector the API server authorizes
// the request against resourceNames, so the controller's Role names the one
// Secret it reads. The rotator only ever reads those two objects; its
// manager's own client (writes) is untouched.
func scopeToNames(mgr ctrl.Manager, opts CertOptions) ctrl.Manager {
	cfg := rest.CopyConfig(mgr.GetConfig())
	names := nameSelector{byPath: map[string]string{
		"/api/v1/namespaces/" + opts.Namespace + "/secrets":                     opts.SecretName,
		"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations": opts.ConfigurationName,
	}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { names.next = rt; return names })
	return namesOnly{Manager: mgr, cfg: cfg}
}

// namesOnly is a manager whose GetConfig is the name-scoped configuration.
type namesOnly struct {
	ctrl.Manager
	cfg *rest.Config
}

func (m namesOnly) GetConfig() *rest.Config { return m.cfg }

// nameSelector adds fieldSelector=metadata.name=<name> to GETs of the
// collections in byPath (lists and watches; a GET of one object has a longer
// path) that carry no field selector of their own.
type nameSelector struct {
	next   http.RoundTripper
	byPath map[string]string // collection path -> the one name to select
}

func (s nameSelector) RoundTrip(req *http.Request) (*http.Response, error) {
	name, ok := s.nameFor(req.URL.Path)
	if !ok || req.Method != http.MethodGet || req.URL.Query().Has("fieldSelector") {
		return s.next.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not modify its request
	q := req.URL.Query()
	q.Set("fieldSelector", fields.OneTermEqualSelector("metadata.name", name).String())
	req.URL.RawQuery = q.Encode()
	return s.next.RoundTrip(req)
}

// nameFor matches the end of the path: the API server may sit under a path
// prefix (a proxy, Rancher's /k8s/clusters/<id>).
func (s nameSelector) nameFor(path string) (string, bool) {
	for suffix, name := range s.byPath {
		if strings.HasSuffix(path, suffix) {
			return name, true
		}
	}
	return "", false
}

// addCertWriter watches the one Secret and writes its certificate to CertDir.
func addCertWriter(mgr ctrl.Manager, opts CertOptions) error {
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(),
		Mapper: mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{opts.Namespace: {
			FieldSelector: fields.OneTermEqualSelector("metadata.name", opts.SecretName),
		}},
	})
	if err != nil {
		return fmt.Errorf("creating the webhook Secret cache: %w", err)
	}
	informer, err := c.GetInformer(context.Background(), &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watching the webhook Secret: %w", err)
	}
	w := &certWriter{dir: opts.CertDir, log: mgr.GetLogger().WithName("webhook-cert-writer")}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    w.write,
		UpdateFunc: func(_, obj any) { w.write(obj) },
	}); err != nil {
		return fmt.Errorf("watching the webhook Secret: %w", err)
	}
	return mgr.Add(everyReplica{c})
}

// everyReplica runs a cache whether or not this replica leads.
type everyReplica struct{ cache.Cache }

func (everyReplica) NeedLeaderElection() bool { return false }

type certWriter struct {
	dir string
	log logr.Logger
}

func (w *certWriter) write(obj any) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	cert, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(cert) == 0 || len(key) == 0 {
		return // not issued yet: the rotator fills it in a moment
	}
	// Key first: a reader that sees the new certificate then finds its key.
	for _, f := range []struct {
		name string
		data []byte
	}{{keyFile, key}, {certFile, cert}} {
		changed, err := writeIfChanged(filepath.Join(w.dir, f.name), f.data)
		if err != nil {
			// The rotator retries on its own, and its readiness waits for
			// these files, so a failure here shows as "not ready".
			w.log.Error(err, "Cannot write the webhook serving certificate", "dir", w.dir)
			return
		}
		if changed {
			w.log.Info("Wrote the webhook serving certificate", "file", f.name, "dir", w.dir)
		}
	}
}

// writeIfChanged replaces path with data atomically (a rename), unless it
// already holds exactly data.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), path)
}

package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Paths the webhook server serves, as controller-runtime derives them from
// the group, version and kind. The chart's ValidatingWebhookConfiguration
// points at these.
const (
	PoolPath             = "/validate-ironlb-io-v1beta1-ipaddresspool"
	L2AdvertisementPath  = "/validate-ironlb-io-v1beta1-l2advertisement"
	BGPAdvertisementPath = "/validate-ironlb-io-v1beta1-bgpadvertisement"
	BGPPeerPath          = "/validate-ironlb-io-v1beta1-bgppeer"
	BFDProfilePath       = "/validate-ironlb-io-v1beta1-bfdprofile"
	CommunityPath        = "/validate-ironlb-io-v1beta1-community"
)

// Setup registers the validating webhooks of every IronLB kind on mgr's
// webhook server. The scheme of mgr must hold the v1beta1 kinds.
//
// The server starts serving as soon as this is called on a running manager,
// or with the manager otherwise, and it needs its certificate in its CertDir
// by then: with certificates from [SetupCertRotation], call [SetupWhenReady]
// instead.
//
// Reads go to the API server directly (mgr.GetAPIReader), not to the cache:
// a pool created a moment ago must already count when the next one is
// checked for overlaps.
func Setup(mgr ctrl.Manager) error {
	r := mgr.GetAPIReader()
	if err := ctrl.NewWebhookManagedBy(mgr, &v1beta1.IPAddressPool{}).
		WithValidator(poolValidator{reader: r}).Complete(); err != nil {
		return fmt.Errorf("registering the IPAddressPool webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1beta1.L2Advertisement{}).
		WithValidator(l2AdvertisementValidator{reader: r}).Complete(); err != nil {
		return fmt.Errorf("registering the L2Advertisement webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1beta1.BGPAdvertisement{}).
		WithValidator(bgpAdvertisementValidator{reader: r}).Complete(); err != nil {
		return fmt.Errorf("registering the BGPAdvertisement webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1beta1.BGPPeer{}).
		WithValidator(bgpPeerValidator{reader: r}).Complete(); err != nil {
		return fmt.Errorf("registering the BGPPeer webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1beta1.BFDProfile{}).
		WithValidator(bfdProfileValidator{reader: r}).Complete(); err != nil {
		return fmt.Errorf("registering the BFDProfile webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1beta1.Community{}).
		WithValidator(communityValidator{reader: r}).Complete(); err != nil {
		return fmt.Errorf("registering the Community webhook: %w", err)
	}
	return nil
}

// SetupWhenReady calls [Setup] once ready is closed, from a runnable of mgr
// that runs on every replica (webhooks need no leadership). The webhook server
// reads its certificate when it starts, so it must not start before
// [SetupCertRotation] has written one; do not call mgr.GetWebhookServer()
// before then either, since that alone adds the server to the manager.
func SetupWhenReady(mgr ctrl.Manager, ready <-chan struct{}) error {
	return mgr.Add(whenReady{ready: ready, setup: func() error { return Setup(mgr) }})
}

type whenReady struct {
	ready <-chan struct{}
	setup func() error
}

func (w whenReady) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-w.ready:
	}
	if err := w.setup(); err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).WithName("webhook").Info("Serving validating webhooks")
	return nil
}

func (whenReady) NeedLeaderElection() bool { return false }

// ReadyCheck is a readiness check that fails until ready is closed: a
// replica whose webhook cannot serve yet gets no traffic from the webhook
// Service, so the API server never calls it.
func ReadyCheck(ready <-chan struct{}) healthz.Checker {
	return func(*http.Request) error {
		select {
		case <-ready:
			return nil
		default:
			return errors.New("webhook serving certificate not ready yet")
		}
	}
}

// invalid turns field errors into the API's 422 Invalid status, which the API
// server passes on to the client as the webhook's reason.
func invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(v1beta1.GroupVersion.WithKind(kind).GroupKind(), name, errs)
}

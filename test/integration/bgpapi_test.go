//go:build envtest

package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/controllers/webhook"
)

// The CRD schema's own rules on the BGP kinds MetalLB users bring along
// (BGPPeer's new fields, BFDProfile, Community), through the API server
// with no webhook: what the markers in api/v1beta1 promise. Every request
// is a server-side dry run, so nothing is stored.

// schemaVerdict creates obj as a dry run and returns "" when the API server
// accepts it, else its message.
func schemaVerdict(t *testing.T, obj client.Object) string {
	t.Helper()
	err := k8s.Create(context.Background(), obj, client.DryRunAll)
	if err == nil {
		return ""
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("creating %s: %v (want accepted or Invalid)", obj.GetName(), err)
	}
	return err.Error()
}

// checkSchema runs rows of objects against the schema: want "" means
// accepted, else every part of want must be in the API server's message.
func checkSchema(t *testing.T, rows []schemaRow) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			got := schemaVerdict(t, r.obj)
			switch {
			case len(r.want) == 0 && got != "":
				t.Errorf("refused: %s", got)
			case len(r.want) > 0 && got == "":
				t.Errorf("accepted, want refused saying %q", r.want)
			}
			for _, w := range r.want {
				if !strings.Contains(got, w) {
					t.Errorf("message %q lacks %q", got, w)
				}
			}
		})
	}
}

type schemaRow struct {
	name string
	obj  client.Object
	want []string
}

func bgpapiPeer(edit func(*v1beta1.BGPPeerSpec)) *v1beta1.BGPPeer {
	p := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "bgpapi-peer"}, Spec: v1beta1.BGPPeerSpec{
		MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1",
	}}
	edit(&p.Spec)
	return p
}

func bgpapiDuration(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func TestBGPPeerSchema(t *testing.T) {
	checkSchema(t, []schemaRow{
		{name: "peerASN", obj: bgpapiPeer(func(*v1beta1.BGPPeerSpec) {})},
		{name: "dynamicASN instead", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.DynamicASN = 0, v1beta1.DynamicASNExternal })},
		{
			name: "both", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.DynamicASN = v1beta1.DynamicASNInternal }),
			want: []string{"spec: Invalid value", "exactly one of peerASN and dynamicASN must be set"},
		},
		{
			name: "neither", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.PeerASN = 0 }),
			want: []string{"spec: Invalid value", "exactly one of peerASN and dynamicASN must be set"},
		},
		{
			name: "unknown dynamicASN", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.DynamicASN = 0, "any" }),
			want: []string{`spec.dynamicASN: Unsupported value: "any"`, `"internal", "external"`},
		},
		{
			name: "MetalLB's session fields",
			obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) {
				s.ConnectTime, s.DisableMP, s.VRF, s.BFDProfile = bgpapiDuration("10s"), true, "red", "fast"
			}),
		},
		{
			name: "connectTime 0", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = bgpapiDuration("0s") }),
			want: []string{"spec.connectTime: Invalid value", "connectTime must be between 1s and 65535s"},
		},
		{
			name: "connectTime above 65535s", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = bgpapiDuration("65536s") }),
			want: []string{"spec.connectTime: Invalid value", "connectTime must be between 1s and 65535s"},
		},
		{
			name: "fractional connectTime", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.ConnectTime = bgpapiDuration("1500ms") }),
			want: []string{"spec.connectTime: Invalid value", "connectTime must be a whole number of seconds"},
		},
		{
			name: "vrf too long", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.VRF = "vrf-of-the-tenant" }),
			want: []string{"spec.vrf: Too long", "15"},
		},
		{
			name: "vrf with a slash", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.VRF = "red/blue" }),
			want: []string{`spec.vrf: Invalid value: "red/blue"`, `should match '^[^/:\s]*$'`},
		},
		{
			name: "vrf ..", obj: bgpapiPeer(func(s *v1beta1.BGPPeerSpec) { s.VRF = ".." }),
			want: []string{"spec.vrf: Invalid value", "vrf must be a Linux interface name, not . or .."},
		},
	})
}

func TestBFDProfileSchema(t *testing.T) {
	profile := func(edit func(*v1beta1.BFDProfileSpec)) *v1beta1.BFDProfile {
		p := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: "bgpapi-bfd"}}
		edit(&p.Spec)
		return p
	}
	checkSchema(t, []schemaRow{
		{name: "empty", obj: profile(func(*v1beta1.BFDProfileSpec) {})},
		{
			name: "bounds",
			obj: profile(func(s *v1beta1.BFDProfileSpec) {
				s.ReceiveInterval, s.TransmitInterval, s.DetectMultiplier = ptr.To[uint32](10), ptr.To[uint32](60000), ptr.To[uint32](255)
				s.PassiveMode, s.MinimumTTL = true, ptr.To[uint32](255)
			}),
		},
		{
			name: "receiveInterval below 10", obj: profile(func(s *v1beta1.BFDProfileSpec) { s.ReceiveInterval = ptr.To[uint32](9) }),
			want: []string{"spec.receiveInterval: Invalid value: 9", "greater than or equal to 10"},
		},
		{
			name: "transmitInterval above 60000", obj: profile(func(s *v1beta1.BFDProfileSpec) { s.TransmitInterval = ptr.To[uint32](60001) }),
			want: []string{"spec.transmitInterval: Invalid value: 60001", "less than or equal to 60000"},
		},
		{
			name: "detectMultiplier 1", obj: profile(func(s *v1beta1.BFDProfileSpec) { s.DetectMultiplier = ptr.To[uint32](1) }),
			want: []string{"spec.detectMultiplier: Invalid value: 1", "greater than or equal to 2"},
		},
		{
			name: "echoMode", obj: profile(func(s *v1beta1.BFDProfileSpec) { s.EchoMode = true }),
			want: []string{"spec.echoMode: Invalid value", "echoMode is not supported: IronLB's BFD has no echo function"},
		},
		{
			name: "minimumTtl 254", obj: profile(func(s *v1beta1.BFDProfileSpec) { s.MinimumTTL = ptr.To[uint32](254) }),
			want: []string{"spec.minimumTtl: Invalid value", "minimumTtl must be 255: IronLB runs single-hop BFD only (RFC 5881)"},
		},
	})

	// The API server fills in the defaults, spec or no spec.
	p := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: "bgpapi-defaults"}}
	if err := k8s.Create(context.Background(), p, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	val := func(v *uint32) any {
		if v == nil {
			return nil
		}
		return *v
	}
	got := []any{val(p.Spec.ReceiveInterval), val(p.Spec.TransmitInterval), val(p.Spec.DetectMultiplier)}
	if want := []any{uint32(300), uint32(300), uint32(3)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("defaults: receive, transmit, multiplier = %v, want %v", got, want)
	}
}

func TestCommunitySchema(t *testing.T) {
	community := func(aliases ...string) *v1beta1.Community {
		c := &v1beta1.Community{ObjectMeta: metav1.ObjectMeta{Name: "bgpapi-community"}}
		for i := 0; i+1 < len(aliases); i += 2 {
			c.Spec.Communities = append(c.Spec.Communities, v1beta1.CommunityAlias{Name: aliases[i], Value: aliases[i+1]})
		}
		return c
	}
	adv := func(communities ...string) *v1beta1.BGPAdvertisement {
		return &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgpapi-adv"}, Spec: v1beta1.BGPAdvertisementSpec{Communities: communities}}
	}
	checkSchema(t, []schemaRow{
		{name: "aliases", obj: community("NO_ADVERTISE", "65535:65282", "tagged.1", "large:64512:1:2")},
		{
			name: "a well-known name", obj: community("No-Export", "65535:65281"),
			want: []string{"spec.communities[0].name: Invalid value", "name must not be a well-known community name"},
		},
		{
			name: "a name that could be a value", obj: community("64512:1", "64512:1"),
			want: []string{`spec.communities[0].name: Invalid value: "64512:1"`, "should match"},
		},
		{
			name: "a value that is a name", obj: community("A", "no-export"),
			want: []string{`spec.communities[0].value: Invalid value: "no-export"`, "should match"},
		},
		{
			name: "one name twice", obj: community("A", "64512:1", "A", "64512:2"),
			want: []string{`spec.communities[1]: Duplicate value: {"name":"A"}`},
		},
		{name: "advertisement with names and aliases", obj: adv("64512:1", "large:64512:1:2", "no-export", "NO_ADVERTISE")},
		{
			name: "advertisement with a space", obj: adv("no export"),
			want: []string{`spec.communities[0]: Invalid value: "no export"`, "should match"},
		},
	})
}

// TestWebhookBFDAndCommunity runs the BGPPeer, BGPAdvertisement, BFDProfile
// and Community webhooks (controllers/webhook.Setup) behind the API server:
// references between the kinds are checked on create, and a BFDProfile or
// Community alias in use cannot be deleted. The webhook configuration
// selects only objects labelled for this test, so no other test meets it.
func TestWebhookBFDAndCommunity(t *testing.T) {
	startBGPAPIWebhooks(t)
	ctx := context.Background()
	label := map[string]string{bgpapiLabel: "true"}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Labels: label} }
	create := func(t *testing.T, obj client.Object) error {
		t.Helper()
		err := k8s.Create(ctx, obj)
		if err == nil {
			t.Cleanup(func() { deleteForce(t, obj) })
		}
		return err
	}
	mustCreate := func(t *testing.T, obj client.Object) {
		t.Helper()
		if err := create(t, obj); err != nil {
			t.Fatalf("creating %s: %v", obj.GetName(), err)
		}
	}
	wantDenied := func(t *testing.T, err error, parts ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("admitted, want denied saying %q", parts)
		}
		for _, p := range append([]string{"denied the request"}, parts...) {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%v: lacks %q", err, p)
			}
		}
	}

	// A BGPPeer names a BFDProfile that must exist.
	peer := &v1beta1.BGPPeer{ObjectMeta: meta("bgpapi-tor"), Spec: v1beta1.BGPPeerSpec{
		MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1", BFDProfile: "bgpapi-fast",
	}}
	wantDenied(t, create(t, peer.DeepCopy()), `spec.bfdProfile: Not found: "bgpapi-fast": no BFDProfile of this name exists; create it first`)
	mustCreate(t, &v1beta1.BFDProfile{ObjectMeta: meta("bgpapi-fast"), Spec: v1beta1.BFDProfileSpec{ReceiveInterval: ptr.To[uint32](100)}})
	mustCreate(t, peer)

	// A profile in use cannot be deleted; once unused, it can.
	profile := &v1beta1.BFDProfile{ObjectMeta: meta("bgpapi-fast")}
	err := k8s.Delete(ctx, profile)
	wantDenied(t, err, `bfdprofiles.ironlb.io "bgpapi-fast" is forbidden: in use by BGPPeer bgpapi-tor (spec.bfdProfile)`)
	if !apierrors.IsForbidden(err) {
		t.Errorf("deleting a profile in use: %v is not Forbidden", err)
	}

	// A BGPAdvertisement names an alias that must exist; aliases are unique.
	adv := &v1beta1.BGPAdvertisement{ObjectMeta: meta("bgpapi-edge"), Spec: v1beta1.BGPAdvertisementSpec{
		Communities: []string{"BGPAPI_TRANSIT", "no-export"},
	}}
	wantDenied(t, create(t, adv.DeepCopy()), `spec.communities[0]: Not found: "BGPAPI_TRANSIT": no Community object defines this alias`)
	mustCreate(t, &v1beta1.Community{ObjectMeta: meta("bgpapi-aliases"), Spec: v1beta1.CommunitySpec{
		Communities: []v1beta1.CommunityAlias{{Name: "BGPAPI_TRANSIT", Value: "64512:300"}},
	}})
	wantDenied(t, create(t, &v1beta1.Community{ObjectMeta: meta("bgpapi-again"), Spec: v1beta1.CommunitySpec{
		Communities: []v1beta1.CommunityAlias{{Name: "BGPAPI_TRANSIT", Value: "64512:300"}},
	}}), `spec.communities[0].name: Duplicate value: "BGPAPI_TRANSIT": Community "bgpapi-aliases" already defines this alias`)
	mustCreate(t, adv)

	// The alias in use can change value, not go away.
	var aliases v1beta1.Community
	if err := k8s.Get(ctx, client.ObjectKey{Name: "bgpapi-aliases"}, &aliases); err != nil {
		t.Fatal(err)
	}
	aliases.Spec.Communities[0].Value = "64512:301"
	if err := k8s.Update(ctx, &aliases); err != nil {
		t.Errorf("changing an alias's value: %v", err)
	}
	aliases.Spec.Communities[0].Name = "BGPAPI_TRANSIT_V2"
	wantDenied(t, k8s.Update(ctx, &aliases), `spec.communities: Forbidden: removes alias "BGPAPI_TRANSIT" (BGPAdvertisement bgpapi-edge)`)
	err = k8s.Delete(ctx, &v1beta1.Community{ObjectMeta: meta("bgpapi-aliases")})
	wantDenied(t, err, `communities.ironlb.io "bgpapi-aliases" is forbidden: in use: alias "BGPAPI_TRANSIT" (BGPAdvertisement bgpapi-edge)`)

	// Once nothing uses them, both go.
	if err := k8s.Delete(ctx, adv); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &v1beta1.Community{ObjectMeta: meta("bgpapi-aliases")}); err != nil {
		t.Errorf("deleting an unused Community: %v", err)
	}
	if err := k8s.Delete(ctx, peer); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, profile); err != nil {
		t.Errorf("deleting an unused BFDProfile: %v", err)
	}
}

// bgpapiLabel marks the objects TestWebhookBFDAndCommunity's webhook
// configuration selects.
const bgpapiLabel = "test.ironlb.io/bgpapi"

// deleteForce deletes obj, if still there, without its webhook's consent:
// the label the webhook selects on is removed first.
func deleteForce(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	fresh := obj.DeepCopyObject().(client.Object)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
		return
	}
	fresh.SetLabels(nil)
	if err := k8s.Update(ctx, fresh); err != nil && !apierrors.IsNotFound(err) {
		t.Logf("unlabelling %s: %v", obj.GetName(), err)
	}
	if err := k8s.Delete(ctx, fresh); err != nil && !apierrors.IsNotFound(err) {
		t.Logf("deleting %s: %v", obj.GetName(), err)
	}
}

// startBGPAPIWebhooks serves IronLB's webhooks from a manager of this test,
// with a serving certificate envtest makes, and registers the BGPPeer,
// BGPAdvertisement, BFDProfile and Community ones with the API server for
// objects labelled bgpapiLabel, as the chart's configuration does for every
// object. It returns once the API server reaches them.
func startBGPAPIWebhooks(t *testing.T) {
	t.Helper()
	opts := envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"}
	if err := opts.PrepWithoutInstalling(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = opts.Cleanup() })
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{
			Host: opts.LocalServingHost, Port: opts.LocalServingPort, CertDir: opts.LocalServingCertDir,
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.Setup(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("webhook manager: %v", err)
		}
	})

	cfg := bgpapiWebhookConfiguration(fmt.Sprintf("https://%s:%d", opts.LocalServingHost, opts.LocalServingPort), opts.LocalServingCAData)
	if err := k8s.Create(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), cfg); err != nil {
			t.Errorf("deleting the webhook configuration: %v", err)
		}
	})

	// The API server calls the webhooks once it has seen the
	// configuration and the server answers: a BGPPeer naming no profile
	// that exists is refused from then on.
	probe := &v1beta1.BGPPeer{
		ObjectMeta: metav1.ObjectMeta{Name: "bgpapi-probe", Labels: map[string]string{bgpapiLabel: "true"}},
		Spec:       v1beta1.BGPPeerSpec{MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1", BFDProfile: "bgpapi-none"},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := k8s.Create(context.Background(), probe.DeepCopy(), client.DryRunAll)
		var status apierrors.APIStatus
		if err != nil && errors.As(err, &status) && strings.Contains(err.Error(), "bgpapi-none") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhooks never answered: last %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func bgpapiWebhookConfiguration(base string, ca []byte) *admissionv1.ValidatingWebhookConfiguration {
	hook := func(resource, path string, ops ...admissionv1.OperationType) admissionv1.ValidatingWebhook {
		return admissionv1.ValidatingWebhook{
			Name:                    resource + ".bgpapi.test.ironlb.io",
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             ptr.To(admissionv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionv1.Fail),
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{bgpapiLabel: "true"}},
			ClientConfig:            admissionv1.WebhookClientConfig{URL: ptr.To(base + path), CABundle: ca},
			Rules: []admissionv1.RuleWithOperations{{
				Operations: ops,
				Rule: admissionv1.Rule{
					APIGroups: []string{v1beta1.GroupVersion.Group}, APIVersions: []string{v1beta1.GroupVersion.Version},
					Resources: []string{resource}, Scope: ptr.To(admissionv1.ClusterScope),
				},
			}},
		}
	}
	createUpdate := []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}
	all := append(createUpdate, admissionv1.Delete)
	return &admissionv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bgpapi-test"},
		Webhooks: []admissionv1.ValidatingWebhook{
			hook("bgppeers", webhook.BGPPeerPath, createUpdate...),
			hook("bgpadvertisements", webhook.BGPAdvertisementPath, createUpdate...),
			hook("bfdprofiles", webhook.BFDProfilePath, all...),
			hook("communities", webhook.CommunityPath, all...),
		},
	}
}

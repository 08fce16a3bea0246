package webhook

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// fakeReader serves objs as the API server would list them.
func fakeReader(t *testing.T, objs ...client.Object) client.Reader {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// verdict renders an admission answer: "" when admitted, the causes of an
// Invalid answer as "field: message", else the error's message.
func verdict(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		t.Fatalf("unexpected error: %v", err)
	}
	if d := status.Status().Details; d != nil && len(d.Causes) > 0 {
		var out []string
		for _, c := range d.Causes {
			out = append(out, c.Field+": "+c.Message)
		}
		return out
	}
	return []string{err.Error()}
}

func bgpPeer(name string, edit func(*v1beta1.BGPPeerSpec)) *v1beta1.BGPPeer {
	p := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPPeerSpec{
		MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1",
	}}
	edit(&p.Spec)
	return p
}

func bfd(name string) *v1beta1.BFDProfile {
	return &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func communityOf(name string, aliases ...string) *v1beta1.Community {
	c := &v1beta1.Community{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for i := 0; i+1 < len(aliases); i += 2 {
		c.Spec.Communities = append(c.Spec.Communities, v1beta1.CommunityAlias{Name: aliases[i], Value: aliases[i+1]})
	}
	return c
}

func TestBGPPeerAdmission(t *testing.T) {
	v := bgpPeerValidator{reader: fakeReader(t, bfd("fast"))}
	tests := []struct {
		name string
		peer *v1beta1.BGPPeer
		want []string
	}{
		{name: "no BFD", peer: bgpPeer("tor", func(*v1beta1.BGPPeerSpec) {})},
		{name: "a BFDProfile that exists", peer: bgpPeer("tor", func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = "fast" })},
		{
			name: "a BFDProfile that does not exist",
			peer: bgpPeer("tor", func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = "slow" }),
			want: []string{`spec.bfdProfile: Not found: "slow": no BFDProfile of this name exists; create it first`},
		},
		{
			name: "the peer's own rules come first",
			peer: bgpPeer("tor", func(s *v1beta1.BGPPeerSpec) { s.VRF, s.BFDProfile = "a/b", "slow" }),
			want: []string{
				`spec.vrf: Invalid value: "a/b": must not contain '/', ':' or white space`,
				`spec.bfdProfile: Not found: "slow": no BFDProfile of this name exists; create it first`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.ValidateCreate(t.Context(), tt.peer)
			if diff := cmp.Diff(tt.want, verdict(t, err)); diff != "" {
				t.Errorf("admission (-want +got):\n%s", diff)
			}
		})
	}
}

// A hold time of 0 is valid in the API, so it is admitted, but the
// speakers refuse it (speaker/protocol/bgp ErrHoldTimeZero): the answer
// warns, with the words the session's message will use.
func TestBGPPeerHoldTimeZeroWarns(t *testing.T) {
	v := bgpPeerValidator{}
	zero := bgpPeer("tor", func(s *v1beta1.BGPPeerSpec) { s.HoldTime = &metav1.Duration{} })
	warnings, err := v.ValidateCreate(t.Context(), zero)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	want := admission.Warnings{"spec.holdTime: " + validation.HoldTimeZeroUnsupported}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	warnings, err = v.ValidateUpdate(t.Context(), bgpPeer("tor", func(*v1beta1.BGPPeerSpec) {}), zero)
	if err != nil || !cmp.Equal(want, warnings) {
		t.Errorf("update: warnings %q, error %v; want %q", warnings, err, want)
	}
	nine := bgpPeer("tor", func(s *v1beta1.BGPPeerSpec) { s.HoldTime = &metav1.Duration{Duration: 9 * time.Second} })
	if warnings, err := v.ValidateCreate(t.Context(), nine); err != nil || len(warnings) > 0 {
		t.Errorf("hold time 9s: warnings %q, error %v; want neither", warnings, err)
	}
}

func TestBFDProfileAdmission(t *testing.T) {
	users := []client.Object{
		bgpPeer("tor-b", func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = "fast" }),
		bgpPeer("tor-a", func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = "fast" }),
		bgpPeer("plain", func(*v1beta1.BGPPeerSpec) {}),
	}
	v := bfdProfileValidator{reader: fakeReader(t, users...)}
	ctx := t.Context()

	echo := bfd("echo")
	echo.Spec.EchoMode = true
	_, err := v.ValidateCreate(ctx, echo)
	want := []string{`spec.echoMode: Invalid value: true: not supported: IronLB's BFD has no echo function; failures are detected from control packets alone`}
	if diff := cmp.Diff(want, verdict(t, err)); diff != "" {
		t.Errorf("create with echo mode (-want +got):\n%s", diff)
	}
	fast := bfd("fast")
	fast.Spec.ReceiveInterval = ptr.To[uint32](5)
	_, err = v.ValidateUpdate(ctx, bfd("fast"), fast)
	want = []string{`spec.receiveInterval: Invalid value: 5: must be between 10 and 60000 (milliseconds)`}
	if diff := cmp.Diff(want, verdict(t, err)); diff != "" {
		t.Errorf("update to a short interval (-want +got):\n%s", diff)
	}

	_, err = v.ValidateDelete(ctx, bfd("fast"))
	want = []string{`bfdprofiles.ironlb.io "fast" is forbidden: in use by BGPPeer tor-a, tor-b (spec.bfdProfile); change or remove their spec.bfdProfile first`}
	if diff := cmp.Diff(want, verdict(t, err)); diff != "" {
		t.Errorf("deleting a profile in use (-want +got):\n%s", diff)
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("deleting a profile in use: %v is not Forbidden", err)
	}
	if _, err := v.ValidateDelete(ctx, bfd("unused")); err != nil {
		t.Errorf("deleting a profile no peer names: %v", err)
	}
}

func TestCommunityAdmission(t *testing.T) {
	edge := communityOf("edge", "TRANSIT", "64512:300", "LOCAL", "64512:100")
	other := communityOf("other", "BLACKHOLE_LOCAL", "64512:666")
	adv := func(name string, communities ...string) *v1beta1.BGPAdvertisement {
		return &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPAdvertisementSpec{Communities: communities}}
	}
	v := communityValidator{reader: fakeReader(t, edge, other,
		adv("uplink-b", "TRANSIT", "no-export"), adv("uplink-a", "TRANSIT"), adv("plain", "64512:1"), adv("broken", "GONE"))}
	ctx := t.Context()

	tests := []struct {
		name string
		call func() error
		want []string
	}{
		{
			name: "create with new names",
			call: func() error { _, err := v.ValidateCreate(ctx, communityOf("new", "REGIONAL", "64512:7")); return err },
		},
		{
			name: "create with a name another Community holds",
			call: func() error { _, err := v.ValidateCreate(ctx, communityOf("new", "LOCAL", "64512:100")); return err },
			want: []string{`spec.communities[0].name: Duplicate value: "LOCAL": Community "edge" already defines this alias; an alias name is unique across all Community objects`},
		},
		{
			name: "create with a well-known name",
			call: func() error {
				_, err := v.ValidateCreate(ctx, communityOf("new", "blackhole", "64512:666"))
				return err
			},
			want: []string{`spec.communities[0].name: Invalid value: "blackhole": is a well-known community name, whose value is fixed`},
		},
		{
			name: "update changing a value in use",
			call: func() error {
				_, err := v.ValidateUpdate(ctx, edge, communityOf("edge", "TRANSIT", "64512:301", "LOCAL", "64512:100"))
				return err
			},
		},
		{
			name: "update removing an alias nobody uses",
			call: func() error {
				_, err := v.ValidateUpdate(ctx, edge, communityOf("edge", "TRANSIT", "64512:300"))
				return err
			},
		},
		{
			name: "update renaming an alias in use",
			call: func() error {
				_, err := v.ValidateUpdate(ctx, edge, communityOf("edge", "TRANSIT-V2", "64512:300", "LOCAL", "64512:100"))
				return err
			},
			want: []string{`spec.communities: Forbidden: removes alias "TRANSIT" (BGPAdvertisement uplink-a, uplink-b), which would then announce nothing; remove the alias from them first`},
		},
		{
			name: "delete with an alias in use",
			call: func() error { _, err := v.ValidateDelete(ctx, edge); return err },
			want: []string{`communities.ironlb.io "edge" is forbidden: in use: alias "TRANSIT" (BGPAdvertisement uplink-a, uplink-b) would then announce nothing; remove the aliases from them first`},
		},
		{
			name: "delete with no alias in use",
			call: func() error { _, err := v.ValidateDelete(ctx, other); return err },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, verdict(t, tt.call())); diff != "" {
				t.Errorf("admission (-want +got):\n%s", diff)
			}
		})
	}
}

// A BGPAdvertisement may name an alias only when a Community defines it.
func TestBGPAdvertisementAliases(t *testing.T) {
	v := bgpAdvertisementValidator{reader: fakeReader(t, communityOf("edge", "TRANSIT", "64512:300"))}
	tests := []struct {
		name        string
		communities []string
		want        []string
	}{
		{name: "a known alias, a well-known name and values", communities: []string{"TRANSIT", "NO-EXPORT", "64512:1", "large:64512:1:2"}},
		{
			name:        "an unknown alias",
			communities: []string{"transit"},
			want: []string{`spec.communities[0]: Not found: "transit": no Community object defines this alias (or several define it with different values), ` +
				`and it is not a well-known community name (accept-own, blackhole, graceful-shutdown, llgr-stale, no-advertise, no-export, no-export-subconfed, no-llgr, no-peer)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv := &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "adv"}, Spec: v1beta1.BGPAdvertisementSpec{Communities: tt.communities}}
			_, err := v.ValidateCreate(t.Context(), adv)
			if diff := cmp.Diff(tt.want, verdict(t, err)); diff != "" {
				t.Errorf("admission (-want +got):\n%s", diff)
			}
		})
	}
}

// As for the other kinds, an update that leaves spec alone is admitted
// without reading anything: these validators have no reader.
func TestUpdatesLeavingSpecAloneAreAdmittedBFDAndCommunity(t *testing.T) {
	ctx := t.Context()
	badProfile := bfd("echo")
	badProfile.Spec.EchoMode = true
	relabelled := badProfile.DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}
	if _, err := (bfdProfileValidator{}).ValidateUpdate(ctx, badProfile, relabelled); err != nil {
		t.Errorf("BFDProfile: metadata-only update rejected: %v", err)
	}
	badCommunity := communityOf("bad", "no-export", "1:1")
	if _, err := (communityValidator{}).ValidateUpdate(ctx, badCommunity, badCommunity.DeepCopy()); err != nil {
		t.Errorf("Community: metadata-only update rejected: %v", err)
	}
	badPeer := bgpPeer("bad", func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = "gone" })
	if _, err := (bgpPeerValidator{}).ValidateUpdate(ctx, badPeer, badPeer.DeepCopy()); err != nil {
		t.Errorf("BGPPeer naming a missing profile: metadata-only update rejected: %v", err)
	}
}

func TestValidateBGPPeerReferences(t *testing.T) {
	for _, tt := range []struct {
		profile string
		want    []string
	}{
		{profile: ""},
		{profile: "fast"},
		{profile: "slow", want: []string{`spec.bfdProfile: Not found: "slow": no BFDProfile of this name exists; create it first`}},
	} {
		peer := bgpPeer("tor", func(s *v1beta1.BGPPeerSpec) { s.BFDProfile = tt.profile })
		if diff := cmp.Diff(tt.want, messages(ValidateBGPPeerReferences(peer, sets.New("fast")))); diff != "" {
			t.Errorf("profile %q (-want +got):\n%s", tt.profile, diff)
		}
	}
}

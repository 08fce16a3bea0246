package bgp

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ironlb/ironlb/api/v1beta1"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// Ready is True for a profile the speakers run, False naming every field
// they cannot, by the rule they apply before running it; observedGeneration
// is the profile's generation either way.
func TestBFDProfileReady(t *testing.T) {
	tests := []struct {
		name string
		spec v1beta1.BFDProfileSpec
		want metav1.Condition
	}{{
		name: "defaults",
		want: metav1.Condition{Status: metav1.ConditionTrue, Reason: v1beta1.ReasonBFDProfileValid,
			Message: "the speakers can run this profile"},
	}, {
		name: "bounds",
		spec: v1beta1.BFDProfileSpec{ReceiveInterval: ptr[uint32](10), TransmitInterval: ptr[uint32](60000), DetectMultiplier: ptr[uint32](255),
			MinimumTTL: ptr[uint32](255), PassiveMode: true},
		want: metav1.Condition{Status: metav1.ConditionTrue, Reason: v1beta1.ReasonBFDProfileValid,
			Message: "the speakers can run this profile"},
	}, {
		name: "echo mode and a multihop TTL",
		spec: v1beta1.BFDProfileSpec{EchoMode: true, MinimumTTL: ptr[uint32](254)},
		want: metav1.Condition{Status: metav1.ConditionFalse, Reason: v1beta1.ReasonInvalidBFDProfile,
			Message: "[spec.echoMode: Invalid value: true: not supported: IronLB's BFD has no echo function; " +
				"failures are detected from control packets alone, spec.minimumTtl: Invalid value: 254: must be 255: " +
				"IronLB runs single-hop BFD only, which accepts packets with TTL 255 alone (RFC 5881 section 5)]" +
				"; the BGPPeers naming this profile run no BFD until it is fixed"},
	}, {
		name: "interval out of range",
		spec: v1beta1.BFDProfileSpec{ReceiveInterval: ptr[uint32](5)},
		want: metav1.Condition{Status: metav1.ConditionFalse, Reason: v1beta1.ReasonInvalidBFDProfile,
			Message: "spec.receiveInterval: Invalid value: 5: must be between 10 and 60000 (milliseconds)" +
				"; the BGPPeers naming this profile run no BFD until it is fixed"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prof := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: "fast", Generation: 4}, Spec: tc.spec}
			tc.want.Type, tc.want.ObservedGeneration = v1beta1.ConditionReady, 4
			if diff := cmp.Diff(tc.want, bfdProfileReady(prof)); diff != "" {
				t.Errorf("Ready (-want +got):\n%s", diff)
			}
		})
	}
}

// nullSpeaker accepts every peer and route.
type nullSpeaker struct{}

func (nullSpeaker) SetPeers(context.Context, []bgpspeaker.Peer) error   { return nil }
func (nullSpeaker) SetRoutes(context.Context, []bgpspeaker.Route) error { return nil }
func (nullSpeaker) Sessions() map[string]bgpspeaker.SessionState        { return nil }
func (nullSpeaker) ResetPeer(context.Context, string, string) error     { return nil }

// statusWrites returns a client whose status applies go no further than
// *names, which records the name of each object written.
func statusWrites(t *testing.T, names *[]string) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceApply: func(_ context.Context, _ client.Client, _ string, obj runtime.ApplyConfiguration, _ ...client.SubResourceApplyOption) error {
			var body struct {
				Kind     string
				Metadata struct{ Name string }
			}
			raw, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				return err
			}
			*names = append(*names, body.Kind+"/"+body.Metadata.Name)
			return nil
		},
	}).Build()
}

// BFDProfile Ready is shared status: only the speaker the decision names
// writes it, and only for the profiles whose Ready says something else.
func TestBFDProfileStatusWrittenByOneSpeakerOnChange(t *testing.T) {
	profile := func(name string, gen int64, spec v1beta1.BFDProfileSpec, conds ...metav1.Condition) v1beta1.BFDProfile {
		p := v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: gen}, Spec: spec}
		p.Status.Conditions = conds
		return p
	}
	upToDate := profile("up-to-date", 2, v1beta1.BFDProfileSpec{})
	upToDate.Status.Conditions = []metav1.Condition{bfdProfileReady(&upToDate)}
	stale := profile("stale", 3, v1beta1.BFDProfileSpec{}, bfdProfileReady(&upToDate)) // generation 2's
	profiles := []v1beta1.BFDProfile{
		upToDate,
		stale,
		profile("new", 1, v1beta1.BFDProfileSpec{}),
		profile("echo", 1, v1beta1.BFDProfileSpec{EchoMode: true}),
	}
	for _, tc := range []struct {
		name   string
		writes bool
		want   []string
	}{
		{name: "another speaker writes shared status"},
		{name: "this speaker writes shared status", writes: true,
			want: []string{"BFDProfile/stale", "BFDProfile/new", "BFDProfile/echo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var written []string
			p := New(nullSpeaker{}, "")
			p.log, p.writer, p.bfdProfiles = logr.Discard(), statusWrites(t, &written), profiles
			if err := p.Apply(t.Context(), protocol.Decision{Node: "n1", WritesShared: tc.writes}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, written); diff != "" {
				t.Errorf("status written (-want +got):\n%s", diff)
			}
		})
	}
}

package webhook

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/api/v1beta1"
)

func messages(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func pool(name string, addrs ...string) v1beta1.IPAddressPool {
	return v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
}

func TestValidateAdvertisements(t *testing.T) {
	pools := sets.New("lan", "wan")
	poolObjs := []v1beta1.IPAddressPool{pool("lan", "192.0.2.0/24"), pool("wan", "198.51.100.0/24")}
	peers := sets.New("router-a")
	tests := []struct {
		name string
		l2   *v1beta1.L2AdvertisementSpec
		bgp  *v1beta1.BGPAdvertisementSpec
		want []string
	}{
		{
			name: "L2 with known pools",
			l2:   &v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"lan", "wan"}},
		},
		{
			name: "L2 with no pools means all",
			l2:   &v1beta1.L2AdvertisementSpec{},
		},
		{
			name: "L2 naming an unknown pool",
			l2:   &v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"lan", "nope"}},
			want: []string{`spec.ipAddressPools[1]: Not found: "nope": no IPAddressPool of this name exists; create it first`},
		},
		{
			name: "L2 with a bad node selector",
			l2: &v1beta1.L2AdvertisementSpec{NodeSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "zone", Operator: "Near"},
			}}}},
			want: []string{`spec.nodeSelectors[0]: Invalid value: "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:zone,Operator:Near,Values:[],},},}": "Near" is not a valid label selector operator`},
		},
		{
			name: "BGP with known pools and peers",
			bgp:  &v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"wan"}, Peers: []string{"router-a"}, Communities: []string{"64512:100", "large:4200000000:1:2"}},
		},
		{
			name: "BGP naming an unknown pool and peer",
			bgp:  &v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan", "gone"}, Peers: []string{"router-b"}},
			want: []string{
				`spec.ipAddressPools[1]: Not found: "gone": no IPAddressPool of this name exists; create it first`,
				`spec.peers[0]: Not found: "router-b": no BGPPeer of this name exists; create it first`,
			},
		},
		{
			name: "BGP community out of range",
			bgp:  &v1beta1.BGPAdvertisementSpec{Communities: []string{"64512:70000", "large:1:2:4294967296"}},
			want: []string{
				`spec.communities[0]: Invalid value: "64512:70000": part 2 70000 is out of range 0-65535`,
				`spec.communities[1]: Invalid value: "large:1:2:4294967296": part 3 4294967296 is out of range 0-4294967295`,
			},
		},
		{
			name: "BGP large community with IronLB's reserved global administrator",
			bgp:  &v1beta1.BGPAdvertisementSpec{Communities: []string{"large:4294967295:1:2"}},
			want: []string{
				`spec.communities[0]: Invalid value: "large:4294967295:1:2": global administrator 4294967295 is reserved (RFC 8092 section 5); IronLB uses it internally to steer routes to peers`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if tt.l2 != nil {
				got = messages(ValidateL2Advertisement(&v1beta1.L2Advertisement{Spec: *tt.l2}, pools))
			} else {
				got = messages(ValidateBGPAdvertisement(&v1beta1.BGPAdvertisement{Spec: *tt.bgp}, poolObjs, peers, nil))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validation (-want +got):\n%s", diff)
			}
		})
	}
}

// An update that leaves spec alone (a finalizer, a label, the status) is
// admitted without looking at anything else, even for an object that would
// be rejected today: one stored before the webhook existed must still be
// deletable. The validators have no reader here, so any lookup would panic.
func TestUpdatesLeavingSpecAloneAreAdmitted(t *testing.T) {
	ctx := t.Context()
	badPool := pool("old", "198.51.100.20-198.51.100.10")
	relabelled := badPool.DeepCopy()
	relabelled.Finalizers = []string{v1beta1.PoolProtectionFinalizer}
	badL2 := &v1beta1.L2Advertisement{Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"gone"}}}
	badBGP := &v1beta1.BGPAdvertisement{Spec: v1beta1.BGPAdvertisementSpec{Peers: []string{"gone"}}}
	badPeer := &v1beta1.BGPPeer{Spec: v1beta1.BGPPeerSpec{MyASN: 23456, PeerASN: 64512, PeerAddress: "198.51.100.1"}}

	checks := map[string]func() error{
		"IPAddressPool": func() error {
			_, err := poolValidator{}.ValidateUpdate(ctx, &badPool, relabelled)
			return err
		},
		"L2Advertisement": func() error {
			_, err := l2AdvertisementValidator{}.ValidateUpdate(ctx, badL2, badL2.DeepCopy())
			return err
		},
		"BGPAdvertisement": func() error {
			_, err := bgpAdvertisementValidator{}.ValidateUpdate(ctx, badBGP, badBGP.DeepCopy())
			return err
		},
		"BGPPeer": func() error {
			_, err := bgpPeerValidator{}.ValidateUpdate(ctx, badPeer, badPeer.DeepCopy())
			return err
		},
	}
	for kind, check := range checks {
		t.Run(kind, func(t *testing.T) {
			if err := check(); err != nil {
				t.Errorf("metadata-only update rejected: %v", err)
			}
		})
	}
}

// What the BGPAdvertisement webhook answers, with the pools and peers of a
// cluster behind it: an aggregation that would announce addresses outside a
// selected pool's entry is refused, whichever way the pool is selected.
func TestBGPAdvertisementAdmission(t *testing.T) {
	lan := pool("lan", "192.0.2.0/28", "2001:db8:1::/64")
	lan.Labels = map[string]string{"tier": "lan"}
	dmz := pool("dmz", "198.51.100.10-198.51.100.20")
	peer := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}}
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&lan, &dmz, peer).Build()
	v := bgpAdvertisementValidator{reader: reader}
	agg := func(n int32) *int32 { return &n }

	tests := []struct {
		name string
		spec v1beta1.BGPAdvertisementSpec
		want string // "" = admitted
	}{
		{name: "host routes", spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan"}}},
		{name: "the pool's own length", spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan"}, AggregationLength: agg(28), AggregationLengthV6: agg(64)}},
		{
			name: "aggregationLength 0 would announce a default route",
			spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan"}, AggregationLength: agg(0)},
			want: `spec.aggregationLength: Invalid value: 0: would announce 0.0.0.0/0 for entry "192.0.2.0/28" of IPAddressPool "lan", covering addresses outside it; the shortest length that stays inside the entry is 28`,
		},
		{
			name: "aggregationLength 8 would announce a /8",
			spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan"}, AggregationLength: agg(8)},
			want: `spec.aggregationLength: Invalid value: 8: would announce 192.0.0.0/8 for entry "192.0.2.0/28" of IPAddressPool "lan", covering addresses outside it; the shortest length that stays inside the entry is 28`,
		},
		{
			name: "aggregationLengthV6 shorter than the pool's /64",
			spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan"}, AggregationLengthV6: agg(48)},
			want: `spec.aggregationLengthV6: Invalid value: 48: would announce 2001:db8:1::/48 for entry "2001:db8:1::/64" of IPAddressPool "lan", covering addresses outside it; the shortest length that stays inside the entry is 64`,
		},
		{
			name: "a range entry aggregates to nothing shorter than its addresses",
			spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"dmz"}, AggregationLength: agg(28)},
			want: `spec.aggregationLength: Invalid value: 28: would announce 198.51.100.0/28 for entry "198.51.100.10-198.51.100.20" of IPAddressPool "dmz", covering addresses outside it; the shortest length that stays inside the entry is 32`,
		},
		{
			name: "a pool selected by label is checked too",
			spec: v1beta1.BGPAdvertisementSpec{
				IPAddressPoolSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "lan"}}},
				AggregationLength:      agg(0),
			},
			want: `spec.aggregationLength: Invalid value: 0: would announce 0.0.0.0/0 for entry "192.0.2.0/28" of IPAddressPool "lan", covering addresses outside it; the shortest length that stays inside the entry is 28`,
		},
		{
			name: "no pools named and no selector: every pool is checked",
			spec: v1beta1.BGPAdvertisementSpec{AggregationLength: agg(30)},
			want: `spec.aggregationLength: Invalid value: 30: would announce 198.51.100.8/30 for entry "198.51.100.10-198.51.100.20" of IPAddressPool "dmz", covering addresses outside it; the shortest length that stays inside the entry is 32`,
		},
		{
			name: "a pool not selected is not checked",
			spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"lan"}, AggregationLength: agg(28)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv := &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "adv"}, Spec: tt.spec}
			_, err := v.ValidateCreate(t.Context(), adv)
			var got []string
			if status, ok := err.(apierrors.APIStatus); ok {
				for _, c := range status.Status().Details.Causes {
					got = append(got, c.Field+": "+c.Message)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("admission (-want +got):\n%s", diff)
			}
		})
	}
}

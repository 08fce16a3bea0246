package webhook

import (
	"testing"
	"time"

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

func TestValidatePool(t *testing.T) {
	others := []v1beta1.IPAddressPool{
		pool("lan", "192.0.2.0/28", "2001:db8:1::/64"),
		pool("broken", "not-an-address"),
	}
	badSelector := pool("sel", "203.0.113.0/29")
	badSelector.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
		ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"bad key!": "x"}}},
	}
	tests := []struct {
		name   string
		pool   v1beta1.IPAddressPool
		others []v1beta1.IPAddressPool
		want   []string
	}{
		{
			name: "valid mixed families",
			pool: pool("new", "198.51.100.0/28", "198.51.100.20-198.51.100.30", "2001:db8:2::/64", "203.0.113.7"),
			want: nil,
		},
		{
			name: "reversed range",
			pool: pool("new", "203.0.113.0/29", "198.51.100.20-198.51.100.10"),
			want: []string{`spec.addresses[1]: Invalid value: "198.51.100.20-198.51.100.10": range is reversed: 198.51.100.20 comes after 198.51.100.10`},
		},
		{
			name: "range across families",
			pool: pool("new", "198.51.100.1-2001:db8::1"),
			want: []string{`spec.addresses[0]: Invalid value: "198.51.100.1-2001:db8::1": range mixes IPv4 and IPv6 addresses`},
		},
		{
			name: "not a CIDR",
			pool: pool("new", "198.51.100.0/33"),
			want: []string{`spec.addresses[0]: Invalid value: "198.51.100.0/33": not a valid CIDR`},
		},
		{
			name: "host bits set",
			pool: pool("new", "198.51.100.1/24"),
			want: []string{`spec.addresses[0]: Invalid value: "198.51.100.1/24": host bits are set; the CIDR is 198.51.100.0/24`},
		},
		{
			name: "overlaps another pool",
			pool: pool("new", "198.51.100.0/28", "192.0.2.8-192.0.2.20"),
			want: []string{`spec.addresses[1]: Invalid value: "192.0.2.8-192.0.2.20": overlaps "192.0.2.0/28" of IPAddressPool "lan": an address may belong to one pool only`},
		},
		{
			name: "overlaps another pool in IPv6",
			pool: pool("new", "2001:db8:1::8000/120"),
			want: []string{`spec.addresses[0]: Invalid value: "2001:db8:1::8000/120": overlaps "2001:db8:1::/64" of IPAddressPool "lan": an address may belong to one pool only`},
		},
		{
			name: "an update of the pool itself does not overlap with its stored self",
			pool: pool("lan", "192.0.2.0/27", "2001:db8:1::/64"),
			want: nil,
		},
		{
			name: "overlap inside the pool",
			pool: pool("new", "203.0.113.0/28", "203.0.113.15"),
			want: []string{`spec.addresses[1]: Invalid value: "203.0.113.15": overlaps spec.addresses[0] ("203.0.113.0/28") of the same pool`},
		},
		{
			name: "same numbers in another family do not overlap",
			pool: pool("new", "::c000:200/124"),
			want: nil,
		},
		{
			name: "bad label selector",
			pool: badSelector,
			want: []string{`spec.serviceAllocation.serviceSelectors[0]: Invalid value: "&LabelSelector{MatchLabels:map[string]string{bad key!: x,},MatchExpressions:[]LabelSelectorRequirement{},}": key: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		},
		{
			name: "empty",
			pool: pool("new"),
			want: []string{`spec.addresses: Required value: a pool needs at least one CIDR or range`},
		},
		{
			name: "IPv6 range across the IPv4-mapped block",
			pool: pool("new", "2001:db8:5::/64", "::fffe:ffff:ffff-::1:0:0:0"),
			want: []string{`spec.addresses[1]: Invalid value: "::fffe:ffff:ffff-::1:0:0:0": includes IPv4-mapped IPv6 addresses (::ffff:0.0.0.0/96), which stand for IPv4 addresses; list IPv4 addresses as IPv4`},
		},
		{
			name: "loopback, link-local and multicast",
			pool: pool("new", "203.0.113.0/29", "127.0.0.0/30", "169.254.10.0/24", "fe80::/64", "224.0.0.0/28", "ff02::/120"),
			want: []string{
				`spec.addresses[1]: Invalid value: "127.0.0.0/30": includes loopback addresses (127.0.0.0/8), which cannot be a Service's external IP`,
				`spec.addresses[2]: Invalid value: "169.254.10.0/24": includes link-local addresses (169.254.0.0/16), which cannot be a Service's external IP`,
				`spec.addresses[3]: Invalid value: "fe80::/64": includes link-local addresses (fe80::/10), which cannot be a Service's external IP`,
				`spec.addresses[4]: Invalid value: "224.0.0.0/28": includes multicast addresses (224.0.0.0/4), which cannot be a Service's external IP`,
				`spec.addresses[5]: Invalid value: "ff02::/120": includes multicast addresses (ff00::/8), which cannot be a Service's external IP`,
			},
		},
		{
			name: "unspecified and broadcast",
			pool: pool("new", "0.0.0.0/32", "::/128", "::1/128", "255.255.255.0-255.255.255.255"),
			want: []string{
				`spec.addresses[0]: Invalid value: "0.0.0.0/32": includes the unspecified address 0.0.0.0, which cannot be a Service's external IP`,
				`spec.addresses[1]: Invalid value: "::/128": includes the unspecified address ::, which cannot be a Service's external IP`,
				`spec.addresses[2]: Invalid value: "::1/128": includes the loopback address ::1, which cannot be a Service's external IP`,
				`spec.addresses[3]: Invalid value: "255.255.255.0-255.255.255.255": includes the broadcast address 255.255.255.255, which cannot be a Service's external IP`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(ValidatePool(&tt.pool, others))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidatePool (-want +got):\n%s", diff)
			}
		})
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
				got = messages(ValidateBGPAdvertisement(&v1beta1.BGPAdvertisement{Spec: *tt.bgp}, poolObjs, peers))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validation (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateBGPPeer(t *testing.T) {
	d := func(s string) *metav1.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: v}
	}
	base := func() v1beta1.BGPPeerSpec {
		return v1beta1.BGPPeerSpec{MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1", PeerPort: 179}
	}
	tests := []struct {
		name         string
		edit         func(*v1beta1.BGPPeerSpec)
		want         []string
		wantWarnings []string
	}{
		{name: "valid", edit: func(*v1beta1.BGPPeerSpec) {}},
		{
			name: "valid with timers, source, password and IPv6",
			edit: func(s *v1beta1.BGPPeerSpec) {
				s.PeerAddress, s.SourceAddress = "2001:db8::1", "2001:db8::2"
				s.HoldTime, s.KeepaliveTime = d("9s"), d("3s")
				s.PasswordSecret = &v1beta1.SecretKeyRef{Name: "peer-secret", Namespace: "ironlb-system", Key: "password"}
			},
		},
		{
			name: "AS_TRANS and reserved ASN",
			edit: func(s *v1beta1.BGPPeerSpec) { s.MyASN, s.PeerASN = 23456, 4294967295 },
			want: []string{
				`spec.myASN: Invalid value: 23456: AS 23456 is AS_TRANS, which only stands in for a 4-byte ASN (RFC 6793)`,
				`spec.peerASN: Invalid value: 4294967295: reserved ASN (RFC 7300)`,
			},
		},
		{
			name: "AS 0",
			edit: func(s *v1beta1.BGPPeerSpec) { s.PeerASN = 0 },
			want: []string{`spec.peerASN: Invalid value: 0: AS 0 is reserved (RFC 7607)`},
		},
		{
			name: "keepalive not below hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = d("30s"), d("30s") },
			want: []string{`spec.keepaliveTime: Invalid value: "30s": must be less than the hold time (30s)`},
		},
		{
			name: "keepalive not below the default hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.KeepaliveTime = d("2m") },
			want: []string{`spec.keepaliveTime: Invalid value: "2m0s": must be less than the hold time (1m30s)`},
		},
		{
			name: "hold time too short",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime = d("2s") },
			want: []string{`spec.holdTime: Invalid value: "2s": must be 0 or at least 3s`},
		},
		{
			name: "fractional hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime = d("4500ms") },
			want: []string{`spec.holdTime: Invalid value: "4.5s": must be a whole number of seconds`},
		},
		{
			name: "hold time beyond the 16-bit field",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime = d("20h") },
			want: []string{`spec.holdTime: Invalid value: "20h0m0s": must be at most 65535s`},
		},
		{
			name: "keepalive with a zero hold time",
			edit: func(s *v1beta1.BGPPeerSpec) { s.HoldTime, s.KeepaliveTime = d("0s"), d("10s") },
			want: []string{`spec.keepaliveTime: Invalid value: "10s": must be 0 when spec.holdTime is 0: no keepalives are sent then`},
		},
		{
			name: "source of another family",
			edit: func(s *v1beta1.BGPPeerSpec) { s.SourceAddress = "2001:db8::2" },
			want: []string{`spec.sourceAddress: Invalid value: "2001:db8::2": is not of the same family as spec.peerAddress "198.51.100.1"`},
		},
		{
			name: "multicast peer",
			edit: func(s *v1beta1.BGPPeerSpec) { s.PeerAddress = "224.0.0.5" },
			want: []string{`spec.peerAddress: Invalid value: "224.0.0.5": must be a unicast address (not loopback, link-local, multicast or unspecified)`},
		},
		{
			name: "bad secret reference",
			edit: func(s *v1beta1.BGPPeerSpec) {
				s.PasswordSecret = &v1beta1.SecretKeyRef{Name: "Peer_Secret", Namespace: "ironlb-system", Key: "pass word"}
			},
			want: []string{
				`spec.passwordSecret.name: Invalid value: "Peer_Secret": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`spec.passwordSecret.key: Invalid value: "pass word": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
			},
		},
		{
			name:         "eBGP multihop on iBGP warns",
			edit:         func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.EBGPMultiHop = 64513, true },
			wantWarnings: []string{"spec.ebgpMultiHop has no effect on an iBGP session (myASN equals peerASN)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base()
			tt.edit(&spec)
			errs, warnings := ValidateBGPPeer(&v1beta1.BGPPeer{Spec: spec})
			if diff := cmp.Diff(tt.want, messages(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
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

package bgp

import (
	"context"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/speaker/announce"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
)

// communityCases is the one table admission and the speaker are both held
// to: whatever the webhook admits, the speaker announces, and the other way
// round.
var communityCases = []struct {
	community string
	valid     bool
}{
	{"64512:100", true},
	{"0:0", true},
	{"65535:65535", true},
	{"65536:1", false},
	{"1:65536", false},
	{"large:64512:1:2", true},
	{"large:0:0:0", true},
	{"large:4294967294:4294967295:4294967295", true},
	{"large:1:2:4294967296", false},
	{"large:4294967296:1:2", false},
	// 4294967295 fits the 32-bit field, but RFC 8092 section 5 reserves it as
	// a global administrator and IronLB's speakers tag their routes with it
	// to steer them to peers (and strip it on export): refused on both sides.
	{"large:4294967295:1:2", false},
	{"large:4294967295:0:0", false},
}

// startBGP runs a real embedded GoBGP without peers: what SetRoutes refuses
// is what the speaker would fail to announce.
func startBGP(t *testing.T) *bgpspeaker.Speaker {
	t.Helper()
	sp, err := bgpspeaker.New(bgpspeaker.Options{RouterID: netip.MustParseAddr("192.0.2.254"), ListenPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Stop(context.Background()) })
	return sp
}

// speakerAnnounces runs a BGPAdvertisement with these communities, next to
// an advertisement "plain" of the same pool, through the speaker's parsing,
// the decision and GoBGP. It reports whether the advertisement is taken,
// and fails the test if "plain" is not announced whatever happens to the
// other.
func speakerAnnounces(t *testing.T, sp *bgpspeaker.Speaker, communities ...string) bool {
	t.Helper()
	tagged := parse(&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "tagged"},
		Spec: v1beta1.BGPAdvertisementSpec{Communities: communities}}, nil)
	plain := parse(&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "plain"},
		Spec: v1beta1.BGPAdvertisementSpec{Communities: []string{"64512:7"}}}, nil)
	// A Ready pool "lan" holding 192.0.2.0/24, and a Service of it, as the
	// speaker reads them.
	lan, _ := iprange.Parse("192.0.2.0/24")
	in := announce.Input{
		Nodes:             []announce.Node{{Name: "n1", Ready: true}},
		Live:              map[string]bool{"n1": true},
		Pools:             []announce.Pool{{Name: "lan", Entries: []announce.Entry{{Range: lan, Text: "192.0.2.0/24"}}}},
		Services:          []announce.Service{{Key: "ns/web", IPs: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, Pool: "lan"}},
		BGPAdvertisements: []announce.BGPAdvertisement{plain.adv},
	}
	taken := tagged.usable()
	if taken {
		in.BGPAdvertisements = append(in.BGPAdvertisements, tagged.adv)
	}
	routes := announce.Compute(in).Routes("n1")
	if err := sp.SetRoutes(t.Context(), routes); err != nil {
		t.Logf("GoBGP refused: %v", err)
		taken = false
		// The other advertisement's route must not go down with it.
		if len(routes) == 0 {
			t.Error("plain's route is not announced")
		} else {
			t.Errorf("plain's route %s went down with the advertisement carrying %v", routes[0].Prefix, communities)
		}
	}
	return taken
}

func TestAdmissionAndSpeakerAgreeOnCommunities(t *testing.T) {
	sp := startBGP(t)
	for _, tc := range communityCases {
		t.Run(tc.community, func(t *testing.T) {
			adv := &v1beta1.BGPAdvertisement{Spec: v1beta1.BGPAdvertisementSpec{Communities: []string{tc.community}}}
			// What admission checks of spec.communities (controllers/webhook calls the same rule).
			errs := validation.ValidateCommunities(field.NewPath("spec", "communities"), adv.Spec.Communities)
			admitted := len(errs) == 0
			announced := speakerAnnounces(t, sp, tc.community)
			if admitted != tc.valid || announced != tc.valid {
				t.Errorf("%q: admitted %v (%v), announced %v; want both %v", tc.community, admitted, errs, announced, tc.valid)
			}
		})
	}
}

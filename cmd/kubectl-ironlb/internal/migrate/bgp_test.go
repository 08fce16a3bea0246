package migrate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

func bfdProfile(ns, name string, spec metallb.BFDProfileSpec) metallb.BFDProfile {
	return metallb.BFDProfile{ObjectMeta: meta(ns, name), Spec: spec}
}

func TestBFDProfiles(t *testing.T) {
	single := peer("metallb-system", "single", "198.51.100.1")
	single.Spec.BFDProfile = "fast"
	multihop := peer("metallb-system", "multihop", "198.51.100.2")
	multihop.Spec.BFDProfile, multihop.Spec.EBGPMultiHop = "fast", true
	ibgpMultihop := peer("metallb-system", "ibgp", "198.51.100.3")
	ibgpMultihop.Spec.PeerASN = ibgpMultihop.Spec.MyASN
	ibgpMultihop.Spec.BFDProfile, ibgpMultihop.Spec.EBGPMultiHop = "fast", true
	missing := peer("metallb-system", "missing", "198.51.100.4")
	missing.Spec.BFDProfile = "gone"
	refused := peer("metallb-system", "refused", "198.51.100.5")
	refused.Spec.BFDProfile = "too-fast"
	renamed := peer("team-a", "renamed", "198.51.100.6")
	renamed.Spec.BFDProfile = "fast"

	in := metallb.Set{
		BFDProfiles: []metallb.BFDProfile{
			bfdProfile("metallb-system", "fast", metallb.BFDProfileSpec{
				ReceiveInterval: ptr.To[uint32](100), DetectMultiplier: ptr.To[uint32](4), EchoMode: ptr.To(false), MinimumTTL: ptr.To[uint32](254),
			}),
			bfdProfile("metallb-system", "too-fast", metallb.BFDProfileSpec{TransmitInterval: ptr.To[uint32](5)}),
			bfdProfile("team-a", "fast", metallb.BFDProfileSpec{PassiveMode: ptr.To(true)}),
		},
		Peers: []metallb.BGPPeer{single, multihop, ibgpMultihop, missing, refused, renamed},
	}
	res := Convert(in, Options{})

	wantProfiles := []v1beta1.BFDProfile{
		{ObjectMeta: meta("", "fast"), Spec: v1beta1.BFDProfileSpec{ReceiveInterval: ptr.To[uint32](100), DetectMultiplier: ptr.To[uint32](4)}},
		{ObjectMeta: meta("", "fast-team-a"), Spec: v1beta1.BFDProfileSpec{PassiveMode: true}},
	}
	if diff := cmp.Diff(wantProfiles, res.BFDProfiles); diff != "" {
		t.Errorf("BFD profiles (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, p := range res.Peers {
		got[p.Name] = p.Spec.BFDProfile
	}
	want := map[string]string{"single": "fast", "multihop": "", "ibgp": "fast", "missing": "", "refused": "", "renamed": "fast-team-a"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("peers' spec.bfdProfile (-want +got):\n%s", diff)
	}
	for _, want := range []struct{ obj, field, reason string }{
		{"BFDProfile metallb-system/fast", "spec.minimumTtl", "multihop sessions only"},
		{"BFDProfile metallb-system/too-fast", "spec.transmitInterval", "must be between 10 and 60000 (milliseconds)"},
		{"BGPPeer metallb-system/multihop", "spec.bfdProfile", "single hop only"},
		{"BGPPeer metallb-system/missing", "spec.bfdProfile", "no BFDProfile of this name in namespace metallb-system is carried over"},
		{"BGPPeer metallb-system/refused", "spec.bfdProfile", "the session runs without BFD"},
	} {
		if !hasEntry(&res.Report, want.obj, want.field, report.Dropped, want.reason) {
			t.Errorf("no line %s %s saying %q:\n%v", want.obj, want.field, want.reason, entries(&res.Report))
		}
	}
	// echoMode false is what IronLB does anyway: nothing to report.
	if hasEntry(&res.Report, "BFDProfile metallb-system/fast", "spec.echoMode", report.Dropped, "") {
		t.Errorf("echoMode: false reported: %v", entries(&res.Report))
	}
}

func TestPeerFields(t *testing.T) {
	dynamic := peer("metallb-system", "dynamic", "198.51.100.1")
	dynamic.Spec.PeerASN, dynamic.Spec.DynamicASN = 0, "internal"
	vrf := peer("metallb-system", "vrf", "198.51.100.2")
	vrf.Spec.VRFName = "red"
	oneFamily := peer("metallb-system", "one-family", "198.51.100.3")
	oneFamily.Spec.DualStackAddressFamily = false
	noMP := peer("metallb-system", "no-mp", "198.51.100.4")
	noMP.Spec.DisableMP = true
	badVRF := peer("metallb-system", "bad-vrf", "198.51.100.5")
	badVRF.Spec.VRFName = "a-name-too-long-for-linux"
	both := peer("metallb-system", "both", "198.51.100.6")
	both.Spec.DynamicASN = "external"

	res := Convert(metallb.Set{Peers: []metallb.BGPPeer{dynamic, vrf, oneFamily, noMP, badVRF, both}}, Options{})
	got := map[string]v1beta1.BGPPeerSpec{}
	for _, p := range res.Peers {
		got[p.Name] = p.Spec
	}
	if _, ok := got["bad-vrf"]; ok || !hasEntry(&res.Report, "BGPPeer metallb-system/bad-vrf", "spec.vrf", report.Dropped, "at most 15 bytes") {
		t.Errorf("a VRF name Linux refuses: peer kept or not reported: %v", entries(&res.Report))
	}
	if _, ok := got["both"]; ok || !hasEntry(&res.Report, "BGPPeer metallb-system/both", "spec.peerASN", report.Dropped, "set exactly one of them") {
		t.Errorf("peerASN with dynamicASN: peer kept or not reported: %v", entries(&res.Report))
	}
	for name, want := range map[string]struct {
		dynamic   v1beta1.DynamicASNMode
		vrf       string
		disableMP bool
	}{
		"dynamic":    {dynamic: v1beta1.DynamicASNInternal},
		"vrf":        {vrf: "red"},
		"one-family": {disableMP: true},
		"no-mp":      {disableMP: true},
	} {
		s, ok := got[name]
		if !ok {
			t.Errorf("peer %s left out: %v", name, entries(&res.Report))
			continue
		}
		if s.DynamicASN != want.dynamic || s.VRF != want.vrf || s.DisableMP != want.disableMP {
			t.Errorf("peer %s: dynamicASN %q, vrf %q, disableMP %v; want %+v", name, s.DynamicASN, s.VRF, s.DisableMP, want)
		}
	}
	if !hasEntry(&res.Report, "BGPPeer metallb-system/one-family", "spec.dualStackAddressFamily", report.Changed, "written as disableMP: true") {
		t.Errorf("no line for dualStackAddressFamily: false: %v", entries(&res.Report))
	}
}

// MetalLB's aliases belong to a namespace, IronLB's to the cluster: an
// alias keeps its name when it can, and an advertisement that used one
// that cannot gets its value.
func TestCommunityObjects(t *testing.T) {
	community := func(ns, name string, aliases ...metallb.CommunityAlias) metallb.Community {
		return metallb.Community{ObjectMeta: meta(ns, name), Spec: metallb.CommunitySpec{Communities: aliases}}
	}
	alias := func(name, value string) metallb.CommunityAlias {
		return metallb.CommunityAlias{Name: name, Value: value}
	}
	adv := func(ns string, communities ...string) metallb.BGPAdvertisement {
		return metallb.BGPAdvertisement{ObjectMeta: meta(ns, "adv"), Spec: metallb.BGPAdvertisementSpec{Communities: communities}}
	}
	in := metallb.Set{
		Pools: []metallb.IPAddressPool{pool("metallb-system", "lan", "192.0.2.0/28"), pool("team-a", "wan", "198.51.100.0/28")},
		Communities: []metallb.Community{
			community("team-a", "aliases", alias("TRANSIT", "64512:2"), alias("LOCAL", "64512:1")),
			community("metallb-system", "aliases", alias("LOCAL", "64512:1"), alias("TRANSIT", "64512:3"), alias("no-peer", "65535:65284")),
			community("metallb-system", "well-known-only", alias("no-export", "65535:65281")),
		},
		BGPAdvertisements: []metallb.BGPAdvertisement{
			adv("metallb-system", "LOCAL", "TRANSIT", "no-peer", "no-export"),
			adv("team-a", "LOCAL", "TRANSIT"),
		},
	}
	res := Convert(in, Options{})

	// metallb-system's Community goes first and keeps the names; team-a's
	// LOCAL is the same alias, its TRANSIT another value under a name taken.
	wantCommunities := []v1beta1.Community{{
		ObjectMeta: meta("", "aliases"),
		Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{
			{Name: "LOCAL", Value: "64512:1"}, {Name: "TRANSIT", Value: "64512:3"},
		}},
	}}
	if diff := cmp.Diff(wantCommunities, res.Communities); diff != "" {
		t.Errorf("Communities (-want +got):\n%s", diff)
	}
	gotAdv := map[string][]string{}
	for _, a := range res.BGPAdvertisements {
		gotAdv[a.Name] = a.Spec.Communities
	}
	wantAdv := map[string][]string{
		"adv":        {"LOCAL", "TRANSIT", "65535:65284", "65535:65281"},
		"adv-team-a": {"LOCAL", "64512:2"},
	}
	if diff := cmp.Diff(wantAdv, gotAdv); diff != "" {
		t.Errorf("advertisements' communities (-want +got):\n%s", diff)
	}
	for _, want := range []struct {
		obj, field string
		outcome    report.Outcome
		reason     string
	}{
		{"Community metallb-system/aliases", "spec.communities[2]", report.Changed, "well-known community name"},
		{"Community metallb-system/well-known-only", "", report.Dropped, "left out"},
		{"Community team-a/aliases", "spec.communities[0]", report.Changed, "already holds this one as 64512:3"},
		{"Community team-a/aliases", "spec.communities[1]", report.Changed, "with the same value"},
		{"BGPAdvertisement team-a/adv", "spec.communities[1]", report.Changed, "written as its value 64512:2"},
		{"BGPAdvertisement metallb-system/adv", "spec.communities[2]", report.Changed, "written as its value 65535:65284"},
	} {
		if !hasEntry(&res.Report, want.obj, want.field, want.outcome, want.reason) {
			t.Errorf("no line %s %s %s saying %q:\n%v", want.obj, want.field, want.outcome, want.reason, entries(&res.Report))
		}
	}
}

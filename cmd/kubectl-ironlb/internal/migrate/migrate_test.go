package migrate

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

func pool(ns, name string, addrs ...string) metallb.IPAddressPool {
	return metallb.IPAddressPool{ObjectMeta: meta(ns, name), Spec: metallb.IPAddressPoolSpec{Addresses: addrs}}
}

func peer(ns, name, addr string) metallb.BGPPeer {
	return metallb.BGPPeer{ObjectMeta: meta(ns, name), Spec: metallb.BGPPeerSpec{
		MyASN: 64513, PeerASN: 64512, PeerAddress: addr, DualStackAddressFamily: true,
	}}
}

func names[T any](objs []T, name func(*T) string) []string {
	var out []string
	for i := range objs {
		out = append(out, name(&objs[i]))
	}
	return out
}

func poolNames(r *Result) []string {
	return names(r.Pools, func(p *v1beta1.IPAddressPool) string { return p.Name })
}

// entries renders the report as "Object field: outcome" lines, sorted.
func entries(r *report.Report) []string {
	var out []string
	for _, e := range r.Sorted() {
		out = append(out, strings.TrimSpace(e.Object.String()+" "+e.Field)+": "+string(e.Outcome))
	}
	return out
}

func hasEntry(r *report.Report, obj, field string, outcome report.Outcome, reason string) bool {
	for _, e := range r.Entries {
		if e.Object.String() == obj && e.Field == field && e.Outcome == outcome && strings.Contains(e.Reason, reason) {
			return true
		}
	}
	return false
}

func TestNameClashes(t *testing.T) {
	in := metallb.Set{
		Pools: []metallb.IPAddressPool{
			pool("team-b", "lan", "198.51.100.0/28"),
			pool("metallb-system", "lan", "192.0.2.0/28"),
			pool("team-a", "lan", "203.0.113.0/28"),
			pool("team-a", "lan-team-c", "203.0.113.16/28"),
			pool("team-c", "lan", "203.0.113.32/28"), // "lan-team-c" is taken
		},
		L2Advertisements: []metallb.L2Advertisement{
			{ObjectMeta: meta("team-a", "l2"), Spec: metallb.L2AdvertisementSpec{IPAddressPools: []string{"lan"}}},
		},
	}
	res := Convert(in, Options{})
	want := []string{"lan-team-b", "lan", "lan-team-a", "lan-team-c", "lan-team-c-0"}
	got := poolNames(&res)
	// The hash suffix is fixed by the source's namespace and name.
	if len(got) != len(want) || !strings.HasPrefix(got[4], "lan-team-c-") || len(got[4]) != len("lan-team-c-")+8 {
		t.Fatalf("pool names = %v, want like %v", got, want)
	}
	if diff := cmp.Diff(want[:4], got[:4]); diff != "" {
		t.Errorf("pool names (-want +got):\n%s", diff)
	}
	if again := poolNames(ptr.To(Convert(in, Options{}))); !cmp.Equal(again, got) {
		t.Errorf("names differ between runs: %v, then %v", got, again)
	}
	// MetalLB's namespace keeps the name; others are renamed, with a line.
	if !hasEntry(&res.Report, "IPAddressPool team-a/lan", "metadata.name", report.Changed, "renamed lan-team-a") {
		t.Errorf("no rename line for team-a/lan: %v", entries(&res.Report))
	}
	if hasEntry(&res.Report, "IPAddressPool metallb-system/lan", "metadata.name", report.Changed, "renamed") {
		t.Errorf("metallb-system/lan renamed: %v", entries(&res.Report))
	}
	// References follow the rename, within the namespace.
	if diff := cmp.Diff([]string{"lan-team-a"}, res.L2Advertisements[0].Spec.IPAddressPools); diff != "" {
		t.Errorf("L2Advertisement team-a/l2 pools (-want +got):\n%s", diff)
	}
	// Several namespaces: each pool says where it came from, and the
	// other namespaces' objects are said to have had no effect in MetalLB.
	if got := res.Pools[0].Labels[LabelSourceNamespace]; got != "team-b" {
		t.Errorf("pool lan-team-b label %s = %q", LabelSourceNamespace, got)
	}
	if !hasEntry(&res.Report, "IPAddressPool team-b/lan", "metadata.namespace", report.Changed, "no effect under MetalLB") {
		t.Errorf("no namespace line for team-b/lan: %v", entries(&res.Report))
	}
}

func TestUniqueNameTooLong(t *testing.T) {
	long := strings.Repeat("a", 250)
	got := uniqueName(key{"team-a", long}, map[string]bool{})
	if len(got) > 253 || !strings.HasPrefix(got, long[:200]) {
		t.Errorf("uniqueName of a 250-character name = %q (%d characters)", got, len(got))
	}
}

// With pools from several namespaces, an advertisement still announces only
// the pools of its own namespace, as in MetalLB.
func TestScopedSelection(t *testing.T) {
	in := metallb.Set{
		Pools: []metallb.IPAddressPool{pool("metallb-system", "a", "192.0.2.0/28"), pool("other", "b", "198.51.100.0/28")},
		Peers: []metallb.BGPPeer{peer("metallb-system", "tor", "198.51.100.1"), peer("other", "tor2", "198.51.100.2")},
		L2Advertisements: []metallb.L2Advertisement{
			{ObjectMeta: meta("metallb-system", "every")},
			{ObjectMeta: meta("other", "selected"), Spec: metallb.L2AdvertisementSpec{
				IPAddressPoolSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}},
			}},
		},
		BGPAdvertisements: []metallb.BGPAdvertisement{{ObjectMeta: meta("other", "all-peers")}},
	}
	res := Convert(in, Options{})
	l2 := res.L2Advertisements
	wantEvery := []metav1.LabelSelector{{MatchLabels: map[string]string{LabelSourceNamespace: "metallb-system"}}}
	if diff := cmp.Diff(wantEvery, l2[0].Spec.IPAddressPoolSelectors); diff != "" {
		t.Errorf("every-pool advertisement (-want +got):\n%s", diff)
	}
	wantSel := []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y", LabelSourceNamespace: "other"}}}
	if diff := cmp.Diff(wantSel, l2[1].Spec.IPAddressPoolSelectors); diff != "" {
		t.Errorf("selector advertisement (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tor2"}, res.BGPAdvertisements[0].Spec.Peers); diff != "" {
		t.Errorf("every-peer BGPAdvertisement peers (-want +got):\n%s", diff)
	}
}

func TestReferences(t *testing.T) {
	in := metallb.Set{
		Pools: []metallb.IPAddressPool{pool("metallb-system", "lan", "192.0.2.0/28")},
		Peers: []metallb.BGPPeer{peer("metallb-system", "tor", "198.51.100.1")},
		L2Advertisements: []metallb.L2Advertisement{
			{ObjectMeta: meta("metallb-system", "some-gone"), Spec: metallb.L2AdvertisementSpec{IPAddressPools: []string{"lan", "gone"}}},
			{ObjectMeta: meta("metallb-system", "all-gone"), Spec: metallb.L2AdvertisementSpec{IPAddressPools: []string{"gone"}}},
		},
		BGPAdvertisements: []metallb.BGPAdvertisement{
			{ObjectMeta: meta("metallb-system", "peer-gone"), Spec: metallb.BGPAdvertisementSpec{Peers: []string{"gone"}}},
		},
	}
	res := Convert(in, Options{})
	if len(res.L2Advertisements) != 1 || !cmp.Equal(res.L2Advertisements[0].Spec.IPAddressPools, []string{"lan"}) {
		t.Errorf("L2Advertisements = %+v, want some-gone with [lan] only", res.L2Advertisements)
	}
	if len(res.BGPAdvertisements) != 0 {
		t.Errorf("BGPAdvertisement naming only a missing peer kept: %+v", res.BGPAdvertisements)
	}
	for _, want := range []struct{ obj, field string }{
		{"L2Advertisement metallb-system/some-gone", "spec.ipAddressPools[1]"},
		{"L2Advertisement metallb-system/all-gone", ""},
		{"BGPAdvertisement metallb-system/peer-gone", ""},
	} {
		if !hasEntry(&res.Report, want.obj, want.field, report.Dropped, "") {
			t.Errorf("no line for %s %s: %v", want.obj, want.field, entries(&res.Report))
		}
	}
}

func TestCommunities(t *testing.T) {
	aliases := []metallb.Community{
		{ObjectMeta: meta("metallb-system", "a"), Spec: metallb.CommunitySpec{Communities: []metallb.CommunityAlias{
			{Name: "no-export", Value: "65535:65281"}, {Name: "twice", Value: "1:1"}, {Name: "bad", Value: "70000:1"},
		}}},
		{ObjectMeta: meta("metallb-system", "b"), Spec: metallb.CommunitySpec{Communities: []metallb.CommunityAlias{
			{Name: "twice", Value: "2:2"},
		}}},
	}
	tests := []struct {
		name        string
		communities []string
		want        []string // nil: the advertisement is left out
		reason      string
	}{
		{name: "alias and literal", communities: []string{"no-export", "64512:1", "large:1:2:3"}, want: []string{"65535:65281", "64512:1", "large:1:2:3"}},
		{name: "an alias and its value are one community", communities: []string{"no-export", "65535:65281"}, want: []string{"65535:65281"}},
		{name: "unknown alias", communities: []string{"no-advertise"}, reason: `defines alias "no-advertise"`},
		{name: "alias of two values", communities: []string{"twice"}, reason: "different values"},
		{name: "alias to an invalid value", communities: []string{"bad"}, reason: "out of range"},
		{name: "reserved large community", communities: []string{"large:4294967295:1:1"}, reason: "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := metallb.Set{
				Pools:       []metallb.IPAddressPool{pool("metallb-system", "lan", "192.0.2.0/28")},
				Communities: aliases,
				BGPAdvertisements: []metallb.BGPAdvertisement{{ObjectMeta: meta("metallb-system", "adv"),
					Spec: metallb.BGPAdvertisementSpec{Communities: tt.communities}}},
			}
			res := Convert(in, Options{})
			if tt.want == nil {
				if len(res.BGPAdvertisements) != 0 {
					t.Fatalf("advertisement kept: %+v", res.BGPAdvertisements[0].Spec)
				}
				if !hasEntry(&res.Report, "BGPAdvertisement metallb-system/adv", "spec.communities[0]", report.Dropped, tt.reason) {
					t.Errorf("no line saying %q: %v", tt.reason, res.Report.Entries)
				}
				return
			}
			if len(res.BGPAdvertisements) != 1 {
				t.Fatalf("advertisement left out: %v", res.Report.Entries)
			}
			if diff := cmp.Diff(tt.want, res.BGPAdvertisements[0].Spec.Communities); diff != "" {
				t.Errorf("communities (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		in, want string // want "": dropped
		note     string
	}{
		{in: "192.0.2.0/28", want: "192.0.2.0/28"},
		{in: "192.0.2.5/28", want: "192.0.2.0/28", note: "host bits"},
		{in: " 198.51.100.10 - 198.51.100.20 ", want: "198.51.100.10-198.51.100.20", note: "without spaces"},
		{in: "203.0.113.7", want: "203.0.113.7/32", note: "single address"},
		{in: "2001:db8::1", want: "2001:db8::1/128", note: "single address"},
		{in: "127.0.0.0/30", note: "loopback"},
		{in: "198.51.100.20-198.51.100.10", note: "reversed"},
		{in: "not-an-address", note: "not an IP address"},
	}
	for _, tt := range tests {
		got, note, err := normalizeAddress(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("normalizeAddress(%q) = %q, want an error", tt.in, got)
		case tt.want == "" && !strings.Contains(err.Error(), tt.note):
			t.Errorf("normalizeAddress(%q) error %q, want it to say %q", tt.in, err, tt.note)
		case tt.want != "" && (err != nil || got != tt.want || !strings.Contains(note, tt.note) || (tt.note == "") != (note == "")):
			t.Errorf("normalizeAddress(%q) = %q, %q, %v; want %q with a note saying %q", tt.in, got, note, err, tt.want, tt.note)
		}
	}
}

// What IronLB's admission would refuse is left out, with its words.
func TestAdmission(t *testing.T) {
	in := metallb.Set{
		Pools: []metallb.IPAddressPool{
			pool("metallb-system", "first", "192.0.2.0/28"),
			pool("metallb-system", "second", "192.0.2.8/29", "198.51.100.0/28"),
			pool("metallb-system", "third", "192.0.2.0/30"),
			pool("metallb-system", "negative", "203.0.113.0/28"),
		},
		Peers: []metallb.BGPPeer{peer("metallb-system", "as-trans", "198.51.100.1")},
		BGPAdvertisements: []metallb.BGPAdvertisement{{ObjectMeta: meta("metallb-system", "wide"),
			Spec: metallb.BGPAdvertisementSpec{AggregationLength: ptr.To[int32](24), IPAddressPools: []string{"first"}}}},
	}
	in.Pools[3].Spec.ServiceAllocation = &metallb.ServiceAllocation{Priority: -1}
	in.Peers[0].Spec.PeerASN = 23456
	res := Convert(in, Options{})
	if diff := cmp.Diff([]string{"first", "second", "negative"}, poolNames(&res)); diff != "" {
		t.Errorf("pools (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"198.51.100.0/28"}, res.Pools[1].Spec.Addresses); diff != "" {
		t.Errorf("second's addresses (-want +got):\n%s", diff)
	}
	if res.Pools[2].Spec.ServiceAllocation.Priority != nil {
		t.Errorf("negative priority carried over")
	}
	if len(res.Peers) != 0 || len(res.BGPAdvertisements) != 0 {
		t.Errorf("peers %v, BGP advertisements %v: want none", res.Peers, res.BGPAdvertisements)
	}
	for _, want := range []struct{ obj, field, reason string }{
		{"IPAddressPool metallb-system/second", "spec.addresses[0]", `overlaps "192.0.2.0/28" of IPAddressPool "first"`},
		{"IPAddressPool metallb-system/third", "spec.addresses[0]", "overlaps"},
		{"IPAddressPool metallb-system/third", "", "the pool is left out"},
		{"IPAddressPool metallb-system/negative", "spec.serviceAllocation.priority", "start at 0"},
		{"BGPPeer metallb-system/as-trans", "spec.peerASN", "AS_TRANS"},
		{"BGPAdvertisement metallb-system/wide", "spec.aggregationLength", "outside"},
	} {
		outcome := report.Dropped
		if !hasEntry(&res.Report, want.obj, want.field, outcome, want.reason) {
			t.Errorf("no line %s %s saying %q:\n%s", want.obj, want.field, want.reason, strings.Join(entries(&res.Report), "\n"))
		}
	}
}

func TestPasswords(t *testing.T) {
	inline := peer("metallb-system", "inline", "198.51.100.1")
	inline.Spec.Password = "s3cret"
	ref := peer("metallb-system", "ref", "198.51.100.2")
	ref.Spec.PasswordSecret = metallb.SecretReference{Name: "tor"}
	res := Convert(metallb.Set{Peers: []metallb.BGPPeer{inline, ref}}, Options{SecretNamespace: "bgp-secrets"})
	if len(res.Secrets) != 1 || res.Secrets[0].Namespace != "bgp-secrets" || string(res.Secrets[0].Data["password"]) != "s3cret" {
		t.Fatalf("secrets = %+v", res.Secrets)
	}
	want := []*v1beta1.SecretKeyRef{
		{Name: res.Secrets[0].Name, Namespace: "bgp-secrets", Key: "password"},
		{Name: "tor", Namespace: "bgp-secrets", Key: "password"},
	}
	got := []*v1beta1.SecretKeyRef{res.Peers[0].Spec.PasswordSecret, res.Peers[1].Spec.PasswordSecret}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("password secrets (-want +got):\n%s", diff)
	}
	if !hasEntry(&res.Report, "BGPPeer metallb-system/ref", "spec.passwordSecret", report.Action, "copy Secret metallb-system/tor to namespace bgp-secrets") {
		t.Errorf("no copy line: %v", res.Report.Entries)
	}
	for _, e := range res.Report.Entries {
		if strings.Contains(e.String(), "s3cret") {
			t.Errorf("the report shows the password: %s", e)
		}
	}
}

// --- Services ---

type svcOpt func(*corev1.Service)

func lbService(ns, name string, ips []string, opts ...svcOpt) corev1.Service {
	svc := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1700000000, 0))},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeLoadBalancer,
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80}},
		},
	}
	for _, ip := range ips {
		svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	for _, o := range opts {
		o(&svc)
	}
	return svc
}

func annotated(k, v string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
}

func port(p int32) svcOpt {
	return func(s *corev1.Service) { s.Spec.Ports = []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: p}} }
}

func dualStack(s *corev1.Service) {
	s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
}

func TestCheckServices(t *testing.T) {
	pools := []metallb.IPAddressPool{pool("metallb-system", "lan", "192.0.2.0/28", "2001:db8:1::/64")}
	class := v1beta1.ClassFilter{Class: v1beta1.DefaultLoadBalancerClass, Default: true}
	tests := []struct {
		name     string
		pools    []metallb.IPAddressPool // default: pools
		services []corev1.Service
		want     []string // "Service ns/name field: outcome"
		reason   string
	}{
		{
			name: "addresses kept: single, dual-stack, shared, asked for",
			services: []corev1.Service{
				lbService("a", "web", []string{"192.0.2.1"}, annotated("metallb.io/ip-allocated-from-pool", "lan")),
				lbService("a", "dual", []string{"192.0.2.2", "2001:db8:1::2"}, dualStack),
				lbService("a", "share-1", []string{"192.0.2.3"}, annotated("metallb.universe.tf/allow-shared-ip", "k")),
				lbService("a", "share-2", []string{"192.0.2.3"}, annotated("metallb.universe.tf/allow-shared-ip", "k"), port(443)),
				lbService("a", "asked", []string{"192.0.2.4"}, func(s *corev1.Service) { s.Spec.LoadBalancerIP = "192.0.2.4" }),
				lbService("a", "pending", nil),
			},
		},
		{
			name:     "address in no pool",
			services: []corev1.Service{lbService("a", "outside", []string{"198.51.100.7"})},
			want:     []string{"Service a/outside status.loadBalancer.ingress: action needed"},
			reason:   "change its addresses to 192.0.2.",
		},
		{
			name: "shared across namespaces without consent",
			services: []corev1.Service{
				lbService("a", "first", []string{"192.0.2.5"}, annotated("metallb.io/allow-shared-ip", "k")),
				lbService("b", "second", []string{"192.0.2.5"}, annotated("metallb.io/allow-shared-ip", "k"), port(443)),
			},
			want:   []string{"Service b/second status.loadBalancer.ingress: action needed"},
			reason: "allow-shared-ip-namespaces",
		},
		{
			name:     "names a pool not carried over",
			services: []corev1.Service{lbService("a", "named", []string{"192.0.2.6"}, annotated("metallb.universe.tf/address-pool", "gone"))},
			want:     []string{"Service a/named status.loadBalancer.ingress: action needed"},
			reason:   "gone",
		},
		{
			name: "in a pool that does not admit it",
			pools: func() []metallb.IPAddressPool {
				p := pool("metallb-system", "team-b", "203.0.113.0/28")
				p.Spec.ServiceAllocation = &metallb.ServiceAllocation{Namespaces: []string{"b"}}
				return append(slices.Clone(pools), p)
			}(),
			services: []corev1.Service{lbService("a", "stray", []string{"203.0.113.1"})},
			want:     []string{"Service a/stray status.loadBalancer.ingress: action needed"},
			reason:   "change its addresses to 192.0.2.",
		},
		{
			name: "another class",
			services: []corev1.Service{
				lbService("a", "metallb-class", []string{"192.0.2.7"}, func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To("metallb.io/metallb") }),
				lbService("a", "elsewhere", []string{"198.51.100.9"}, func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To("other.example/lb") }),
			},
			want:   []string{"Service a/metallb-class spec.loadBalancerClass: action needed"},
			reason: "--load-balancer-class=metallb.io/metallb",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := metallb.Set{Pools: pools}
			if tt.pools != nil {
				in.Pools = tt.pools
			}
			res := Convert(in, Options{})
			if err := CheckServices(context.Background(), &res, tt.services, nil, class); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries(&res.Report) {
				if strings.HasPrefix(e, "Service ") {
					got = append(got, e)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Service lines (-want +got):\n%s\nreport: %v", diff, res.Report.Entries)
			}
			if tt.reason != "" && !strings.Contains(res.Report.Sorted()[len(res.Report.Entries)-1].Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", res.Report.Sorted()[len(res.Report.Entries)-1].Reason, tt.reason)
			}
		})
	}
}

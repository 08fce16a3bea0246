//go:build lab

package chart

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// warnings collects the API server's Warning headers.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

func dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

// Every webhook rule, through the API server: the object is sent by a
// client, the API server calls the controller's webhook over TLS (the
// Service, its EndpointSlice, the CA the controller injected), and the
// client sees the webhook's verdict naming the field and the bad value.
// Rules the CRD schema already enforces (CEL) never reach the webhook and
// are tested with the API types, not here.
func TestWebhooks(t *testing.T) {
	runningController(t)
	s := installed(t)
	ctx := context.Background()
	warn := &warnings{}
	cfg := rest.CopyConfig(s.cfg)
	cfg.WarningHandler = warn
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	create := func(t *testing.T, obj client.Object) {
		t.Helper()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %s: %v", obj.GetName(), err)
		}
		t.Cleanup(func() { _ = s.admin.Delete(ctx, obj) })
	}
	poolOf := func(name string, addrs ...string) *v1beta1.IPAddressPool {
		return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
	}
	peerOf := func(name string, edit func(*v1beta1.BGPPeerSpec)) *v1beta1.BGPPeer {
		p := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPPeerSpec{
			MyASN: 64513, PeerASN: 64512, PeerAddress: "198.51.100.1",
		}}
		edit(&p.Spec)
		return p
	}
	create(t, poolOf("wh-lan", "192.0.2.128/27", "2001:db8:7::/64"))
	create(t, peerOf("wh-router", func(*v1beta1.BGPPeerSpec) {}))

	const (
		poolHook = `admission webhook "ipaddresspools.validate.ironlb.io" denied the request: `
		l2Hook   = `admission webhook "l2advertisements.validate.ironlb.io" denied the request: `
		bgpHook  = `admission webhook "bgpadvertisements.validate.ironlb.io" denied the request: `
		peerHook = `admission webhook "bgppeers.validate.ironlb.io" denied the request: `
	)
	tests := []struct {
		name string
		obj  client.Object
		want string // "" = admitted
	}{
		{"pool: valid, both families", poolOf("wh-ok", "198.51.100.0/28", "2001:db8:8::1-2001:db8:8::ff"), ""},
		{"pool: reversed range", poolOf("wh-reversed", "203.0.113.64/28", "198.51.100.20-198.51.100.10"),
			poolHook + `IPAddressPool.ironlb.io "wh-reversed" is invalid: spec.addresses[1]: Invalid value: "198.51.100.20-198.51.100.10": range is reversed: 198.51.100.20 comes after 198.51.100.10`},
		{"pool: range across families", poolOf("wh-mixed", "198.51.100.30-2001:db8::1"),
			`spec.addresses[0]: Invalid value: "198.51.100.30-2001:db8::1": range mixes IPv4 and IPv6 addresses`},
		{"pool: CIDR that does not parse", poolOf("wh-badcidr", "198.51.100.0/33"),
			`spec.addresses[0]: Invalid value: "198.51.100.0/33": not a valid CIDR`},
		{"pool: host bits set", poolOf("wh-hostbits", "198.51.100.77/28"),
			`spec.addresses[0]: Invalid value: "198.51.100.77/28": host bits are set; the CIDR is 198.51.100.64/28`},
		{"pool: overlaps another pool", poolOf("wh-overlap", "192.0.2.150-192.0.2.170"),
			poolHook + `IPAddressPool.ironlb.io "wh-overlap" is invalid: spec.addresses[0]: Invalid value: "192.0.2.150-192.0.2.170": overlaps "192.0.2.128/27" of IPAddressPool "wh-lan"`},
		{"pool: overlaps another pool in IPv6", poolOf("wh-overlap6", "2001:db8:7::8000/120"),
			`spec.addresses[0]: Invalid value: "2001:db8:7::8000/120": overlaps "2001:db8:7::/64" of IPAddressPool "wh-lan"`},
		{"pool: overlaps itself", poolOf("wh-self", "203.0.113.128/28", "203.0.113.130/32"),
			`spec.addresses[1]: Invalid value: "203.0.113.130/32": overlaps spec.addresses[0] ("203.0.113.128/28") of the same pool`},
		{"L2: valid", &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "wh-l2"},
			Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"wh-lan"}}}, ""},
		{"L2: unknown pool", &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "wh-l2-bad"},
			Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"wh-lan", "wh-nope"}}},
			l2Hook + `L2Advertisement.ironlb.io "wh-l2-bad" is invalid: spec.ipAddressPools[1]: Not found: "wh-nope": no IPAddressPool of this name exists; create it first`},
		{"L2: bad node selector", &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "wh-l2-sel"},
			Spec: v1beta1.L2AdvertisementSpec{NodeSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "zone", Operator: "Near"}}}}}},
			`spec.nodeSelectors[0]: Invalid value:`},
		{"BGP: valid", &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "wh-bgp"},
			Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"wh-lan"}, Peers: []string{"wh-router"}, Communities: []string{"64512:100"}}}, ""},
		{"BGP: unknown pool", &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "wh-bgp-pool"},
			Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"wh-gone"}}},
			bgpHook + `BGPAdvertisement.ironlb.io "wh-bgp-pool" is invalid: spec.ipAddressPools[0]: Not found: "wh-gone"`},
		{"BGP: unknown peer", &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "wh-bgp-peer"},
			Spec: v1beta1.BGPAdvertisementSpec{Peers: []string{"wh-router", "wh-router-b"}}},
			`spec.peers[1]: Not found: "wh-router-b": no BGPPeer of this name exists; create it first`},
		{"BGP: community out of range", &v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "wh-bgp-comm"},
			Spec: v1beta1.BGPAdvertisementSpec{Communities: []string{"64512:70000"}}},
			`spec.communities[0]: Invalid value: "64512:70000": part 2 70000 is out of range 0-65535`},
		{"peer: valid with timers and password", peerOf("wh-peer-ok", func(s *v1beta1.BGPPeerSpec) {
			s.HoldTime, s.KeepaliveTime = dur("9s"), dur("3s")
			s.PasswordSecret = &v1beta1.SecretKeyRef{Name: "peer-secret", Namespace: namespace}
		}), ""},
		{"peer: AS_TRANS", peerOf("wh-peer-astrans", func(s *v1beta1.BGPPeerSpec) { s.PeerASN = 23456 }),
			peerHook + `BGPPeer.ironlb.io "wh-peer-astrans" is invalid: spec.peerASN: Invalid value: 23456: AS 23456 is AS_TRANS`},
		{"peer: reserved ASN", peerOf("wh-peer-reserved", func(s *v1beta1.BGPPeerSpec) { s.MyASN = 65535 }),
			`spec.myASN: Invalid value: 65535: reserved ASN (RFC 7300)`},
		{"peer: hold time in fractions of a second", peerOf("wh-peer-frac", func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("4500ms") }),
			`spec.holdTime: Invalid value: "4.5s": must be a whole number of seconds`},
		{"peer: hold time beyond 65535s", peerOf("wh-peer-long", func(s *v1beta1.BGPPeerSpec) { s.HoldTime = dur("20h") }),
			`spec.holdTime: Invalid value: "20h0m0s": must be at most 65535s`},
		{"peer: keepalive with a zero hold time", peerOf("wh-peer-ka", func(s *v1beta1.BGPPeerSpec) {
			s.HoldTime, s.KeepaliveTime = dur("0s"), dur("10s")
		}), `spec.keepaliveTime: Invalid value: "10s": must be 0 when spec.holdTime is 0`},
		{"peer: keepalive not below the default hold time", peerOf("wh-peer-ka2", func(s *v1beta1.BGPPeerSpec) { s.KeepaliveTime = dur("2m") }),
			`spec.keepaliveTime: Invalid value: "2m0s": must be less than the hold time (1m30s)`},
		{"peer: source address of another family", peerOf("wh-peer-src", func(s *v1beta1.BGPPeerSpec) { s.SourceAddress = "2001:db8::2" }),
			`spec.sourceAddress: Invalid value: "2001:db8::2": is not of the same family as spec.peerAddress "198.51.100.1"`},
		{"peer: multicast address", peerOf("wh-peer-mc", func(s *v1beta1.BGPPeerSpec) { s.PeerAddress = "224.0.0.5" }),
			`spec.peerAddress: Invalid value: "224.0.0.5": must be a unicast address`},
		{"peer: bad password Secret name", peerOf("wh-peer-secret", func(s *v1beta1.BGPPeerSpec) {
			s.PasswordSecret = &v1beta1.SecretKeyRef{Name: "Peer_Secret", Namespace: namespace}
		}), `spec.passwordSecret.name: Invalid value: "Peer_Secret": a lowercase RFC 1123 subdomain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Create(ctx, tt.obj)
			if err == nil {
				t.Cleanup(func() { _ = s.admin.Delete(ctx, tt.obj) })
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("rejected a valid object: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("admitted, want rejected with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("rejected with\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
		})
	}

	t.Run("pool: an update that overlaps is rejected", func(t *testing.T) {
		p := poolOf("wh-grow", "203.0.113.192/28")
		create(t, p)
		// A patch, not an update: the controller is writing its finalizer
		// and status meanwhile.
		before := p.DeepCopy()
		p.Spec.Addresses = append(p.Spec.Addresses, "192.0.2.140/32")
		err := c.Patch(ctx, p, client.MergeFrom(before))
		want := `spec.addresses[1]: Invalid value: "192.0.2.140/32": overlaps "192.0.2.128/27" of IPAddressPool "wh-lan"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("update: got %v, want it to contain %q", err, want)
		}
	})

	t.Run("pool: a label change is admitted", func(t *testing.T) {
		p := poolOf("wh-lan")
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"tier":"prod"}}}`))
		if err := c.Patch(ctx, p, patch); err != nil {
			t.Errorf("label update rejected: %v", err)
		}
	})

	t.Run("peer: eBGP multihop on iBGP is admitted with a warning", func(t *testing.T) {
		warn.take()
		create(t, peerOf("wh-peer-ibgp", func(s *v1beta1.BGPPeerSpec) { s.PeerASN, s.EBGPMultiHop = 64513, true }))
		got := strings.Join(warn.take(), "\n")
		if want := "spec.ebgpMultiHop has no effect on an iBGP session"; !strings.Contains(got, want) {
			t.Errorf("warnings %q, want one containing %q", got, want)
		}
	})
}

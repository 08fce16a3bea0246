package layer2

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// pool is a pool as the speaker reads it, Ready or not.
func pool(name string, ready bool, cidrs ...string) announce.Pool {
	p := announce.Pool{Name: name, NotReady: !ready}
	for _, c := range cidrs {
		r, err := iprange.Parse(c)
		if err != nil {
			panic(err)
		}
		p.Entries = append(p.Entries, announce.Entry{Range: r, Text: c})
	}
	return p
}

// service is a Service holding ip, with the pool the controller recorded
// ("" for none).
func service(name, ip, recorded string) announce.Service {
	return announce.Service{Key: "ns/" + name, IPs: []netip.Addr{netip.MustParseAddr(ip)}, Pool: recorded}
}

// The advertisements an owned address's problem is shown on are the ones
// the decision announced it under: with each advertisement naming its own
// interface, the interfaces of those it is attributed to are exactly the
// interfaces the decision gives the address. The recorded pool comes first
// when it holds the address, else a Ready pool, never a pool that is not
// Ready; an advertisement whose nodeSelectors leave the node out is never
// blamed.
func TestL2OwnersAgreeWithTheDecision(t *testing.T) {
	pools := []announce.Pool{
		pool("a", true, "192.0.2.0/28"),
		pool("b", true, "198.51.100.0/28"),
		// Overlaps a, not Ready, sorts first: only a Service recorded on it
		// puts an address in it.
		pool("0-overlap", false, "192.0.2.0/24"),
	}
	svcs := []announce.Service{
		service("in-a", "192.0.2.1", "a"),
		service("unrecorded", "192.0.2.2", ""),
		service("recorded-elsewhere", "192.0.2.3", "b"),
		service("recorded-on-overlap", "192.0.2.4", "0-overlap"),
		service("in-b", "198.51.100.1", "b"),
		service("overlap-only", "192.0.2.200", "0-overlap"),
	}
	adv := func(name, iface string, pools ...string) v1beta1.L2Advertisement {
		return v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: pools, Interfaces: []string{iface}}}
	}
	otherRack := adv("other-rack", "eth9", "a")
	otherRack.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"rack": "r2"}}}
	advs := []v1beta1.L2Advertisement{
		adv("for-a", "eth1", "a"), adv("for-b", "eth2", "b"), adv("for-overlap", "eth3", "0-overlap"),
		adv("for-a-too", "eth4", "a"), otherRack,
	}
	// Node n1: live, Ready, labelled rack=r1.
	in := announce.Input{
		Nodes:    []announce.Node{{Name: "n1", Labels: map[string]string{"rack": "r1"}, Ready: true}},
		Live:     map[string]bool{"n1": true},
		Pools:    pools,
		Services: svcs,
	}
	for i := range advs {
		in.L2Advertisements = append(in.L2Advertisements, parse(&advs[i]).adv)
	}
	res := announce.Compute(in)
	owned := res.L2Owned("n1")
	p := &Protocol{}
	p.applied.Store(&appliedDecision{result: res, node: "n1"})
	owners := map[netip.Addr][]string{}
	for ip := range owned {
		owners[ip] = p.advertisementsOf(ip)
	}

	ifaceOf := map[string]string{}
	for _, a := range advs {
		ifaceOf[a.Name] = a.Spec.Interfaces[0]
	}
	if len(owned) != len(svcs) {
		t.Fatalf("decision owns %v, want the %d addresses", owned, len(svcs))
	}
	for ip, want := range owned {
		var got []string
		for _, name := range owners[ip] {
			got = append(got, ifaceOf[name])
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s attributed to %v: interfaces (-decision +attributed):\n%s", ip, owners[ip], diff)
		}
	}
	if got := owners[netip.MustParseAddr("192.0.2.4")]; !slices.Equal(got, []string{"for-overlap"}) {
		t.Errorf("192.0.2.4, recorded on the overlapping pool that holds it, attributed to %v", got)
	}
}

func TestNodeEntryIsBounded(t *testing.T) {
	var ips []netip.Addr
	reasons := map[netip.Addr]string{}
	for i := range 20 {
		ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		ips = append(ips, ip)
		reasons[ip] = "why " + ip.String()
	}
	reasons[ips[0]] = strings.Repeat("ü", maxReasonLen) // two bytes each: cut inside one
	e := nodeEntry("n1", ips, reasons)
	if len(e.Unannounced) != v1beta1.MaxUnannouncedListed || e.MoreUnannounced != 20-v1beta1.MaxUnannouncedListed {
		t.Fatalf("entry lists %d and counts %d more, want %d and %d", len(e.Unannounced), e.MoreUnannounced,
			v1beta1.MaxUnannouncedListed, 20-v1beta1.MaxUnannouncedListed)
	}
	if e.Unannounced[1] != (v1beta1.UnannouncedAddress{IP: "192.0.2.1", Reason: "why 192.0.2.1"}) {
		t.Errorf("second item %+v", e.Unannounced[1])
	}
	if r := e.Unannounced[0].Reason; len(r) > maxReasonLen || !strings.HasSuffix(r, "ü...") {
		t.Errorf("long reason not cut to %d bytes on a character boundary: %d bytes, ends %q", maxReasonLen, len(r), r[len(r)-8:])
	}
	if e := nodeEntry("n1", nil, nil); len(e.Unannounced) != 0 || e.MoreUnannounced != 0 {
		t.Errorf("entry for nothing: %+v", e)
	}
}

// Announced is False while a live node's entry lists an address: the message
// spells out the first maxMessageAddresses (address, node, reason), counts
// the rest, including those an entry only counts, and says what to change.
// The entry of a node that is not live is being removed and counts for
// nothing. With no entries it is True. ObservedGeneration is the object's.
func TestAnnouncedCondition(t *testing.T) {
	entry := func(node string, more int32, ips ...string) v1beta1.L2NodeStatus {
		e := v1beta1.L2NodeStatus{Node: node, MoreUnannounced: more}
		for _, ip := range ips {
			e.Unannounced = append(e.Unannounced, v1beta1.UnannouncedAddress{IP: ip, Reason: "no eth0"})
		}
		return e
	}
	live := map[string]bool{"a": true, "b": true}
	c := announcedCondition(7, []v1beta1.L2NodeStatus{
		entry("gone", 0, "192.0.2.50"),
		entry("b", 10, "192.0.2.20", "192.0.2.21", "192.0.2.22", "192.0.2.23"),
		entry("a", 0, "192.0.2.10", "192.0.2.11"),
	}, live)
	wantMsg := "192.0.2.10 on a: no eth0; 192.0.2.11 on a: no eth0; 192.0.2.20 on b: no eth0; 192.0.2.21 on b: no eth0; " +
		"192.0.2.22 on b: no eth0; and 11 more (status.nodes lists them by node). Nobody answers ARP/NDP for these addresses: " +
		"bring the node's interface on their network up, or name one that is up in spec.interfaces"
	want := metav1.Condition{Type: "Announced", Status: metav1.ConditionFalse, Reason: "NoInterface", Message: wantMsg, ObservedGeneration: 7}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("condition (-want +got):\n%s", diff)
	}

	c = announcedCondition(8, []v1beta1.L2NodeStatus{entry("gone", 0, "192.0.2.50")}, live)
	if c.Status != metav1.ConditionTrue || c.Reason != "AllAnnounced" || c.ObservedGeneration != 8 {
		t.Errorf("only a gone node's entry: %+v, want True", c)
	}
	if c := announcedCondition(1, nil, live); c.Status != metav1.ConditionTrue {
		t.Errorf("no entries: %+v, want True", c)
	}
}

// unannouncedByAdvertisement reports an address on every advertisement
// owning it, sorted, and drops an address that is no longer owned (the
// announcer has not rescanned since).
func TestUnannouncedByAdvertisement(t *testing.T) {
	ip := netip.MustParseAddr
	owners := map[netip.Addr][]string{
		ip("192.0.2.10"): {"x", "y"},
		ip("192.0.2.2"):  {"x"},
		ip("192.0.2.3"):  {"y"},
	}
	got := unannouncedByAdvertisement(func(a netip.Addr) []string { return owners[a] }, map[netip.Addr]string{
		ip("192.0.2.10"): "r", ip("192.0.2.2"): "r", ip("192.0.2.99"): "no longer owned",
	})
	want := map[string][]netip.Addr{"x": {ip("192.0.2.2"), ip("192.0.2.10")}, "y": {ip("192.0.2.10")}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

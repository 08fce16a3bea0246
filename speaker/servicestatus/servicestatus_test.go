package servicestatus

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// A cluster of three ready nodes, one pool 192.0.2.0/28 + 2001:db8::/120,
// announced at layer 2 on eth0 and by BGP from every node.
func decision(t *testing.T, svcs ...announce.Service) announce.Result {
	t.Helper()
	in := announce.Input{Live: map[string]bool{"node-a": true, "node-b": true, "node-c": true}}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		in.Nodes = append(in.Nodes, announce.Node{Name: n, Ready: true, Labels: map[string]string{"kubernetes.io/hostname": n}})
	}
	var entries []announce.Entry
	for _, e := range []string{"192.0.2.0/28", "2001:db8::/120"} {
		r, err := iprange.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, announce.Entry{Range: r})
	}
	in.Pools = []announce.Pool{{Name: "lan", Entries: entries}}
	in.L2Advertisements = []announce.L2Advertisement{{Name: "lan", Pools: announce.PoolSelector{Names: []string{"lan"}}, Interfaces: []string{"eth0"}}}
	in.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "lan", Pools: announce.PoolSelector{Names: []string{"lan"}}}}
	in.Services = svcs
	return announce.Compute(in)
}

func svc(key string, ips ...string) announce.Service {
	s := announce.Service{Key: key, Pool: "lan"}
	for _, ip := range ips {
		s.IPs = append(s.IPs, netip.MustParseAddr(ip))
	}
	return s
}

func all(string) bool { return true }

// samePeers gives every node the peers r1 and r2, node-c only r1.
func samePeers(node string, _ netip.Addr) []string {
	if node == "node-c" {
		return []string{"r1"}
	}
	return []string{"r1", "r2"}
}

func TestDesired(t *testing.T) {
	res := decision(t, svc("ns/web", "2001:db8::1", "192.0.2.1"), svc("ns/db", "192.0.2.2"))
	got := Desired(res, func(k string) bool { return k == "ns/web" }, samePeers)
	a4, _ := res.L2At(netip.MustParseAddr("192.0.2.1"))
	a6, _ := res.L2At(netip.MustParseAddr("2001:db8::1"))
	l2v4, l2v6 := a4.Node, a6.Node
	nodes := []string{"node-a", "node-b", "node-c"}
	groups := []v1beta1.BGPPeerGroup{{Peers: []string{"r1", "r2"}, Nodes: []string{"node-a", "node-b"}}, {Peers: []string{"r1"}, Nodes: []string{"node-c"}}}
	l2Nodes := l2v4
	if l2v6 != l2v4 {
		l2Nodes = min(l2v4, l2v6) + "," + max(l2v4, l2v6)
	}
	want := map[string]v1beta1.ServiceAnnouncementStatus{"ns/web": {
		IPs: "192.0.2.1,2001:db8::1", Layer2Nodes: l2Nodes, BGPNodes: 3,
		Layer2: []v1beta1.L2AddressAnnouncement{
			{IP: "192.0.2.1", Node: l2v4, Interfaces: []string{"eth0"}},
			{IP: "2001:db8::1", Node: l2v6, Interfaces: []string{"eth0"}},
		},
		BGP: []v1beta1.BGPAddressAnnouncement{
			{IP: "192.0.2.1", Nodes: nodes, AdvertisedTo: groups},
			{IP: "2001:db8::1", Nodes: nodes, AdvertisedTo: groups},
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Desired (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"ns/web": true, "ns/db": true}, Announced(res)); diff != "" {
		t.Errorf("Announced (-want +got):\n%s", diff)
	}
}

func TestDesiredNodeWithoutPeers(t *testing.T) {
	res := decision(t, svc("ns/web", "192.0.2.1"))
	got := Desired(res, all, func(string, netip.Addr) []string { return nil })
	want := []v1beta1.BGPPeerGroup{{Nodes: []string{"node-a", "node-b", "node-c"}}}
	if diff := cmp.Diff(want, got["ns/web"].BGP[0].AdvertisedTo); diff != "" {
		t.Errorf("AdvertisedTo (-want +got):\n%s", diff)
	}
}

func TestPlan(t *testing.T) {
	st := func(node string) v1beta1.ServiceAnnouncementStatus {
		return v1beta1.ServiceAnnouncementStatus{IPs: "192.0.2.1", Layer2Nodes: node,
			Layer2: []v1beta1.L2AddressAnnouncement{{IP: "192.0.2.1", Node: node}}}
	}
	mineOnly := func(keys ...string) func(string) bool {
		return func(k string) bool {
			for _, m := range keys {
				if m == k {
					return true
				}
			}
			return false
		}
	}
	svcs := map[string]types.UID{"ns/a": "svc-a", "ns/b": "svc-b"}
	tests := []struct {
		name      string
		want      map[string]v1beta1.ServiceAnnouncementStatus
		announced []string
		mine      func(string) bool
		stored    map[string]Stored
		services  map[string]types.UID
		writes    []Write
	}{{
		name: "nothing announced, nothing stored: no write",
		mine: all,
	}, {
		name:      "new Service: create owned by it",
		want:      map[string]v1beta1.ServiceAnnouncementStatus{"ns/a": st("node-a")},
		announced: []string{"ns/a"}, mine: all, services: svcs,
		writes: []Write{{Action: Create, Key: "ns/a", UID: "svc-a", Status: st("node-a")}},
	}, {
		name:      "resync: stored equals wanted, no write",
		want:      map[string]v1beta1.ServiceAnnouncementStatus{"ns/a": st("node-a")},
		announced: []string{"ns/a"}, mine: all, services: svcs,
		stored: map[string]Stored{"ns/a": {UID: "obj-a", Owner: "svc-a", Status: st("node-a")}},
	}, {
		name:      "failover: status rewritten",
		want:      map[string]v1beta1.ServiceAnnouncementStatus{"ns/a": st("node-b")},
		announced: []string{"ns/a"}, mine: all, services: svcs,
		stored: map[string]Stored{"ns/a": {UID: "obj-a", Owner: "svc-a", Status: st("node-a")}},
		writes: []Write{{Action: Update, Key: "ns/a", UID: "obj-a", Status: st("node-b")}},
	}, {
		name:      "no longer announced, mine: deleted",
		announced: nil, mine: all, services: svcs,
		stored: map[string]Stored{"ns/a": {UID: "obj-a", Owner: "svc-a", Status: st("node-a")}},
		writes: []Write{{Action: Delete, Key: "ns/a", UID: "obj-a"}},
	}, {
		name:      "no longer announced, another's: left to it",
		announced: nil, mine: mineOnly("ns/b"), services: svcs,
		stored: map[string]Stored{"ns/a": {UID: "obj-a", Owner: "svc-a", Status: st("node-a")}},
	}, {
		name:      "announced, another's and stale: left to it",
		want:      map[string]v1beta1.ServiceAnnouncementStatus{"ns/b": st("node-b")},
		announced: []string{"ns/a", "ns/b"}, mine: mineOnly("ns/b"), services: svcs,
		stored: map[string]Stored{
			"ns/a": {UID: "obj-a", Owner: "svc-a", Status: st("node-c")},
			"ns/b": {UID: "obj-b", Owner: "svc-b", Status: st("node-b")},
		},
	}, {
		name:      "Service recreated under the same name: old object deleted",
		want:      map[string]v1beta1.ServiceAnnouncementStatus{"ns/a": st("node-a")},
		announced: []string{"ns/a"}, mine: all, services: svcs,
		stored: map[string]Stored{"ns/a": {UID: "obj-a", Owner: "old-svc-a", Status: st("node-a")}},
		writes: []Write{{Action: Delete, Key: "ns/a", UID: "obj-a"}},
	}, {
		name:      "Service not in the cache yet: no create",
		want:      map[string]v1beta1.ServiceAnnouncementStatus{"ns/c": st("node-a")},
		announced: []string{"ns/c"}, mine: all, services: svcs,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			announced := map[string]bool{}
			for _, k := range tc.announced {
				announced[k] = true
			}
			got := Plan(tc.want, announced, tc.mine, tc.stored, tc.services)
			if diff := cmp.Diff(tc.writes, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriterVector pins the writer rule: speakers of different versions
// must pick the same writer.
func TestWriterVector(t *testing.T) {
	live := []string{"node-a", "node-b", "node-c"}
	got := map[string]string{}
	for _, k := range []string{"default/web", "default/db", "prod/api"} {
		got[k] = Writer(k, live)
	}
	want := map[string]string{"default/web": "node-c", "default/db": "node-b", "prod/api": "node-c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Writer (-want +got):\n%s", diff)
	}
	if w := Writer("default/web", nil); w != "" {
		t.Errorf("Writer with no live speaker = %q, want none", w)
	}
}

// TestWriterSpreadAndStability: writes spread over the speakers, and a
// speaker leaving moves only the Services it wrote.
func TestWriterSpreadAndStability(t *testing.T) {
	live := []string{"node-a", "node-b", "node-c", "node-d"}
	count := map[string]int{}
	before := map[string]string{}
	for i := range 4000 {
		k := fmt.Sprintf("ns/svc-%d", i)
		before[k] = Writer(k, live)
		count[before[k]]++
	}
	for n, c := range count {
		if c < 800 || c > 1200 {
			t.Errorf("%s writes %d of 4000 Services, want about 1000", n, c)
		}
	}
	for k, was := range before {
		now := Writer(k, live[1:])
		if was != "node-a" && now != was {
			t.Fatalf("%s moved from %s to %s when node-a left", k, was, now)
		}
	}
}

package servicestatus

import (
	"fmt"
	"net/netip"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/speaker/announce"
)

// BenchmarkResync is one speaker of 100 handling a decision for 5,000
// Services announced at layer 2 and by BGP from every node, when nothing
// changed: its share of the objects is built and compared, and nothing is
// written.
func BenchmarkResync(b *testing.B) {
	const nodes, services = 100, 5000
	in := announce.Input{Live: map[string]bool{}}
	var live []string
	for i := range nodes {
		n := fmt.Sprintf("node-%03d", i)
		in.Nodes = append(in.Nodes, announce.Node{Name: n, Ready: true})
		in.Live[n] = true
		live = append(live, n)
	}
	r, _ := iprange.Parse("2001:db8::/112")
	in.Pools = []announce.Pool{{Name: "lan", Entries: []announce.Entry{{Range: r}}}}
	in.L2Advertisements = []announce.L2Advertisement{{Name: "lan"}}
	in.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "lan"}}
	uids := map[string]types.UID{}
	for i := range services {
		key := fmt.Sprintf("ns/svc-%d", i)
		in.Services = append(in.Services, announce.Service{Key: key, Pool: "lan",
			IPs: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1))}})
		uids[key] = types.UID(key)
	}
	res := announce.Compute(in)
	peers := func(string, netip.Addr) []string { return []string{"router"} }
	var w writers
	w.reset(in.Live)
	mine := func(k string) bool { return w.of(k) == live[0] }
	stored := map[string]Stored{}
	for k, st := range Desired(res, func(string) bool { return true }, peers) {
		stored[k] = Stored{UID: "x", Owner: uids[k], Status: st}
	}
	b.ResetTimer()
	for b.Loop() {
		want := Desired(res, mine, peers)
		if writes := Plan(want, Announced(res), mine, stored, uids); len(writes) != 0 {
			b.Fatalf("%d writes on a resync", len(writes))
		}
	}
}

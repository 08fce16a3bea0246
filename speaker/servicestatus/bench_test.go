package servicestatus

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
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

// BenchmarkScaleSyncServices is the ServiceAnnouncement writer's share of
// one Service change at the scale of docs/scale.md (1,000 live speakers,
// 50,000 Services of one address, announced at layer 2 and by BGP from
// every node, every ServiceAnnouncement already written by this writer):
// SyncServices for the two Services a change touches, each the writer's
// own, their metadata read from an in-memory cache and their status from
// the writer's records, their writer known; nothing to write or read from
// the API server.
// BenchmarkScaleServiceChange in
// speaker/ is the rest of the change.
func BenchmarkScaleSyncServices(b *testing.B) {
	const nodes, services = 1000, 50000
	in := announce.Input{Live: map[string]bool{}, WinnerVersion: announce.WinnerV2}
	for i := range nodes {
		n := fmt.Sprintf("worker-%04d", i)
		in.Nodes = append(in.Nodes, announce.Node{Name: n, Ready: true})
		in.Live[n] = true
	}
	in.Pools = []announce.Pool{{Name: "docs", Entries: []announce.Entry{{Range: iprange.FromPrefix(netip.MustParsePrefix("2001:db8::/32"))}}}}
	in.L2Advertisements = []announce.L2Advertisement{{Name: "all"}}
	in.BGPAdvertisements = []announce.BGPAdvertisement{{Name: "all"}}
	c := newMemoryCache()
	for i := range services {
		key := fmt.Sprintf("ns/svc-%05d", i)
		in.Services = append(in.Services, announce.Service{Key: key, Pool: "docs",
			IPs: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1))}})
		c.services[key] = types.UID("uid-" + key)
	}
	c.peers = []v1beta1.BGPPeer{{ObjectMeta: metav1.ObjectMeta{Name: "router", UID: "peer"}}}
	res := announce.Compute(in)
	d := protocol.Decision{Node: "worker-0500", Input: in, Result: res}
	w := New(d.Node)
	w.reader, w.api = c, c
	w.writers.reset(in.Live) // as the last full Sync left it
	// The writer of each Service is known from the last full Sync; a
	// Service new since costs one rendezvous over the live speakers more
	// (BenchmarkScaleWriterOf).
	var mineKeys []string
	for _, s := range in.Services[:10000] {
		if w.writers.of(s.Key) == d.Node {
			mineKeys = append(mineKeys, s.Key)
		}
	}
	if len(mineKeys) < 2 {
		b.Fatalf("this speaker writes %d of 10,000 Services, want a few", len(mineKeys))
	}
	peers, _ := w.peersFunc(context.Background(), d, false)
	stored := map[string]Stored{}
	for _, k := range mineKeys {
		st := Desired(res, func(key string) bool { return key == k }, peers)[k]
		stored[k] = Stored{UID: "sa-" + types.UID(k), Owner: c.services[k], Status: st}
		w.records.put(k, record{Stored: stored[k], version: "1", seen: true})
	}
	c.announcements = stored
	byKey := map[string][]netip.Addr{}
	for _, s := range in.Services {
		byKey[s.Key] = s.IPs
	}
	b.ReportAllocs()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	i := 0
	for b.Loop() {
		a, z := mineKeys[i%len(mineKeys)], mineKeys[(i+1)%len(mineKeys)]
		changed := map[string][]netip.Addr{a: byKey[a], z: byKey[z]}
		if _, err := w.SyncServices(context.Background(), d, changed); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/change")
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := ru.Utime.Nano() + ru.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e3/float64(i), "cpu-µs/change") // the collector's work included
	if c.writes != 0 || c.reads != 0 {
		b.Fatalf("%d writes and %d reads from the API server, want none", c.writes, c.reads)
	}
}

// memoryCache stands in for the informer cache (client.Reader, objects
// shared as with UnsafeDisableDeepCopy; ServiceAnnouncements' metadata
// only, every one at resourceVersion 1) and for the API server, counting
// whole ServiceAnnouncements read and attempted writes.
type memoryCache struct {
	client.Client
	services      map[string]types.UID
	announcements map[string]Stored
	peers         []v1beta1.BGPPeer
	reads, writes int
}

func newMemoryCache() *memoryCache {
	return &memoryCache{services: map[string]types.UID{}, announcements: map[string]Stored{}}
}

func (c *memoryCache) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	k := key.Namespace + "/" + key.Name
	switch o := obj.(type) {
	case *corev1.Service:
		uid, ok := c.services[k]
		if !ok {
			return apierrors.NewNotFound(corev1.Resource("services"), key.Name)
		}
		o.Namespace, o.Name, o.UID = key.Namespace, key.Name, uid
	case *metav1.PartialObjectMetadata:
		st, ok := c.announcements[k]
		if !ok {
			return apierrors.NewNotFound(v1beta1.GroupVersion.WithResource("serviceannouncements").GroupResource(), key.Name)
		}
		o.ObjectMeta = announcementMeta(key, st)
	case *v1beta1.ServiceAnnouncement:
		c.reads++
		st, ok := c.announcements[k]
		if !ok {
			return apierrors.NewNotFound(v1beta1.GroupVersion.WithResource("serviceannouncements").GroupResource(), key.Name)
		}
		o.ObjectMeta, o.Status = announcementMeta(key, st), st.Status
	default:
		return fmt.Errorf("memoryCache: Get of %T", obj)
	}
	return nil
}

func (c *memoryCache) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	switch l := list.(type) {
	case *v1beta1.BGPPeerList:
		l.Items = c.peers
	case *metav1.PartialObjectMetadataList:
		l.Items = nil
		for k, st := range c.announcements {
			l.Items = append(l.Items, metav1.PartialObjectMetadata{ObjectMeta: announcementMeta(keyName(k), st)})
		}
	default:
		return fmt.Errorf("memoryCache: List of %T", list)
	}
	return nil
}

// announcementMeta is the metadata of the object st of key.
func announcementMeta(key client.ObjectKey, st Stored) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, UID: st.UID, ResourceVersion: "1",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", UID: st.Owner}}}
}

// BenchmarkScaleWriterOf is what a Service new to the writer costs on top
// of BenchmarkScaleSyncServices: its writer among 1,000 live speakers.
func BenchmarkScaleWriterOf(b *testing.B) {
	var w writers
	live := map[string]bool{}
	for i := range 1000 {
		live[fmt.Sprintf("worker-%04d", i)] = true
	}
	w.reset(live)
	i := 0
	for b.Loop() {
		w.of(fmt.Sprintf("ns/svc-%d", i))
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/Service")
}

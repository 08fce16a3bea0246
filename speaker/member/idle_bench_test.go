package member_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIdleMembers prints the CPU three members of a cluster use at
// rest (probes, gossip ticks, push-pull), as % of one core per member: the
// memberlist share of a speaker's idle CPU (docs/scale.md, "Idle CPU"). It
// also prints the heap each member allocates per second at rest: in a
// speaker every byte of it is garbage that brings the next collection, and
// each collection marks the whole informer cache.
func BenchmarkIdleMembers(b *testing.B) {
	b.Run("bare", func(b *testing.B) { idleMembers(b, 0) })
	// A speaker's informer cache at 5,000 Services is a live heap of about
	// this size: what each collection has to mark.
	b.Run("live-heap=30MiB", func(b *testing.B) { idleMembers(b, 30<<20) })
}

func idleMembers(b *testing.B, liveHeap int) {
	const window = 20 * time.Second
	cache := liveObjects(liveHeap)
	for b.Loop() {
		ls := cluster(b, "idle", "node-a", "node-b", "node-c")
		time.Sleep(2 * time.Second) // past the joins' push-pulls
		before, sysBefore := processCPU(b)
		heapBefore := heapAllocated()
		time.Sleep(window)
		after, sysAfter := processCPU(b)
		heapAfter := heapAllocated()
		used := after - before
		members := float64(len(ls))
		perMember := float64(used) / float64(window) / members * 100
		allocRate := float64(heapAfter.bytes-heapBefore.bytes) / window.Seconds() / members
		objRate := float64(heapAfter.objects-heapBefore.objects) / window.Seconds() / members
		b.Logf("3 idle members for %v: %v of CPU (system %v), %.2f%% of one core per member; "+
			"%.0f KiB and %.0f objects allocated per second per member; %d collections",
			window, used.Round(time.Millisecond), (sysAfter - sysBefore).Round(time.Millisecond), perMember,
			allocRate/1024, objRate, heapAfter.collections-heapBefore.collections)
		b.ReportMetric(perMember, "cpu-%/member")
		b.ReportMetric(allocRate, "B/s/member")
		b.ReportMetric(objRate, "allocs/s/member")
		for _, l := range ls {
			_ = l.Shutdown()
		}
	}
	runtime.KeepAlive(cache)
	b.ReportMetric(0, "ns/op")
}

// cacheEntry stands for an object of an informer cache: small, and linked
// by pointers the collector has to follow.
type cacheEntry struct {
	next *cacheEntry
	name string
	data [80]byte
}

// liveObjects builds about size bytes of linked entries that stay reachable.
func liveObjects(size int) *cacheEntry {
	var head *cacheEntry
	for range size / 128 { // an entry takes a 128-byte size class
		head = &cacheEntry{next: head, name: "namespace/service"}
	}
	return head
}

// processCPU is the CPU time this process has used: user and system
// together, and system alone.
func processCPU(tb testing.TB) (total, system time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

type heapTotal struct{ bytes, objects, collections uint64 }

// heapAllocated is what this process has allocated on the heap since it
// started, freed or not, and the collections run.
func heapAllocated() heapTotal {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return heapTotal{bytes: ms.TotalAlloc, objects: ms.Mallocs, collections: uint64(ms.NumGC)}
}

package allocator

import (
	"fmt"
	"testing"
	"time"

	"github.com/ironlb/ironlb/api/iprange"
)

// benchSpaces are the pools the benchmarks allocate from. The IPv4 pool is
// the benchmarking range 198.18.0.0/15 (RFC 2544): 131,072 addresses, room
// for the 100,000 allocated plus a batch of 10,000 new ones; nothing here
// touches a network.
var benchSpaces = []struct {
	name string
	pool Pool
	fam  iprange.Family
}{
	{"IPv6-slash64", pool("p", "2001:db8::/64"), iprange.IPv6},
	{"IPv4-slash15", pool("p", "198.18.0.0/15"), iprange.IPv4},
}

var benchAllocated = []int{1_000, 10_000, 100_000}

func benchRequests(prefix string, n int, fam iprange.Family) []Request {
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{Service: fmt.Sprintf("bench/%s-%d", prefix, i), Namespace: "bench", Families: []iprange.Family{fam}}
	}
	return reqs
}

func preallocate(b *testing.B, a *Allocator, reqs []Request) {
	b.Helper()
	for _, req := range reqs {
		if _, err := a.Assign(req); err != nil {
			b.Fatal(err)
		}
	}
}

// clock reports, next to ns/op (wall time), "cpu-ns/op": the process's CPU
// time per operation, GC included. On a busy machine wall time also counts
// time spent waiting for a core; CPU time does not.
type clock struct {
	b        *testing.B
	start    time.Duration
	paused   time.Duration
	excluded time.Duration
	ok       bool
}

func startClock(b *testing.B) *clock {
	b.ReportAllocs()
	b.ResetTimer()
	c := &clock{b: b}
	c.start, c.ok = processCPU()
	return c
}

func (c *clock) pause() {
	c.b.StopTimer()
	c.paused, _ = processCPU()
}

func (c *clock) resume() {
	now, _ := processCPU()
	c.excluded += now - c.paused
	c.b.StartTimer()
}

func (c *clock) stop() {
	c.b.StopTimer()
	if end, ok := processCPU(); ok && c.ok && c.b.N > 0 {
		c.b.ReportMetric(float64(end-c.start-c.excluded)/float64(c.b.N), "cpu-ns/op")
	}
}

// assignBatches assigns b.N new Services. To keep the number allocated in
// the band [n, n+batch) however large b.N gets, each batch's Services are
// released (off the clock) before the next batch reuses their names, so
// later batches draw from released addresses as well as from the cursor.
func assignBatches(b *testing.B, a *Allocator, batch []Request) {
	c := startClock(b)
	for i := range b.N {
		j := i % len(batch)
		if j == 0 && i > 0 {
			c.pause()
			for _, req := range batch {
				a.Release(req.Service)
			}
			c.resume()
		}
		if _, err := a.Assign(batch[j]); err != nil {
			b.Fatal(err)
		}
	}
	c.stop()
}

// BenchmarkAssign measures handing a fresh address to a new Service with
// 1k, 10k or 100k addresses already allocated.
func BenchmarkAssign(b *testing.B) {
	for _, sp := range benchSpaces {
		for _, n := range benchAllocated {
			b.Run(fmt.Sprintf("%s/allocated=%d", sp.name, n), func(b *testing.B) {
				a := newAllocator(b, sp.pool)
				preallocate(b, a, benchRequests("pre", n, sp.fam))
				assignBatches(b, a, benchRequests("new", min(n, 10_000), sp.fam))
			})
		}
	}
}

// BenchmarkAssignDualStack measures a RequireDualStack assignment, two
// fresh addresses, one per family, with 100k dual-stack Services allocated.
func BenchmarkAssignDualStack(b *testing.B) {
	a := newAllocator(b, pool("p", "198.18.0.0/15", "2001:db8::/64"))
	dual := func(prefix string, n int) []Request {
		reqs := benchRequests(prefix, n, iprange.IPv4)
		for i := range reqs {
			reqs[i].Families, reqs[i].Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
		}
		return reqs
	}
	preallocate(b, a, dual("pre", 100_000))
	assignBatches(b, a, dual("new", 10_000))
}

// BenchmarkChurn measures one Release plus one Assign of a Service, which
// then gets a new address, with n addresses allocated throughout.
func BenchmarkChurn(b *testing.B) {
	for _, sp := range benchSpaces {
		for _, n := range benchAllocated {
			b.Run(fmt.Sprintf("%s/allocated=%d", sp.name, n), func(b *testing.B) {
				a := newAllocator(b, sp.pool)
				reqs := benchRequests("pre", n, sp.fam)
				preallocate(b, a, reqs)
				c := startClock(b)
				for i := range b.N {
					req := reqs[i%n]
					a.Release(req.Service)
					if _, err := a.Assign(req); err != nil {
						b.Fatal(err)
					}
				}
				c.stop()
			})
		}
	}
}

// BenchmarkReassign measures the resync path: Assign for a Service that
// already holds its address, with 100k allocated.
func BenchmarkReassign(b *testing.B) {
	for _, sp := range benchSpaces {
		b.Run(sp.name+"/allocated=100000", func(b *testing.B) {
			const n = 100_000
			a := newAllocator(b, sp.pool)
			reqs := benchRequests("pre", n, sp.fam)
			preallocate(b, a, reqs)
			c := startClock(b)
			for i := range b.N {
				if _, err := a.Assign(reqs[i%n]); err != nil {
					b.Fatal(err)
				}
			}
			c.stop()
		})
	}
}

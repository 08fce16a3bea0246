package allocator

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/ironlb/ironlb/api/iprange"
)

// TestConcurrentAssignRelease runs the Service reconciler's pattern, 16
// workers each assigning, re-assigning and releasing its own Services, and
// checks that the end state is consistent. Run with -race.
func TestConcurrentAssignRelease(t *testing.T) {
	a := newAllocator(t, pool("lan", "198.18.0.0/20", "2001:db8::/64")) // RFC 2544 benchmarking space
	const workers, perWorker = 16, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				req := svc(fmt.Sprintf("w%d-s%d", w, i))
				if i%4 == 0 {
					req.Families, req.Policy = []iprange.Family{iprange.IPv4, iprange.IPv6}, RequireDualStack
				}
				first, err := a.Assign(req)
				if err != nil {
					errs <- err
					return
				}
				again, err := a.Assign(req)
				if err != nil || fmt.Sprint(first) != fmt.Sprint(again) {
					errs <- fmt.Errorf("%s: Assign again gave %v, %v; first %v", req.Service, again, err, first)
					return
				}
				if i%3 == 0 {
					a.Release(req.Service)
				}
				_, _ = a.Stats("lan")
				_ = a.Users("lan")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	seen := map[netip.Addr]string{}
	var v4, v6, users int64
	for w := range workers {
		for i := range perWorker {
			name := fmt.Sprintf("default/w%d-s%d", w, i)
			as, ok := a.Lookup(name)
			if ok != (i%3 != 0) {
				t.Fatalf("%s has a lease = %v", name, ok)
			}
			if !ok {
				continue
			}
			users++
			for _, addr := range as.IPs {
				if other, dup := seen[addr]; dup {
					t.Fatalf("%s is held by both %s and %s", addr, other, name)
				}
				seen[addr] = name
				if addr.Is4() {
					v4++
				} else {
					v6++
				}
			}
		}
	}
	st, _ := a.Stats("lan")
	if st.AssignedIPv4 != v4 || st.AssignedIPv6 != v6 || int64(a.Users("lan")) != users {
		t.Errorf("Stats say %d/%d assigned and %d users; leases hold %d/%d and %d", st.AssignedIPv4, st.AssignedIPv6, a.Users("lan"), v4, v6, users)
	}
	if st.AvailableIPv4 != 4096-v4 {
		t.Errorf("available IPv4 = %d, want %d", st.AvailableIPv4, 4096-v4)
	}
}

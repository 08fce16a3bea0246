package announce

import (
	"maps"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func tableAddrs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	a := netip.MustParseAddr("2001:db8::")
	for i := range out {
		a = a.Next()
		out[i] = a
	}
	return out
}

func tableOf(t addrTable[int]) map[netip.Addr]int {
	return maps.Collect(t.all())
}

// TestTableWriterLeavesTheOriginal: a table made from another by a writer
// holds the changes, and the one it started from does not.
func TestTableWriterLeavesTheOriginal(t *testing.T) {
	addrs := tableAddrs(1000)
	w := newTableWriter(addrTable[int]{}, len(addrs))
	want := map[netip.Addr]int{}
	for i, ip := range addrs {
		w.set(ip, i)
		want[ip] = i
	}
	first := w.table()
	w2 := newTableWriter(first, len(addrs))
	w2.set(addrs[0], -1)
	w2.delete(addrs[1])
	w2.delete(netip.MustParseAddr("2001:db8:1::1")) // absent: nothing to do
	second := w2.table()

	if got := tableOf(first); !maps.Equal(got, want) || first.len() != len(want) {
		t.Fatalf("the first table changed: %d entries, want %d", len(got), len(want))
	}
	want[addrs[0]] = -1
	delete(want, addrs[1])
	if got := tableOf(second); !maps.Equal(got, want) || second.len() != len(want) {
		t.Fatalf("the second table holds %d entries, want %d", len(got), len(want))
	}
	if v, ok := second.get(addrs[1]); ok {
		t.Errorf("a deleted address is still there: %d", v)
	}
	shared := 0
	for i := range first.root {
		for j := range first.root[i] {
			if second.root[i] != nil && reflect.ValueOf(first.root[i][j]).UnsafePointer() == reflect.ValueOf(second.root[i][j]).UnsafePointer() {
				shared++
			}
		}
	}
	if shared < tableLeaves-2 {
		t.Errorf("only %d of %d leaves are shared after changing two addresses", shared, tableLeaves)
	}
}

// TestTableWriterEmptiesShards: a leaf left empty is nil, and so is its
// middle index, as in a table built from scratch, so equal tables are
// deeply equal.
func TestTableWriterEmptiesShards(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	w := newTableWriter(addrTable[int]{}, 1)
	w.set(ip, 1)
	one := w.table()
	w = newTableWriter(one, 1)
	w.delete(ip)
	i, _ := leafOf(ip)
	if got := w.table(); got.root == nil || got.root[i] != nil || got.len() != 0 {
		t.Fatalf("the emptied middle index is %v (%d entries), want nil", got.root[i], got.len())
	}
	if _, ok := one.get(ip); !ok {
		t.Fatal("the table it started from lost its entry")
	}
}

// BenchmarkDeciderTableChange is what one Service change costs the
// Result's copy-on-write of one table: two addresses changed in each of
// two tables of 50,000 addresses.
func BenchmarkDeciderTableChange(b *testing.B) {
	addrs := tableAddrs(50001)
	w := newTableWriter(addrTable[L2Announcement]{}, len(addrs))
	for _, ip := range addrs[:50000] {
		w.set(ip, L2Announcement{Node: "worker-0001"})
	}
	l2 := w.table()
	bgp := l2
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		gone, come := addrs[i%50001], addrs[(i+50000)%50001]
		for _, t := range []*addrTable[L2Announcement]{&l2, &bgp} {
			w := newTableWriter(*t, len(addrs))
			w.delete(gone)
			w.set(come, L2Announcement{Node: "worker-0002"})
			*t = w.table()
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed())/float64(time.Microsecond)/float64(i), "µs/change")
}

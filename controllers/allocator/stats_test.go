package allocator

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/ironlb/ironlb/api/iprange"

	"github.com/google/go-cmp/cmp"
)

var bigCmp = cmp.Comparer(func(a, b *big.Int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cmp(b) == 0
})

func bigInt(t testing.TB, s string) *big.Int {
	t.Helper()
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad number %q", s)
	}
	return b
}

func TestStats(t *testing.T) {
	tests := []struct {
		name    string
		pool    Pool
		assign  int // iprange.IPv6 SingleStack services for iprange.IPv6 pools, else iprange.IPv4
		want    PoolStats
		wantV6s string
	}{
		{
			name: "IPv6 /32", pool: pool("p", "2001:db8::/32"),
			wantV6s: "79228162514264337593543950336",
		},
		{
			name: "IPv6 /64 after three allocations", pool: pool("p", "2001:db8::/64"), assign: 3,
			want: PoolStats{AssignedIPv6: 3}, wantV6s: "18446744073709551613",
		},
		{
			name: "IPv6 /3", pool: pool("p", "2000::/3"), assign: 1,
			want: PoolStats{AssignedIPv6: 1}, wantV6s: "42535295865117307932921825928971026431",
		},
		{
			name: "mixed pool", pool: pool("p", "192.0.2.0/28", "198.51.100.10-198.51.100.20", "2001:db8::/120"), assign: 2,
			want: PoolStats{AssignedIPv4: 2, AvailableIPv4: 16 + 11 - 2}, wantV6s: "256",
		},
		{
			name: "every IPv4 address below loopback", pool: pool("p", "1.0.0.0-126.255.255.255"),
			want: PoolStats{AvailableIPv4: 126 << 24}, wantV6s: "0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAllocator(t, tt.pool)
			fam := iprange.IPv4
			if len(tt.pool.Ranges) == 1 && tt.pool.Ranges[0].Family() == iprange.IPv6 {
				fam = iprange.IPv6
			}
			for i := range tt.assign {
				mustAssign(t, a, svc(fmt.Sprint("s", i)).with(func(r *Request) { r.Families = []iprange.Family{fam} }))
			}
			got, ok := a.Stats("p")
			if !ok {
				t.Fatal("Stats found no pool")
			}
			tt.want.AvailableIPv6 = bigInt(t, tt.wantV6s)
			if diff := cmp.Diff(tt.want, got, bigCmp); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := New().Stats("nope"); ok {
		t.Error("Stats of a missing pool reported ok")
	}
}

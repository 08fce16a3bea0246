package validation_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// Each problem with spec.addresses has two wordings, one per audience: the
// admission answer (Field) and the pool's Ready condition (Error).
func TestPoolAddresses(t *testing.T) {
	tests := []struct {
		name      string
		addrs     []string
		wantTexts []string // entries returned
		want      []string // problems: Field, then Error, of each
	}{
		{
			name:      "valid, one entry per family",
			addrs:     []string{"192.0.2.0/28", "2001:db8::/64"},
			wantTexts: []string{"192.0.2.0/28", "2001:db8::/64"},
		},
		{
			name:  "empty",
			addrs: nil,
			want: []string{
				`spec.addresses: Required value: a pool needs at least one CIDR or range`,
				`spec.addresses is empty`,
			},
		},
		{
			name:      "an entry that does not parse is left out",
			addrs:     []string{"192.0.2.0/28", "198.51.100.0/33"},
			wantTexts: []string{"192.0.2.0/28"},
			want: []string{
				`spec.addresses[1]: Invalid value: "198.51.100.0/33": not a valid CIDR`,
				`spec.addresses[1]: Invalid value: "198.51.100.0/33": not a valid CIDR`,
			},
		},
		{
			name:      "an entry overlapping two earlier ones is kept and reported twice",
			addrs:     []string{"203.0.113.0/29", "203.0.113.8/29", "203.0.113.0/28"},
			wantTexts: []string{"203.0.113.0/29", "203.0.113.8/29", "203.0.113.0/28"},
			want: []string{
				`spec.addresses[2]: Invalid value: "203.0.113.0/28": overlaps spec.addresses[0] ("203.0.113.0/29") of the same pool`,
				`spec.addresses[2] "203.0.113.0/28" overlaps spec.addresses[0] "203.0.113.0/29"`,
				`spec.addresses[2]: Invalid value: "203.0.113.0/28": overlaps spec.addresses[1] ("203.0.113.8/29") of the same pool`,
				`spec.addresses[2] "203.0.113.0/28" overlaps spec.addresses[1] "203.0.113.8/29"`,
			},
		},
		{
			name:      "the same numbers in two families do not overlap",
			addrs:     []string{"192.0.2.0/28", "::c000:200/124"},
			wantTexts: []string{"192.0.2.0/28", "::c000:200/124"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, problems := validation.PoolAddresses(tt.addrs)
			var texts, got []string
			for i, e := range entries {
				texts = append(texts, e.Text)
				if tt.addrs[e.Index] != e.Text {
					t.Errorf("entry %d: Index %d does not point at %q", i, e.Index, e.Text)
				}
			}
			for _, p := range problems {
				got = append(got, p.Field().Error(), p.Error())
			}
			if diff := cmp.Diff(tt.wantTexts, texts); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPoolOverlaps(t *testing.T) {
	entries := func(addrs ...string) []validation.Entry {
		e, problems := validation.PoolAddresses(addrs)
		if len(problems) > 0 {
			t.Fatal(problems[0])
		}
		return e
	}
	mine := entries("198.51.100.0/28", "192.0.2.8-192.0.2.23")
	others := []validation.PoolEntries{
		{Name: "lan", Entries: entries("192.0.2.0/28")},
		{Name: "dmz", Entries: entries("2001:db8::/64", "192.0.2.16/28")},
	}
	var got []string
	for _, o := range validation.PoolOverlaps(mine, others) {
		got = append(got, o.Field().Error(), o.Error())
	}
	// In the order of mine, then of the other pools and their entries; the
	// condition's words give ranges in canonical form.
	want := []string{
		`spec.addresses[1]: Invalid value: "192.0.2.8-192.0.2.23": overlaps "192.0.2.0/28" of IPAddressPool "lan": an address may belong to one pool only`,
		`192.0.2.8-192.0.2.23 overlaps 192.0.2.0/28 of pool "lan"; remove one of them`,
		`spec.addresses[1]: Invalid value: "192.0.2.8-192.0.2.23": overlaps "192.0.2.16/28" of IPAddressPool "dmz": an address may belong to one pool only`,
		`192.0.2.8-192.0.2.23 overlaps 192.0.2.16/28 of pool "dmz"; remove one of them`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := validation.PoolOverlaps(mine, others[:0]); got != nil {
		t.Errorf("no other pools: %v", got)
	}
}

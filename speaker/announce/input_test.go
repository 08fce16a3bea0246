package announce_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/speaker/announce"
)

func TestMatchedPools(t *testing.T) {
	pools := baseInput().Pools
	tests := []struct {
		name string
		sel  announce.PoolSelector
		want []string
	}{
		{name: "empty selects every pool", sel: announce.PoolSelector{}, want: []string{"lan", "dmz"}},
		{name: "by name", sel: announce.PoolSelector{Names: []string{"dmz", "missing"}}, want: []string{"dmz"}},
		{name: "by label", sel: announce.PoolSelector{Selectors: []labels.Selector{sel("tier", "lan")}}, want: []string{"lan"}},
		{name: "name or label", sel: announce.PoolSelector{
			Names: []string{"dmz"}, Selectors: []labels.Selector{sel("tier", "lan")},
		}, want: []string{"lan", "dmz"}},
		{name: "selector matching nothing", sel: announce.PoolSelector{Selectors: []labels.Selector{labels.Nothing()}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.sel.MatchedPools(pools)); diff != "" {
				t.Errorf("matched pools (-want +got):\n%s", diff)
			}
		})
	}
}

package validation

import "k8s.io/apimachinery/pkg/labels"

// SelectsPool is the pool selection of L2Advertisement and BGPAdvertisement:
// a pool is selected when it is named in names or its labels match one of
// selectors; with neither set, every pool is. Admission uses it to find the
// pools an advertisement's aggregation must fit, the speaker to announce.
func SelectsPool(names []string, selectors []labels.Selector, pool string, poolLabels map[string]string) bool {
	if len(names) == 0 && len(selectors) == 0 {
		return true
	}
	for _, n := range names {
		if n == pool {
			return true
		}
	}
	set := labels.Set(poolLabels)
	for _, s := range selectors {
		if s != nil && s.Matches(set) {
			return true
		}
	}
	return false
}

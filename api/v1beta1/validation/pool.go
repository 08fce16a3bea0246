package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// ValidatePool is admission's view of an IPAddressPool: every rule on its
// spec, on its own and against others, the pools already stored (pool
// itself, found among them by name, is skipped). It reports the problems of
// [PoolAddresses], each entry's overlaps with other pools ([PoolOverlaps]),
// and the serviceAllocation selectors that do not parse
// ([ServiceAllocationSelectors]). Errors come in the order of the entries at
// fault, then the selectors.
//
// The controller applies the same rules one by one (controllers/ipam), so
// that a pool that got in without admission is refused for the same reason.
func ValidatePool(pool *v1beta1.IPAddressPool, others []v1beta1.IPAddressPool) field.ErrorList {
	entries, problems := PoolAddresses(pool.Spec.Addresses)
	var taken []PoolEntries
	for i := range others {
		o := &others[i]
		if o.Name == pool.Name {
			continue
		}
		parsed, _ := PoolAddresses(o.Spec.Addresses)
		taken = append(taken, PoolEntries{Name: o.Name, Entries: parsed})
	}
	errs := byEntry(problems, PoolOverlaps(entries, taken))
	_, _, selErrs := ServiceAllocationSelectors(pool.Spec.ServiceAllocation)
	return append(errs, selErrs...)
}

// byEntry merges a pool's own problems with its overlaps with other pools,
// both sorted by entry, into one list by entry: an entry's own problems
// first.
func byEntry(problems []*AddressError, overlaps []*PoolOverlap) field.ErrorList {
	var errs field.ErrorList
	for _, p := range problems {
		for len(overlaps) > 0 && overlaps[0].Entry.Index < p.Index {
			errs = append(errs, overlaps[0].Field())
			overlaps = overlaps[1:]
		}
		errs = append(errs, p.Field())
	}
	for _, o := range overlaps {
		errs = append(errs, o.Field())
	}
	return errs
}

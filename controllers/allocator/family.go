package allocator

import (
	"fmt"

	"github.com/ironlb/ironlb/api/iprange"
)

// FamilyPolicy is a Service's spec.ipFamilyPolicy.
type FamilyPolicy int

// The family policies. The zero value is SingleStack, Kubernetes' default.
const (
	// SingleStack assigns one address, of the Service's first family.
	SingleStack FamilyPolicy = iota
	// PreferDualStack assigns one address of each family when one pool
	// that admits the Service can give both, else one address.
	PreferDualStack
	// RequireDualStack assigns one address of each family or fails.
	RequireDualStack
)

// String returns the policy as spelled in spec.ipFamilyPolicy.
func (p FamilyPolicy) String() string {
	switch p {
	case SingleStack:
		return "SingleStack"
	case PreferDualStack:
		return "PreferDualStack"
	case RequireDualStack:
		return "RequireDualStack"
	}
	return fmt.Sprintf("FamilyPolicy(%d)", int(p))
}

// famIndex is the slot of a family in per-family arrays: IPv4 first.
func famIndex(f iprange.Family) int {
	if f == iprange.IPv4 {
		return 0
	}
	return 1
}

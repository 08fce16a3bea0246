package ipam

import (
	"fmt"
	"net/netip"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/controllers/allocator"
)

// PoolVerdict is the outcome of validating one IPAddressPool against its
// spec and against every other pool.
type PoolVerdict struct {
	// Pool is the allocator's view of a valid pool; zero when Reason is set.
	Pool allocator.Pool
	// Reason and Message say why the pool is not used ("" when valid).
	Reason  string
	Message string
	// UID and Generation identify the spec judged.
	UID        types.UID
	Generation int64
	// Kept, for an invalid pool, is its last valid spec, still given to the
	// allocator closed: the Services using it keep their addresses while
	// the pool hands out nothing new. Nil when there is none to keep.
	Kept *allocator.Pool
}

// Valid reports whether the pool may hand out addresses.
func (v PoolVerdict) Valid() bool { return v.Reason == "" }

// Validate turns pools into allocator pools. A pool with a bad entry, or one
// that overlaps an older pool, gets a Reason and is left out; the others are
// unaffected. Older means created first, then by name, so every replica and
// every restart reaches the same verdict.
func Validate(pools []v1beta1.IPAddressPool) map[string]PoolVerdict {
	return ValidateKeeping(pools, nil, nil)
}

// ValidateKeeping is Validate, except that pools whose current spec was
// accepted before (established reports it) rank before all others, so that
// creating or editing a pool never takes the addresses of a pool in use.
// (Creation timestamps have one-second resolution: by age alone, a pool
// created in the same second as one in use, with a name sorting first,
// would evict that pool's Services.)
//
// lastValid, when not nil, gives the last accepted spec of a pool: a pool
// whose edit made it invalid keeps that spec, closed (see PoolVerdict.Kept),
// so that bad input never strips addresses already assigned.
func ValidateKeeping(pools []v1beta1.IPAddressPool, established func(*v1beta1.IPAddressPool) bool,
	lastValid func(*v1beta1.IPAddressPool) (allocator.Pool, bool)) map[string]PoolVerdict {
	ordered := byPrecedence(pools, established)
	verdicts := make(map[string]PoolVerdict, len(pools))
	// The entries of the pools accepted so far, oldest first: a pool
	// overlapping one of them is refused.
	var accepted []validation.PoolEntries
	for _, p := range ordered {
		v := PoolVerdict{UID: p.UID, Generation: p.Generation}
		ap, reason, err := Translate(p)
		if err == nil {
			if overlap := firstOverlap(ap, accepted); overlap != nil {
				reason, err = v1beta1.ReasonOverlap, overlap
			}
		}
		if err == nil {
			accepted = append(accepted, entriesOf(ap))
			v.Pool = ap
			verdicts[p.Name] = v
			continue
		}
		v.Reason, v.Message = reason, err.Error()
		if lastValid != nil {
			if kept, ok := lastValid(p); ok {
				kept.Closed = true
				if firstOverlap(kept, accepted) == nil {
					accepted = append(accepted, entriesOf(kept))
					v.Kept = &kept
				}
			}
		}
		verdicts[p.Name] = v
	}
	return verdicts
}

// byPrecedence orders pools for validation, the first to claim an address
// keeping it: pools established reports first, then the oldest, then by
// name.
func byPrecedence(pools []v1beta1.IPAddressPool, established func(*v1beta1.IPAddressPool) bool) []*v1beta1.IPAddressPool {
	ordered := make([]*v1beta1.IPAddressPool, len(pools))
	known := make(map[*v1beta1.IPAddressPool]bool, len(pools))
	for i := range pools {
		ordered[i] = &pools[i]
		known[&pools[i]] = established != nil && established(&pools[i])
	}
	sort.Slice(ordered, func(i, j int) bool {
		if ki, kj := known[ordered[i]], known[ordered[j]]; ki != kj {
			return ki
		}
		ti, tj := ordered[i].CreationTimestamp, ordered[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return ordered[i].Name < ordered[j].Name
	})
	return ordered
}

// Translate converts one pool's spec into an allocator.Pool, by the rules of
// api/v1beta1/validation that admission applies too. On error it also
// returns the condition reason describing it; the error is worded for the
// pool's Ready condition.
func Translate(p *v1beta1.IPAddressPool) (allocator.Pool, string, error) {
	out := allocator.Pool{
		Name:          p.Name,
		AutoAssign:    p.AutoAssignEnabled(),
		AvoidBuggyIPs: p.Spec.AvoidBuggyIPs,
		Closed:        !p.DeletionTimestamp.IsZero(),
	}
	entries, problems := validation.PoolAddresses(p.Spec.Addresses)
	if len(problems) > 0 {
		return allocator.Pool{}, v1beta1.ReasonInvalidAddress, problems[0]
	}
	for _, e := range entries {
		out.Ranges = append(out.Ranges, e.Range())
	}
	if sa := p.Spec.ServiceAllocation; sa != nil {
		out.Priority = sa.Priority
		out.Namespaces = sa.Namespaces
		var errs field.ErrorList
		out.NamespaceSelectors, out.ServiceSelectors, errs = validation.ServiceAllocationSelectors(sa)
		if len(errs) > 0 {
			// The field and the parser's reason, without the selector
			// itself that admission's answer also quotes.
			return allocator.Pool{}, v1beta1.ReasonInvalidSelector, fmt.Errorf("%s: %s", errs[0].Field, errs[0].Detail)
		}
	}
	return out, "", nil
}

// recordedSpec translates the spec p's status records as last accepted.
func recordedSpec(p *v1beta1.IPAddressPool) (allocator.Pool, bool) {
	if p.Status.LastValidSpec == nil {
		return allocator.Pool{}, false
	}
	last := &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: p.Name}, Spec: *p.Status.LastValidSpec}
	kept, _, err := Translate(last)
	return kept, err == nil
}

// holding is a pool of just the addresses shown, each that may be a pool
// entry, or false when none is: what an invalid pool keeps when its last
// valid spec is known nowhere, so that a start never releases an address
// because its pool is present but invalid.
func holding(name string, shown []netip.Addr) (allocator.Pool, bool) {
	out := allocator.Pool{Name: name}
	seen := make(map[netip.Addr]bool, len(shown))
	for _, ip := range shown {
		if seen[ip] {
			continue
		}
		seen[ip] = true
		// Parsed like a spec entry: zones and special addresses stay out.
		if r, err := iprange.Parse(ip.String()); err == nil {
			out.Ranges = append(out.Ranges, r)
		}
	}
	return out, len(out.Ranges) > 0
}

// firstOverlap returns the first overlap of p with the accepted pools, in
// the order they were accepted (oldest first), or nil.
func firstOverlap(p allocator.Pool, accepted []validation.PoolEntries) *validation.PoolOverlap {
	mine := entriesOf(p).Entries
	for i := range accepted {
		if overlaps := validation.PoolOverlaps(mine, accepted[i:i+1]); len(overlaps) > 0 {
			return overlaps[0]
		}
	}
	return nil
}

// entriesOf lists the ranges of an allocator pool as validation entries,
// for the overlap rule. A kept pool may come from the addresses Services
// show rather than from a spec, so the text is the canonical range.
func entriesOf(p allocator.Pool) validation.PoolEntries {
	out := validation.PoolEntries{Name: p.Name, Entries: make([]validation.Entry, len(p.Ranges))}
	for i, r := range p.Ranges {
		out.Entries[i] = validation.Entry{Text: r.String(), First: r.First, Last: r.Last, Index: i}
	}
	return out
}

package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
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

	verdicts := make(map[string]PoolVerdict, len(pools))
	var accepted []allocator.Pool
	for _, p := range ordered {
		v := PoolVerdict{UID: p.UID, Generation: p.Generation}
		ap, reason, err := Translate(p)
		if err == nil {
			if other, r1, r2, ok := firstOverlap(ap, accepted); ok {
				reason = v1beta1.ReasonOverlap
				err = fmt.Errorf("%s overlaps %s of pool %q; remove one of them", r1, r2, other)
			}
		}
		if err == nil {
			accepted = append(accepted, ap)
			v.Pool = ap
			verdicts[p.Name] = v
			continue
		}
		v.Reason, v.Message = reason, err.Error()
		if lastValid != nil {
			if kept, ok := lastValid(p); ok {
				kept.Closed = true
				if _, _, _, clash := firstOverlap(kept, accepted); !clash {
					accepted = append(accepted, kept)
					v.Kept = &kept
				}
			}
		}
		verdicts[p.Name] = v
	}
	return verdicts
}

// Translate converts one pool's spec into an allocator.Pool. On error it
// also returns the condition reason describing it.
func Translate(p *v1beta1.IPAddressPool) (allocator.Pool, string, error) {
	out := allocator.Pool{
		Name:          p.Name,
		AutoAssign:    p.AutoAssignEnabled(),
		AvoidBuggyIPs: p.Spec.AvoidBuggyIPs,
		Closed:        !p.DeletionTimestamp.IsZero(),
	}
	if len(p.Spec.Addresses) == 0 {
		return allocator.Pool{}, v1beta1.ReasonInvalidAddress, fmt.Errorf("spec.addresses is empty")
	}
	for i, s := range p.Spec.Addresses {
		r, err := iprange.Parse(s)
		if err != nil {
			return allocator.Pool{}, v1beta1.ReasonInvalidAddress, entryError(i, s, err)
		}
		for j, prev := range out.Ranges {
			if overlaps(r, prev) {
				return allocator.Pool{}, v1beta1.ReasonInvalidAddress,
					fmt.Errorf("spec.addresses[%d] %q overlaps spec.addresses[%d] %q", i, s, j, p.Spec.Addresses[j])
			}
		}
		out.Ranges = append(out.Ranges, r)
	}
	if sa := p.Spec.ServiceAllocation; sa != nil {
		out.Priority = sa.Priority
		out.Namespaces = sa.Namespaces
		var err error
		if out.NamespaceSelectors, err = selectors("spec.serviceAllocation.namespaceSelectors", sa.NamespaceSelectors); err != nil {
			return allocator.Pool{}, v1beta1.ReasonInvalidSelector, err
		}
		if out.ServiceSelectors, err = selectors("spec.serviceAllocation.serviceSelectors", sa.ServiceSelectors); err != nil {
			return allocator.Pool{}, v1beta1.ReasonInvalidSelector, err
		}
	}
	return out, "", nil
}

// entryError words a refused entry the way admission does, so that the
// Ready condition reads like the webhook's answer would have:
// spec.addresses[i]: Invalid value: "entry": reason.
func entryError(i int, entry string, err error) error {
	reason := err.Error()
	if re, ok := errors.AsType[*iprange.ParseError](err); ok {
		reason = re.Reason
	}
	return field.Invalid(field.NewPath("spec", "addresses").Index(i), entry, reason)
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

func selectors(path string, in []metav1.LabelSelector) ([]labels.Selector, error) {
	out := make([]labels.Selector, 0, len(in))
	for i := range in {
		s, err := metav1.LabelSelectorAsSelector(&in[i])
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", path, i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func firstOverlap(p allocator.Pool, accepted []allocator.Pool) (pool string, mine, theirs iprange.Range, ok bool) {
	for _, other := range accepted {
		for _, r := range p.Ranges {
			for _, o := range other.Ranges {
				if overlaps(r, o) {
					return other.Name, r, o, true
				}
			}
		}
	}
	return "", iprange.Range{}, iprange.Range{}, false
}

func overlaps(a, b iprange.Range) bool {
	return a.Family() == b.Family() && !a.Last.Less(b.First) && !b.Last.Less(a.First)
}

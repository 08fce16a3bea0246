package webhook

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
)

// ValidatePool checks pool's spec on its own and against others, the pools
// already stored (pool itself, found among them by name, is skipped). It
// reports entries that do not parse (bad CIDR, reversed range, range across
// families) or touch special addresses (see iprange.Range.CheckSpecial),
// entries overlapping another entry of the same pool or of another pool, and
// label selectors that do not parse.
func ValidatePool(pool *v1beta1.IPAddressPool, others []v1beta1.IPAddressPool) field.ErrorList {
	var errs field.ErrorList
	addrPath := field.NewPath("spec", "addresses")
	if len(pool.Spec.Addresses) == 0 {
		errs = append(errs, field.Required(addrPath, "a pool needs at least one CIDR or range"))
	}

	// Entries of other pools that parse; a broken pool is its own problem
	// (its Ready condition says so) and must not block this one.
	type owned struct {
		pool, entry string
		r           iprange.Range
	}
	var taken []owned
	for i := range others {
		o := &others[i]
		if o.Name == pool.Name {
			continue
		}
		for _, s := range o.Spec.Addresses {
			if r, err := iprange.Parse(s); err == nil {
				taken = append(taken, owned{pool: o.Name, entry: s, r: r})
			}
		}
	}

	parsed := make([]iprange.Range, len(pool.Spec.Addresses))
	ok := make([]bool, len(pool.Spec.Addresses))
	for i, s := range pool.Spec.Addresses {
		p := addrPath.Index(i)
		r, err := iprange.Parse(s)
		if err != nil {
			errs = append(errs, field.Invalid(p, s, rangeDetail(err)))
			continue
		}
		parsed[i], ok[i] = r, true
		for j := 0; j < i; j++ {
			if ok[j] && overlaps(r, parsed[j]) {
				errs = append(errs, field.Invalid(p, s,
					fmt.Sprintf("overlaps spec.addresses[%d] (%q) of the same pool", j, pool.Spec.Addresses[j])))
			}
		}
		for _, t := range taken {
			if overlaps(r, t.r) {
				errs = append(errs, field.Invalid(p, s,
					fmt.Sprintf("overlaps %q of IPAddressPool %q: an address may belong to one pool only", t.entry, t.pool)))
			}
		}
	}

	if sa := pool.Spec.ServiceAllocation; sa != nil {
		saPath := field.NewPath("spec", "serviceAllocation")
		errs = append(errs, validateSelectors(saPath.Child("namespaceSelectors"), sa.NamespaceSelectors)...)
		errs = append(errs, validateSelectors(saPath.Child("serviceSelectors"), sa.ServiceSelectors)...)
	}
	return errs
}

// rangeDetail is the reason ParseRange gave, without the entry: the field
// error already quotes it.
func rangeDetail(err error) string {
	if re, ok := errors.AsType[*iprange.ParseError](err); ok {
		return re.Reason
	}
	return err.Error()
}

// overlaps reports whether a and b share an address.
func overlaps(a, b iprange.Range) bool {
	return a.Family() == b.Family() && a.First.Compare(b.Last) <= 0 && b.First.Compare(a.Last) <= 0
}

// validateSelectors reports the label selectors that do not parse.
func validateSelectors(path *field.Path, sels []metav1.LabelSelector) field.ErrorList {
	var errs field.ErrorList
	for i := range sels {
		if _, err := metav1.LabelSelectorAsSelector(&sels[i]); err != nil {
			errs = append(errs, field.Invalid(path.Index(i), sels[i].String(), err.Error()))
		}
	}
	return errs
}

// poolValidator admits IPAddressPools, reading the other pools live from the
// API server so that two pools created one right after the other are checked
// against each other (a cache could still miss the first).
type poolValidator struct {
	reader client.Reader
}

var _ admission.Validator[*v1beta1.IPAddressPool] = poolValidator{}

func (v poolValidator) ValidateCreate(ctx context.Context, pool *v1beta1.IPAddressPool) (admission.Warnings, error) {
	return nil, v.validate(ctx, pool)
}

func (v poolValidator) ValidateUpdate(ctx context.Context, old, pool *v1beta1.IPAddressPool) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, pool.Spec) {
		return nil, nil
	}
	return nil, v.validate(ctx, pool)
}

func (poolValidator) ValidateDelete(context.Context, *v1beta1.IPAddressPool) (admission.Warnings, error) {
	return nil, nil
}

func (v poolValidator) validate(ctx context.Context, pool *v1beta1.IPAddressPool) error {
	var others v1beta1.IPAddressPoolList
	if err := v.reader.List(ctx, &others); err != nil {
		return fmt.Errorf("listing IPAddressPools to check for overlaps: %w", err)
	}
	return invalid("IPAddressPool", pool.Name, ValidatePool(pool, others.Items))
}

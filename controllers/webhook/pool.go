package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// poolValidator admits IPAddressPools by validation.ValidatePool, reading
// the other pools live from the API server so that two pools created one
// right after the other are checked against each other (a cache could still
// miss the first).
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
	return invalid("IPAddressPool", pool.Name, validation.ValidatePool(pool, others.Items))
}

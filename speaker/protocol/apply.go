package protocol

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// AdvertisementFieldOwner is the field manager of the status every speaker
// shares (matchedPools and Ready of advertisements, Ready of BFDProfiles,
// ServiceAnnouncements). One speaker writes each at a time, under this one
// name, so a change of writer takes the fields over instead of duplicating
// them.
const AdvertisementFieldOwner = "ironlb-speaker"

// NodeFieldOwner is the field manager of node's own entries in status
// (BGPPeer status.sessions, L2Advertisement status.nodes): those lists are
// maps keyed by node, so each speaker owns exactly its entry and never
// touches the others'.
func NodeFieldOwner(node string) string {
	const prefix = AdvertisementFieldOwner + "-"
	if len(prefix)+len(node) > 128 { // field manager names are at most 128 bytes
		node = node[:128-len(prefix)]
	}
	return prefix + node
}

// statusApply is a server-side apply configuration of part of an object's
// status: exactly the fields of S, so that the field manager claims them and
// no other. The API types have no generated apply configurations; S is a
// small struct of API types whose JSON holds just the fields meant.
type statusApply[S any] struct {
	metav1ac.TypeMetaApplyConfiguration    `json:",inline"`
	*metav1ac.ObjectMetaApplyConfiguration `json:"metadata,omitempty"`
	Status                                 *S `json:"status,omitempty"`
}

func newStatusApply[S any](gvk schema.GroupVersionKind, obj client.Object, status S) *statusApply[S] {
	ac := &statusApply[S]{Status: &status}
	ac.WithKind(gvk.Kind).WithAPIVersion(gvk.GroupVersion().String())
	ac.ObjectMetaApplyConfiguration = metav1ac.ObjectMeta().WithName(obj.GetName()).WithUID(obj.GetUID())
	if ns := obj.GetNamespace(); ns != "" {
		ac.WithNamespace(ns)
	}
	return ac
}

// IsApplyConfiguration marks statusApply as an apply configuration.
func (*statusApply[S]) IsApplyConfiguration() {}

// ApplyStatus writes status into obj's status subresource with server-side
// apply under fieldOwner, taking the fields over from any other manager.
// The UID pins the object: a newer one of the same name is never written,
// and a deleted one is not recreated.
func ApplyStatus[S any](ctx context.Context, c client.Client, obj client.Object, status S, fieldOwner string) error {
	_, err := ApplyStatusVersion(ctx, c, obj, status, fieldOwner)
	return err
}

// ApplyStatusVersion is ApplyStatus, returning the object's resourceVersion
// after the write ("" if the answer had none): for a writer that tells its
// own writes from others' in what it watches.
func ApplyStatusVersion[S any](ctx context.Context, c client.Client, obj client.Object, status S, fieldOwner string) (string, error) {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return "", err
	}
	ac := newStatusApply(gvk, obj, status)
	if err := c.Status().Apply(ctx, ac, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("writing status of %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	if ac.ResourceVersion == nil {
		return "", nil
	}
	return *ac.ResourceVersion, nil
}

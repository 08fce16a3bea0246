//go:build envtest

package integration

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

type poolOpt func(*v1beta1.IPAddressPool)

func manualAssign() poolOpt {
	return func(p *v1beta1.IPAddressPool) { p.Spec.AutoAssign = ptr.To(false) }
}

func avoidBuggyIPs() poolOpt {
	return func(p *v1beta1.IPAddressPool) { p.Spec.AvoidBuggyIPs = true }
}

func onlyNamespaces(ns ...string) poolOpt {
	return func(p *v1beta1.IPAddressPool) {
		p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{Namespaces: ns}
	}
}

// createPool creates a pool and, at cleanup, deletes it and waits until the
// controller has let it go.
func createPool(t *testing.T, name string, addresses []string, opts ...poolOpt) *v1beta1.IPAddressPool {
	t.Helper()
	p := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addresses},
	}
	for _, o := range opts {
		o(p)
	}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatalf("creating pool %s: %v", name, err)
	}
	t.Cleanup(func() { deleteAndWait(t, &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}}) })
	return p
}

func getPool(t *testing.T, name string) *v1beta1.IPAddressPool {
	t.Helper()
	p := &v1beta1.IPAddressPool{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
		t.Fatalf("reading pool %s: %v", name, err)
	}
	return p
}

// updatePool applies change to the stored pool, retrying on conflicts
// with the controller's own writes.
func updatePool(t *testing.T, name string, change func(*v1beta1.IPAddressPool)) {
	t.Helper()
	eventually(t, "updating pool "+name, func() error {
		p := getPool(t, name)
		change(p)
		return k8s.Update(context.Background(), p)
	})
}

// waitPoolReady waits for the pool's Ready condition to have status and
// reason, and returns the pool.
func waitPoolReady(t *testing.T, name string, status metav1.ConditionStatus, reason string) *v1beta1.IPAddressPool {
	t.Helper()
	var p *v1beta1.IPAddressPool
	eventually(t, fmt.Sprintf("pool %s Ready=%s/%s", name, status, reason), func() error {
		p = getPool(t, name)
		c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionReady)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("Ready condition is %+v", c)
		}
		return nil
	})
	return p
}

func keyOf(name string) client.ObjectKey { return client.ObjectKey{Name: name} }

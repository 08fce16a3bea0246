//go:build lab

package lab_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/test/lab"
)

// TestBGPCommunityAliases checks community names end to end, at FRR: a
// well-known name and a Community alias reach the router as their values;
// an advertisement naming an alias nobody defines is refused (Ready False,
// InvalidCommunity, naming the alias) without touching the other
// advertisement's route, and is taken as soon as a Community defines it.
func TestBGPCommunityAliases(t *testing.T) {
	l := newLab(t, lab.Options{Router: &lab.RouterConfig{Neighbors: routerNeighbors(lab.NodeASN, "")}})
	ctx := t.Context()
	objs := bgpObjects(l, lab.NodeASN)
	objs[2].(*ironlbv1beta1.BGPAdvertisement).Spec.Communities = []string{"no-export", "transit-only"}
	gold := lab.BGPAdvertisement("gold", "bgp")
	gold.Spec.Communities = []string{"gold"}
	names := &ironlbv1beta1.Community{ObjectMeta: metav1.ObjectMeta{Name: "names"},
		Spec: ironlbv1beta1.CommunitySpec{Communities: []ironlbv1beta1.CommunityAlias{{Name: "transit-only", Value: "64512:300"}}}}
	if err := l.Create(ctx, append(objs, names, gold)...); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, l, "Established")
	prefix := netip.PrefixFrom(createService(t, l, lab.LoadBalancer("tagged", lab.FromPool("bgp"))), 32)

	// no-export is 65535:65281, which FRR writes by its name.
	waitCommunities(t, l, prefix, "64512:300 no-export")
	waitReady(t, l, "gold", func(c *metav1.Condition) error {
		if c.Status != metav1.ConditionFalse || c.Reason != ironlbv1beta1.ReasonInvalidCommunity || !strings.Contains(c.Message, `"gold"`) {
			return fmt.Errorf("Ready is %s/%s: %s; want False/%s naming the alias", c.Status, c.Reason, c.Message, ironlbv1beta1.ReasonInvalidCommunity)
		}
		return nil
	})

	more := &ironlbv1beta1.Community{ObjectMeta: metav1.ObjectMeta{Name: "more"},
		Spec: ironlbv1beta1.CommunitySpec{Communities: []ironlbv1beta1.CommunityAlias{{Name: "gold", Value: "64512:999"}}}}
	if err := l.Create(ctx, more); err != nil {
		t.Fatal(err)
	}
	waitCommunities(t, l, prefix, "64512:300 64512:999 no-export")
	waitReady(t, l, "gold", func(c *metav1.Condition) error {
		if c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready is %s/%s: %s; want True", c.Status, c.Reason, c.Message)
		}
		return nil
	})
}

// waitCommunities waits until every path FRR holds for prefix carries
// exactly these standard communities, as FRR writes them.
func waitCommunities(t testing.TB, l *lab.Lab, prefix netip.Prefix, want string) {
	t.Helper()
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		route, err := l.Router.Route(ctx, prefix)
		if err != nil {
			return err
		}
		if len(route.Paths) == 0 {
			return fmt.Errorf("FRR holds no path for %s", prefix)
		}
		for _, p := range route.Paths {
			if p.Communities != want {
				return fmt.Errorf("path via %s carries communities %q, want %q", p.NextHop, p.Communities, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitReady waits until the BGPAdvertisement's Ready condition passes ok.
func waitReady(t testing.TB, l *lab.Lab, name string, ok func(*metav1.Condition) error) {
	t.Helper()
	err := lab.Poll(t.Context(), settle, every, func(ctx context.Context) error {
		var adv ironlbv1beta1.BGPAdvertisement
		if err := l.Kube.Get(ctx, client.ObjectKey{Name: name}, &adv); err != nil {
			return err
		}
		c := meta.FindStatusCondition(adv.Status.Conditions, "Ready")
		if c == nil {
			return fmt.Errorf("BGPAdvertisement %s has no Ready condition", name)
		}
		return ok(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

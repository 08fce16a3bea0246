package servicestatus

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// sameStatus agrees with equality.Semantic.DeepEqual on random statuses
// drawn close to each other, nil and empty lists included.
func TestSameStatusMatchesSemanticEqual(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	strs := func() []string {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		case 2:
			return []string{"a"}
		}
		return []string{"a", "b"}
	}
	status := func() v1beta1.ServiceAnnouncementStatus {
		st := v1beta1.ServiceAnnouncementStatus{IPs: []string{"", "x"}[r.IntN(2)], Layer2Nodes: []string{"", "n"}[r.IntN(2)], BGPNodes: int32(r.IntN(2))}
		if r.IntN(2) == 0 {
			st.Layer2 = []v1beta1.L2AddressAnnouncement{{IP: []string{"i", "j"}[r.IntN(2)], Node: "n", Interfaces: strs()}}
		}
		if r.IntN(2) == 0 {
			st.BGP = []v1beta1.BGPAddressAnnouncement{{IP: "i", Nodes: strs(),
				AdvertisedTo: []v1beta1.BGPPeerGroup{{Peers: strs(), Nodes: strs()}}}}
		}
		return st
	}
	equal, differ := 0, 0
	for range 5000 {
		a, b := status(), status()
		want := equality.Semantic.DeepEqual(a, b)
		if got := sameStatus(a, b); got != want {
			t.Fatalf("sameStatus(%+v, %+v) = %t, Semantic.DeepEqual %t", a, b, got, want)
		}
		if want {
			equal++
		} else {
			differ++
		}
	}
	if equal == 0 || differ == 0 {
		t.Fatalf("%d equal and %d different pairs: the test proves little", equal, differ)
	}
}

// TestSameStatusCoversEveryField: sameStatus compares the fields it was
// written for; a new one must be added there.
func TestSameStatusCoversEveryField(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[v1beta1.ServiceAnnouncementStatus](): 5,
		reflect.TypeFor[v1beta1.L2AddressAnnouncement]():     3,
		reflect.TypeFor[v1beta1.BGPAddressAnnouncement]():    3,
		reflect.TypeFor[v1beta1.BGPPeerGroup]():              2,
	} {
		if typ.NumField() != n {
			t.Errorf("%s has %d fields, sameStatus compares %d", typ, typ.NumField(), n)
		}
	}
}

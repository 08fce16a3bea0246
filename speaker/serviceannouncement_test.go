//go:build envtest

package speaker_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Two speakers write each Service's ServiceAnnouncement once, leave it alone
// on a recomputation that changes nothing, rewrite it when the announcing
// node changes, and delete it when the Service is no longer announced.
func TestServiceAnnouncements(t *testing.T) {
	c := newClient(t, sharedK)
	get := func(name string) (*v1beta1.ServiceAnnouncement, error) {
		var sa v1beta1.ServiceAnnouncement
		err := c.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: name}, &sa)
		return &sa, err
	}
	port := freePort(t, "127.0.0.1", "127.0.0.2")
	readyNode(t, c, "node-a", "127.0.0.1", nil)
	readyNode(t, c, "node-b", "127.0.0.2", nil)
	create(t, c, pool("sa", "198.51.100.0/24"), l2adv("sa"))
	a := startSpeaker(t, sharedK, speakerOpts{node: "node-a", addr: "127.0.0.1", port: port})
	b := startSpeaker(t, sharedK, speakerOpts{node: "node-b", addr: "127.0.0.2", port: port})
	speakers := map[string]*testSpeaker{"node-a": a, "node-b": b}

	ips := map[string]string{"sa-web": "198.51.100.10", "sa-api": "198.51.100.11"}
	owner := map[string]string{}
	for name, ip := range ips {
		lbService(t, c, name, nil, false, ip)
		owner[name], _ = newestWinner(netip.MustParseAddr(ip), []string{"node-a", "node-b"})
	}
	versions := map[string]string{}
	for name, ip := range ips {
		eventually(t, "ServiceAnnouncement of "+name, func() error {
			sa, err := get(name)
			if err != nil {
				return err
			}
			l2 := sa.Status.Layer2
			if len(l2) != 1 || l2[0].IP != ip || l2[0].Node != owner[name] || sa.Status.IPs != ip || sa.Status.Layer2Nodes != owner[name] {
				return fmt.Errorf("status %+v", sa.Status)
			}
			if len(sa.OwnerReferences) != 1 || sa.OwnerReferences[0].Kind != "Service" || sa.OwnerReferences[0].Name != name {
				return fmt.Errorf("owner references %+v", sa.OwnerReferences)
			}
			versions[name] = sa.ResourceVersion
			return nil
		})
	}

	// A recomputation that changes nothing for them (another Service, with
	// no address yet) writes nothing.
	lbService(t, c, "sa-idle", nil, false)
	time.Sleep(2 * time.Second)
	for name := range ips {
		sa, err := get(name)
		if err != nil {
			t.Fatal(err)
		}
		if sa.ResourceVersion != versions[name] {
			t.Errorf("%s's ServiceAnnouncement was rewritten by a recomputation that changed nothing", name)
		}
	}
	if _, err := get("sa-idle"); !apierrors.IsNotFound(err) {
		t.Errorf("a Service with no address has a ServiceAnnouncement (err %v)", err)
	}

	// The announcing node of sa-web dies: the survivor answers, and its
	// ServiceAnnouncement says so, whoever wrote it before.
	dead := owner["sa-web"]
	survivor := map[string]string{"node-a": "node-b", "node-b": "node-a"}[dead]
	speakers[dead].stop()
	eventually(t, "ServiceAnnouncement of sa-web names "+survivor, func() error {
		sa, err := get("sa-web")
		if err != nil {
			return err
		}
		if l2 := sa.Status.Layer2; len(l2) != 1 || l2[0].Node != survivor {
			return fmt.Errorf("status %+v", sa.Status)
		}
		return nil
	})

	// Deleted by hand: written again.
	sa, err := get("sa-api")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ServiceAnnouncement of sa-api written again", func() error {
		again, err := get("sa-api")
		if err != nil {
			return err
		}
		if again.UID == sa.UID || len(again.Status.Layer2) != 1 || again.Status.Layer2[0].Node != survivor {
			return fmt.Errorf("uid %s, status %+v", again.UID, again.Status)
		}
		return nil
	})

	// The address is released: the object goes.
	var svc corev1.Service
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "sa-web"}, &svc); err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = nil
	if err := c.Status().Update(context.Background(), &svc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ServiceAnnouncement of sa-web deleted", func() error {
		if _, err := get("sa-web"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (err %v)", err)
		}
		return nil
	})
}

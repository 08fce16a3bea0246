//go:build lab

package cluster_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/test/lab"
)

// TestStatus: who announces a Service is readable with kubectl. Each
// announced Service has a ServiceAnnouncement naming its layer-2 node, or
// its BGP nodes and their peers; after a layer-2 failover (the announcing
// node's link cut) the object and `kubectl ironlb status` name the node
// that took over.
func TestStatus(t *testing.T) {
	plugin := filepath.Join(t.TempDir(), "kubectl-ironlb")
	if out, err := exec.Command("go", "build", "-o", plugin, "github.com/ironlb/ironlb/cmd/kubectl-ironlb").CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-ironlb: %v\n%s", err, out)
	}
	l := newCluster(t)
	ctx := t.Context()
	install(t, l)
	if t.Failed() {
		t.FailNow()
	}
	apply(t, l, poolsManifest)
	apply(t, l, bgpManifest)
	deployBackend(t, l, "web", 3)

	statusOf := func(name string) (v1beta1.ServiceAnnouncementStatus, error) {
		var sa v1beta1.ServiceAnnouncement
		err := l.Kube.Get(ctx, types.NamespacedName{Namespace: lab.ServiceNamespace, Name: name}, &sa)
		return sa.Status, err
	}
	pluginStatus := func() (string, error) {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := exec.CommandContext(cctx, plugin, "--kubeconfig", l.Kubeconfig, "status", "-n", lab.ServiceNamespace).CombinedOutput()
		return string(out), err
	}

	t.Run("BGP: every node, to the router", func(t *testing.T) {
		svc := expose(t, l, "status-bgp", "web", lab.FromPool("lab-bgp"))
		vip := ingress(t, l, svc, 4).String()
		var nodes []string
		for _, n := range l.Nodes {
			nodes = append(nodes, n.Name)
		}
		slices.Sort(nodes)
		waitFor(t, "the ServiceAnnouncement of status-bgp", func() error {
			st, err := statusOf(svc.Name)
			if err != nil {
				return err
			}
			if len(st.BGP) != 1 || st.BGP[0].IP != vip || !slices.Equal(st.BGP[0].Nodes, nodes) ||
				len(st.BGP[0].AdvertisedTo) != 1 || !slices.Equal(st.BGP[0].AdvertisedTo[0].Peers, []string{"router"}) {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	})

	t.Run("layer 2 failover", func(t *testing.T) {
		svc := expose(t, l, "status-l2", "web")
		vip := ingress(t, l, svc, 4)
		owner := arpOwner(t, l, vip)
		names := func(want string) func() error {
			return func() error {
				st, err := statusOf(svc.Name)
				if err != nil {
					return err
				}
				if len(st.Layer2) != 1 || st.Layer2[0].IP != vip.String() || st.Layer2[0].Node != want || st.Layer2Nodes != want {
					return fmt.Errorf("status %+v, want layer 2 from %s", st, want)
				}
				out, err := pluginStatus()
				if err != nil {
					return fmt.Errorf("kubectl ironlb status: %v\n%s", err, out)
				}
				if !strings.Contains(out, vip.String()+" layer2:"+want) {
					return fmt.Errorf("kubectl ironlb status does not say %s layer2:%s:\n%s", vip, want, out)
				}
				return nil
			}
		}
		waitFor(t, "ServiceAnnouncement and kubectl ironlb status naming "+owner.Name, names(owner.Name))

		selectPodsNotOn(t, l, svc, owner.Name)
		if err := l.CutLink(ctx, &owner.Host); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := l.RestoreLink(context.Background(), &owner.Host); err != nil {
				t.Errorf("restoring %s's link: %v", owner, err)
			}
		})
		next := arpOwner(t, l, vip)
		if next == owner {
			t.Fatalf("%s still answered by %s with its link cut", vip, owner)
		}
		waitFor(t, "ServiceAnnouncement and kubectl ironlb status naming "+next.Name, names(next.Name))
		t.Logf("%s: %s, then %s after %s's link was cut", vip, owner.Name, next.Name, owner.Name)
	})
}

// Package cluster is kubectl ironlb's input and output against a live
// cluster: it reads MetalLB's objects and the Services (for migrate), reads
// IronLB's objects (for status), and applies the converted objects with
// server-side apply. The decisions live in the migrate and status
// packages; this one only moves objects.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/status"
)

// FieldManager is the field manager of what `kubectl ironlb migrate
// --apply` applies.
const FieldManager = "kubectl-ironlb"

// Clients reach one cluster.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
}

// New makes the clients for cfg.
func New(cfg *rest.Config) (*Clients, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{Kube: kube, Dynamic: dyn}, nil
}

// ReadMetalLB adds to set MetalLB's objects of namespace (every namespace
// when empty), its pre-v0.13 ConfigMap if there is one, and every Service
// and Namespace. A MetalLB kind whose CRD is not installed has no objects.
func (c *Clients) ReadMetalLB(ctx context.Context, namespace string, set *metallb.Set, rep *report.Report) error {
	for _, r := range metallb.Resources {
		items, err := c.list(ctx, r.GVR, namespace)
		if apierrors.IsNotFound(err) && r.Kind == metallb.KindBGPPeer {
			// A MetalLB older than v0.13.6 serves BGPPeer as v1beta1 only.
			v1 := r.GVR
			v1.Version = "v1beta1"
			items, err = c.list(ctx, v1, namespace)
		}
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("listing MetalLB %s: %w", r.Kind, err)
		}
		for _, it := range items {
			set.Add(it.Object, rep)
		}
	}
	if err := c.readLegacyConfig(ctx, namespace, set, rep); err != nil {
		return err
	}
	svcs, err := c.Kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Services: %w", err)
	}
	set.Services = svcs.Items
	nss, err := c.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Namespaces: %w", err)
	}
	set.Namespaces = nss.Items
	return nil
}

func (c *Clients) list(ctx context.Context, gvr schema.GroupVersionResource, namespace string) ([]unstructured.Unstructured, error) {
	l, err := c.Dynamic.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// readLegacyConfig reports MetalLB's configuration ConfigMap of namespace,
// if it has one; missing or unreadable, it is no concern.
func (c *Clients) readLegacyConfig(ctx context.Context, namespace string, set *metallb.Set, rep *report.Report) error {
	if namespace == "" {
		return nil
	}
	cm, err := c.Kube.CoreV1().ConfigMaps(namespace).Get(ctx, metallb.LegacyConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ConfigMap %s/%s: %w", namespace, metallb.LegacyConfigMap, err)
	}
	if _, ok := cm.Data["config"]; !ok {
		return nil
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		return err
	}
	obj["apiVersion"], obj["kind"] = "v1", "ConfigMap"
	set.Add(obj, rep)
	return nil
}

// ReadIronLB reads what `kubectl ironlb status` shows: IronLB's objects,
// the Services of namespace (every namespace when empty) and their
// ServiceAnnouncements.
func (c *Clients) ReadIronLB(ctx context.Context, namespace string, snap *status.Snapshot) error {
	if err := listInto(ctx, c.Dynamic, "ipaddresspools", &snap.Pools); err != nil {
		return err
	}
	if err := listInto(ctx, c.Dynamic, "l2advertisements", &snap.L2Advertisements); err != nil {
		return err
	}
	if err := listInto(ctx, c.Dynamic, "bgpadvertisements", &snap.BGPAdvertisements); err != nil {
		return err
	}
	if err := listInto(ctx, c.Dynamic, "bgppeers", &snap.Peers); err != nil {
		return err
	}
	svcs, err := c.Kube.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Services: %w", err)
	}
	snap.Services = svcs.Items
	anns, err := c.Dynamic.Resource(v1beta1.GroupVersion.WithResource("serviceannouncements")).Namespace(namespace).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		// An IronLB older than ServiceAnnouncements, or no right to read
		// them: status says it does not know who announces.
	case err != nil:
		return fmt.Errorf("listing serviceannouncements: %w", err)
	default:
		snap.Announcements = make([]v1beta1.ServiceAnnouncement, len(anns.Items))
		for i := range anns.Items {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(anns.Items[i].Object, &snap.Announcements[i]); err != nil {
				return fmt.Errorf("reading serviceannouncement %s: %w", anns.Items[i].GetName(), err)
			}
		}
	}
	return nil
}

// ErrNoIronLB says IronLB's CRDs are not installed.
var ErrNoIronLB = errors.New("IronLB's CRDs are not installed (ironlb.io/v1beta1)")

// listInto lists the cluster-scoped IronLB resource into out, typed.
func listInto[T any](ctx context.Context, dyn dynamic.Interface, resource string, out *[]T) error {
	gvr := v1beta1.GroupVersion.WithResource(resource)
	l, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("listing %s: %w", resource, ErrNoIronLB)
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", resource, err)
	}
	*out = make([]T, len(l.Items))
	for i := range l.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &(*out)[i]); err != nil {
			return fmt.Errorf("reading %s %s: %w", resource, l.Items[i].GetName(), err)
		}
	}
	return nil
}

// resources are the REST resources of the kinds migrate applies.
var resources = map[string]schema.GroupVersionResource{
	"Secret":           corev1.SchemeGroupVersion.WithResource("secrets"),
	"IPAddressPool":    v1beta1.GroupVersion.WithResource("ipaddresspools"),
	"BFDProfile":       v1beta1.GroupVersion.WithResource("bfdprofiles"),
	"BGPPeer":          v1beta1.GroupVersion.WithResource("bgppeers"),
	"Community":        v1beta1.GroupVersion.WithResource("communities"),
	"L2Advertisement":  v1beta1.GroupVersion.WithResource("l2advertisements"),
	"BGPAdvertisement": v1beta1.GroupVersion.WithResource("bgpadvertisements"),
}

// Apply applies objs in order with server-side apply under FieldManager,
// writing one line per object to out as `kubectl apply --server-side` does.
// force takes over fields another manager owns (kubectl's
// --force-conflicts).
func (c *Clients) Apply(ctx context.Context, objs []*unstructured.Unstructured, force bool, out io.Writer) error {
	for _, o := range objs {
		gvr, ok := resources[o.GetKind()]
		if !ok {
			return fmt.Errorf("cannot apply a %s", o.GetKind())
		}
		_, err := c.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Apply(ctx, o.GetName(), o,
			metav1.ApplyOptions{FieldManager: FieldManager, Force: force})
		if err != nil {
			return fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		fmt.Fprintf(out, "%s/%s serverside-applied\n", kindGroup(o.GetKind(), gvr.Group), o.GetName())
	}
	return nil
}

// kindGroup names a kind the way kubectl prints it: "secret",
// "ipaddresspool.ironlb.io".
func kindGroup(kind, group string) string {
	k := strings.ToLower(kind)
	if group == "" {
		return k
	}
	return k + "." + group
}

package migrate

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
	"github.com/ironlb/ironlb/controllers/ipam"
)

// CheckServices predicts what ironlb-controller's first start will do to
// each LoadBalancer Service that shows addresses, given the pools of res,
// and reports each Service whose addresses would change or whose
// ironlb.io/IPAllocated condition would not be True. It runs the
// controller's own address book (controllers/ipam) over the objects in
// memory: the restore of every address shown, then one allocation per
// Service, as the controller does, so the prediction follows the
// controller's rules rather than a copy of them. class is the controller's
// --load-balancer-class and --default-class.
//
// Services of another class are not IronLB's; one whose addresses lie in
// a pool carried over is reported, since it then most likely was
// MetalLB's.
func CheckServices(ctx context.Context, res *Result, services []corev1.Service, namespaces []corev1.Namespace, class v1beta1.ClassFilter) error {
	mem := &memReader{pools: res.Pools, services: services, namespaces: namespaces}
	m := ipam.New(mem, mem, class)
	ctx = log.IntoContext(ctx, logr.Discard())
	if err := m.EnsureRestored(ctx); err != nil {
		return fmt.Errorf("predicting the controller's start: %w", err)
	}
	ranges := poolRanges(res.Pools)
	holders := holdersByIP(services)
	for _, svc := range byAge(services) {
		shown := ipam.IngressIPs(svc)
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(shown) == 0 {
			continue
		}
		obj := report.Object{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
		if !class.Handles(svc) {
			otherClass(&res.Report, obj, svc, shown, ranges, class)
			continue
		}
		got, err := m.Allocate(ctx, svc)
		if err != nil {
			return fmt.Errorf("predicting the addresses of %s: %w", obj, err)
		}
		if msg := prediction(shown, got, func(ip netip.Addr) string { return whyLost(m, holders, svc, ip) }); msg != "" {
			res.Report.Add(obj, "status.loadBalancer.ingress", joinAddrs(shown), report.Action, msg)
		}
	}
	return nil
}

// prediction says what the controller's allocation got does to the
// addresses shown, or "" when it keeps them with the condition True. why
// explains an address lost.
func prediction(shown []netip.Addr, got ipam.Allocation, why func(netip.Addr) string) string {
	refused := ""
	if got.Err != nil {
		refused = ": " + got.Err.Error()
	}
	if sameAddrs(shown, got.Assignment.IPs) {
		if got.Err == nil {
			return ""
		}
		return fmt.Sprintf("keeps its addresses, but its %s condition will be False%s", v1beta1.ConditionIPAllocated, refused)
	}
	var reasons []string
	for _, ip := range shown {
		if !slices.Contains(got.Assignment.IPs, ip) {
			reasons = append(reasons, why(ip))
		}
	}
	change := "IronLB would take its addresses away"
	if len(got.Assignment.IPs) > 0 {
		change = "IronLB would change its addresses to " + joinAddrs(got.Assignment.IPs)
	}
	return change + refused + ": " + strings.Join(reasons, "; ")
}

// whyLost explains why the controller would not keep ip for svc.
func whyLost(m *ipam.IPAM, holders map[netip.Addr][]*corev1.Service, svc *corev1.Service, ip netip.Addr) string {
	if _, ok := m.PoolOf(ip); !ok {
		return ip.String() + " is in no pool carried over; add it to one before starting IronLB"
	}
	for _, h := range holders[ip] {
		if h.Namespace != svc.Namespace {
			return fmt.Sprintf("%s is also shown by %s/%s, of another namespace: IronLB shares an address across namespaces only "+
				"when both Services list each other's namespace in %s; add it to both before starting IronLB",
				ip, h.Namespace, h.Name, v1beta1.AnnotationAllowSharedIPNamespaces)
		}
	}
	return ip.String() + " does not fit what the Service asks for (pool, addresses, sharing key, families); fix the request before starting IronLB"
}

// holdersByIP lists, for each address, the Services showing it.
func holdersByIP(svcs []corev1.Service) map[netip.Addr][]*corev1.Service {
	out := map[netip.Addr][]*corev1.Service{}
	for i := range svcs {
		for _, ip := range ipam.IngressIPs(&svcs[i]) {
			out[ip] = append(out[ip], &svcs[i])
		}
	}
	return out
}

// otherClass reports a Service of another load-balancer class whose
// addresses lie in a pool carried over.
func otherClass(rep *report.Report, obj report.Object, svc *corev1.Service, shown []netip.Addr, ranges []iprange.Range, class v1beta1.ClassFilter) {
	if !slices.ContainsFunc(shown, func(ip netip.Addr) bool {
		return slices.ContainsFunc(ranges, func(r iprange.Range) bool { return r.Contains(ip) })
	}) {
		return
	}
	value := "(none)"
	if svc.Spec.LoadBalancerClass != nil {
		value = *svc.Spec.LoadBalancerClass
	}
	rep.Add(obj, "spec.loadBalancerClass", value, report.Action, fmt.Sprintf(
		"its addresses %s are in a pool carried over, but ironlb-controller (--load-balancer-class=%s, --default-class=%t) "+
			"will not handle it; the field cannot be changed, so run IronLB with --load-balancer-class=%s (chart value loadBalancerClass)",
		joinAddrs(shown), class.Class, class.Default, value))
}

func poolRanges(pools []v1beta1.IPAddressPool) []iprange.Range {
	var out []iprange.Range
	for _, p := range pools {
		for _, a := range p.Spec.Addresses {
			if r, err := iprange.Parse(a); err == nil {
				out = append(out, r)
			}
		}
	}
	return out
}

// byAge orders Services as the controller's restore does: oldest first.
func byAge(in []corev1.Service) []*corev1.Service {
	out := make([]*corev1.Service, len(in))
	for i := range in {
		out[i] = in[i].DeepCopy()
	}
	slices.SortStableFunc(out, func(a, b *corev1.Service) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out
}

func sameAddrs(a, b []netip.Addr) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, netip.Addr.Compare)
	slices.SortFunc(y, netip.Addr.Compare)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func joinAddrs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

// memReader serves the objects the controller's address book reads, from
// memory, as the API server would.
type memReader struct {
	pools      []v1beta1.IPAddressPool
	services   []corev1.Service
	namespaces []corev1.Namespace
}

var _ client.Reader = (*memReader)(nil)

func (r *memReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	switch o := obj.(type) {
	case *corev1.Namespace:
		for i := range r.namespaces {
			if r.namespaces[i].Name == key.Name {
				r.namespaces[i].DeepCopyInto(o)
				return nil
			}
		}
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, key.Name)
	case *v1beta1.IPAddressPool:
		for i := range r.pools {
			if r.pools[i].Name == key.Name {
				r.pools[i].DeepCopyInto(o)
				return nil
			}
		}
		return apierrors.NewNotFound(schema.GroupResource{Group: v1beta1.GroupVersion.Group, Resource: "ipaddresspools"}, key.Name)
	}
	return fmt.Errorf("memReader: cannot get %T", obj)
}

func (r *memReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	switch l := list.(type) {
	case *corev1.ServiceList:
		l.Items = deepCopies(r.services, (*corev1.Service).DeepCopyInto)
	case *corev1.NamespaceList:
		l.Items = deepCopies(r.namespaces, (*corev1.Namespace).DeepCopyInto)
	case *v1beta1.IPAddressPoolList:
		l.Items = deepCopies(r.pools, (*v1beta1.IPAddressPool).DeepCopyInto)
	default:
		return fmt.Errorf("memReader: cannot list %T", list)
	}
	return nil
}

func deepCopies[T any](in []T, copyInto func(*T, *T)) []T {
	out := make([]T, len(in))
	for i := range in {
		copyInto(&in[i], &out[i])
	}
	return out
}

//go:build envtest

package integration

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// newNamespace creates a namespace of the test's own. Namespaces are left
// behind: envtest runs no namespace controller to finish deleting them.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ironlb-it-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

type svcOpt func(*corev1.Service)

// lbService is a LoadBalancer Service with one TCP port 80, selecting pods
// labelled app=name.
func lbService(ns, name string, opts ...svcOpt) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{
				Name: "p80", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080),
			}},
		},
	}
	for _, o := range opts {
		o(svc)
	}
	return svc
}

func annotated(key, value string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[key] = value
	}
}

func fromPool(name string) svcOpt { return annotated(v1beta1.AnnotationAddressPool, name) }

func wantIPs(ips string) svcOpt { return annotated(v1beta1.AnnotationLoadBalancerIPs, ips) }

func sharingKey(key string) svcOpt { return annotated(v1beta1.AnnotationAllowSharedIP, key) }

// sharingWith consents to share the Service's key with these namespaces.
func sharingWith(namespaces ...string) svcOpt {
	return annotated(v1beta1.AnnotationAllowSharedIPNamespaces, strings.Join(namespaces, ","))
}

func specLoadBalancerIP(ip string) svcOpt {
	return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip }
}

func class(c string) svcOpt {
	return func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To(c) }
}

// classless leaves spec.loadBalancerClass unset.
func classless(*corev1.Service) {}

func ports(ps ...int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = nil
		for _, p := range ps {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{
				Name: fmt.Sprintf("p%d", p), Protocol: corev1.ProtocolTCP, Port: p, TargetPort: intstr.FromInt32(p),
			})
		}
	}
}

func selecting(app string) svcOpt {
	return func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": app} }
}

func localPolicy() svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
}

func families(policy corev1.IPFamilyPolicy, fams ...corev1.IPFamily) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.IPFamilyPolicy = ptr.To(policy)
		s.Spec.IPFamilies = fams
	}
}

func requireDualStack() svcOpt {
	return families(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
}

// createService creates svc and deletes it at cleanup.
func createService(t *testing.T, svc *corev1.Service) *corev1.Service {
	t.Helper()
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatalf("creating service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	key := client.ObjectKeyFromObject(svc)
	t.Cleanup(func() {
		deleteAndWait(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})
	})
	return svc
}

func getService(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatalf("reading service %s/%s: %v", ns, name, err)
	}
	return svc
}

// updateService applies change to the stored Service, retrying on
// conflicts with the controller's own writes.
func updateService(t *testing.T, ns, name string, change func(*corev1.Service)) {
	t.Helper()
	eventually(t, "updating service "+ns+"/"+name, func() error {
		svc := getService(t, ns, name)
		change(svc)
		return k8s.Update(context.Background(), svc)
	})
}

// createMany creates n LoadBalancer Services named prefix-0000... from 16
// goroutines, the way a burst of users would, and deletes them all at
// cleanup.
func createMany(t *testing.T, ns, prefix string, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	t.Cleanup(func() {
		err := parallel(n, 16, func(i int) error {
			err := k8s.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names[i]}})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
		if err != nil {
			t.Errorf("deleting services: %v", err)
		}
	})
	if err := parallel(n, 16, func(i int) error {
		return k8s.Create(context.Background(), lbService(ns, names[i]))
	}); err != nil {
		t.Fatalf("creating services: %v", err)
	}
	return names
}

// listServices returns the namespace's Services by name.
func listServices(t *testing.T, ns string) map[string]*corev1.Service {
	t.Helper()
	var list corev1.ServiceList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing services: %v", err)
	}
	out := make(map[string]*corev1.Service, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func ingressIPs(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	return out
}

func ipAllocated(svc *corev1.Service) *metav1.Condition {
	return meta.FindStatusCondition(svc.Status.Conditions, v1beta1.ConditionIPAllocated)
}

// inPrefix reports whether every IP lies in prefix.
func inPrefix(t *testing.T, prefix string, ips ...string) bool {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || !p.Contains(ip) {
			return false
		}
	}
	return len(ips) > 0
}

// waitAllocated waits until the Service shows its addresses and an
// IPAllocated=True condition, and its IPAllocated event is recorded
// (events are written asynchronously), and returns it.
func waitAllocated(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	var svc *corev1.Service
	eventually(t, fmt.Sprintf("service %s/%s gets an IP", ns, name), func() error {
		svc = getService(t, ns, name)
		c := ipAllocated(svc)
		switch {
		case c == nil:
			return errors.New("no IPAllocated condition yet")
		case c.Status != metav1.ConditionTrue:
			return fmt.Errorf("IPAllocated is %s/%s: %s", c.Status, c.Reason, c.Message)
		case len(svc.Status.LoadBalancer.Ingress) == 0:
			return errors.New("IPAllocated is True but status.loadBalancer.ingress is empty")
		case svc.Annotations[v1beta1.AnnotationAllocatedFromPool] == "":
			return errors.New("no pool annotation yet")
		case eventCounts(t, ns, name)[v1beta1.EventIPAllocated] == 0:
			return errors.New("no IPAllocated event yet")
		}
		return nil
	})
	return svc
}

// waitFailed waits until the Service's IPAllocated condition is False with
// reason and an AllocationFailed event is recorded, and returns it.
func waitFailed(t *testing.T, ns, name, reason string) *corev1.Service {
	t.Helper()
	var svc *corev1.Service
	eventually(t, fmt.Sprintf("service %s/%s fails with %s", ns, name, reason), func() error {
		svc = getService(t, ns, name)
		c := ipAllocated(svc)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason {
			return fmt.Errorf("IPAllocated is %+v", c)
		}
		if eventCounts(t, ns, name)[v1beta1.EventAllocationFailed] == 0 {
			return errors.New("no AllocationFailed event yet")
		}
		return nil
	})
	return svc
}

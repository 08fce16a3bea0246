package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
)

// Sample address ranges of the lab's pools: not on any lab link, so only an
// IronLB speaker can make them reachable.
const (
	PoolRangeV4 = "203.0.113.10-203.0.113.50"
	PoolRangeV6 = "2001:db8:200::10-2001:db8:200::50"
)

// Pool builds an IPAddressPool.
func Pool(name string, addresses ...string) *ironlbv1beta1.IPAddressPool {
	return &ironlbv1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       ironlbv1beta1.IPAddressPoolSpec{Addresses: addresses},
	}
}

// L2Advertisement builds an L2Advertisement of pools (none: every pool) on
// eth0. The lab's pools lie on no node's subnet, and its nodes reach the LAN
// through veths, which speakers answer on only when they are named.
func L2Advertisement(name string, pools ...string) *ironlbv1beta1.L2Advertisement {
	return &ironlbv1beta1.L2Advertisement{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       ironlbv1beta1.L2AdvertisementSpec{IPAddressPools: pools, Interfaces: []string{"eth0"}},
	}
}

// BGPAdvertisement builds a BGPAdvertisement of pools (none: every pool).
func BGPAdvertisement(name string, pools ...string) *ironlbv1beta1.BGPAdvertisement {
	return &ironlbv1beta1.BGPAdvertisement{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       ironlbv1beta1.BGPAdvertisementSpec{IPAddressPools: pools},
	}
}

// BGPPeer builds a BGPPeer to address with short timers, so sessions come up
// and fail fast in the lab.
func BGPPeer(name string, myASN, peerASN uint32, address netip.Addr) *ironlbv1beta1.BGPPeer {
	return &ironlbv1beta1.BGPPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: ironlbv1beta1.BGPPeerSpec{
			MyASN: myASN, PeerASN: peerASN, PeerAddress: address.String(),
			HoldTime:      &metav1.Duration{Duration: 9 * time.Second},
			KeepaliveTime: &metav1.Duration{Duration: 3 * time.Second},
		},
	}
}

// ServiceNamespace is where the lab's Services live.
const ServiceNamespace = "default"

// LoadBalancer builds a TCP port 80 Service of type LoadBalancer without a
// selector (the test writes its EndpointSlices), changed by each of mods.
func LoadBalancer(name string, mods ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ServiceNamespace, Name: name},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{
				Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080),
			}},
		},
	}
	for _, m := range mods {
		m(svc)
	}
	return svc
}

// Local sets externalTrafficPolicy: Local.
func Local(svc *corev1.Service) {
	svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

// IPv6Only makes the Service single-stack IPv6.
func IPv6Only(svc *corev1.Service) {
	single := corev1.IPFamilyPolicySingleStack
	svc.Spec.IPFamilyPolicy = &single
	svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
}

// NoNodePorts sets allocateLoadBalancerNodePorts: false. Thousands of
// Services would otherwise exhaust the node port range (30000-32767).
func NoNodePorts(svc *corev1.Service) {
	no := false
	svc.Spec.AllocateLoadBalancerNodePorts = &no
}

// FromPool asks for an address of the named pool.
func FromPool(pool string) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations[ironlbv1beta1.AnnotationAddressPool] = pool
	}
}

// Create creates objects in order.
func (l *Lab) Create(ctx context.Context, objs ...client.Object) error {
	for _, o := range objs {
		if err := l.Kube.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// Ingress returns the addresses in the Service's status, fetched now.
func (l *Lab) Ingress(ctx context.Context, svc *corev1.Service) ([]netip.Addr, error) {
	var cur corev1.Service
	if err := l.Kube.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
		return nil, err
	}
	var ips []netip.Addr
	for _, in := range cur.Status.LoadBalancer.Ingress {
		ip, err := netip.ParseAddr(in.IP)
		if err != nil {
			return nil, fmt.Errorf("service %s ingress %q: %w", svc.Name, in.IP, err)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// WaitForIngress waits until the controller gave the Service an address and
// returns its addresses.
func (l *Lab) WaitForIngress(ctx context.Context, svc *corev1.Service) ([]netip.Addr, error) {
	var ips []netip.Addr
	err := Poll(ctx, 30*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		var err error
		if ips, err = l.Ingress(ctx, svc); err != nil {
			return err
		}
		if len(ips) == 0 {
			return fmt.Errorf("service %s has no ingress address", svc.Name)
		}
		return nil
	})
	return ips, err
}

// Endpoint is one endpoint of a Service: a pod on Node.
type Endpoint struct {
	Node  string
	Ready bool
}

// SetEndpoints writes the Service's EndpointSlices (one per IP family of the
// Service) so they hold exactly endpoints, as the EndpointSlice controller
// would for pods on those nodes. No endpoints leaves empty slices.
func (l *Lab) SetEndpoints(ctx context.Context, svc *corev1.Service, endpoints ...Endpoint) error {
	var cur corev1.Service
	if err := l.Kube.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
		return err
	}
	families := cur.Spec.IPFamilies
	if len(families) == 0 {
		families = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	var errs []error
	for _, fam := range families {
		errs = append(errs, l.writeSlice(ctx, &cur, fam, endpoints))
	}
	return errors.Join(errs...)
}

func (l *Lab) writeSlice(ctx context.Context, svc *corev1.Service, fam corev1.IPFamily, endpoints []Endpoint) error {
	addrType, podNet := discoveryv1.AddressTypeIPv4, netip.MustParsePrefix("192.0.2.0/24")
	if fam == corev1.IPv6Protocol {
		addrType, podNet = discoveryv1.AddressTypeIPv6, netip.MustParsePrefix("2001:db8:300::/64")
	}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Namespace: svc.Namespace,
		Name:      svc.Name + "-lab-" + strings.ToLower(string(addrType)),
	}}
	err := l.Kube.Get(ctx, client.ObjectKeyFromObject(slice), slice)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	slice.Labels = map[string]string{
		discoveryv1.LabelServiceName: svc.Name,
		discoveryv1.LabelManagedBy:   "lab.ironlb.io",
	}
	slice.AddressType = addrType
	port, proto := int32(8080), corev1.ProtocolTCP
	name := svc.Spec.Ports[0].Name
	slice.Ports = []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}}
	slice.Endpoints = nil
	for i, e := range endpoints {
		ready, serving, terminating := e.Ready, e.Ready, false
		node := e.Node
		// Pod addresses are data only: nothing is ever sent to them.
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{hostAddr(podNet, byte(200+i)).String()},
			NodeName:   &node,
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		})
	}
	if exists {
		return l.Kube.Update(ctx, slice)
	}
	return l.Kube.Create(ctx, slice)
}

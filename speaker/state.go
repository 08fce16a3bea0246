package speaker

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// clusterState is the cluster-wide part of the cache as last read: Nodes,
// pools and every protocol's objects. It is read again only when one of
// them changed; Services are read one by one into the decider (readService).
type clusterState struct {
	self  *corev1.Node // nil when this node has no Node object
	nodes []corev1.Node
	input announce.Input // without Services, Live, WinnerVersion and Eligibility
}

// cluster is st's part of the decider's input.
func (st *clusterState) cluster(live map[string]bool, v announce.WinnerVersion, e announce.Eligibility) announce.Cluster {
	return announce.Cluster{
		Nodes: st.input.Nodes, Live: live, Pools: st.input.Pools,
		L2Advertisements: st.input.L2Advertisements, BGPAdvertisements: st.input.BGPAdvertisements,
		WinnerVersion: v, Eligibility: e,
	}
}

// readCluster lists Nodes and pools from the cache, then lets each protocol
// read its own objects into the input. The objects are the cache's own (no
// deep copy): they are only read.
func (s *Speaker) readCluster(ctx context.Context) (*clusterState, error) {
	var (
		nodes corev1.NodeList
		pools v1beta1.IPAddressPoolList
	)
	for _, l := range []client.ObjectList{&nodes, &pools} {
		if err := s.reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing from cache: %w", err)
		}
	}
	st := &clusterState{nodes: nodes.Items}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == s.cfg.NodeName {
			st.self = n
		}
		st.input.Nodes = append(st.input.Nodes, nodeFrom(n))
	}
	for i := range pools.Items {
		st.input.Pools = append(st.input.Pools, poolFrom(&pools.Items[i]))
	}
	for _, p := range s.protocols {
		if err := p.Read(ctx, &st.input); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name(), err)
		}
	}
	return st, nil
}

// readAllServices hands every handled Service in the cache to the decider:
// the first decision's read.
func (s *Speaker) readAllServices(ctx context.Context) error {
	var (
		svcs corev1.ServiceList
		eps  discoveryv1.EndpointSliceList
	)
	for _, l := range []client.ObjectList{&svcs, &eps} {
		if err := s.reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("listing from cache: %w", err)
		}
	}
	endpoints := readyEndpointNodes(eps.Items)
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		s.setService(svc, endpoints[svc.Namespace+"/"+svc.Name])
	}
	return nil
}

// readService reads one Service, and the nodes of its ready endpoints when
// they matter, from the cache into the decider.
func (s *Speaker) readService(ctx context.Context, key types.NamespacedName) error {
	var svc corev1.Service
	err := s.reader.Get(ctx, key, &svc, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		s.forgetService(key.String())
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Service %s from cache: %w", key, err)
	}
	var endpointNodes []string
	if s.cfg.Class.Handles(&svc) && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		var eps discoveryv1.EndpointSliceList
		if err := s.reader.List(ctx, &eps, client.InNamespace(key.Namespace),
			client.MatchingFields{sliceServiceIndex: key.Name}, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("listing EndpointSlices of %s from cache: %w", key, err)
		}
		endpointNodes = readyEndpointNodes(eps.Items)[key.String()]
	}
	s.setService(&svc, endpointNodes)
	return nil
}

// setService hands svc to the decider when it is handled and has an
// address, and forgets it otherwise.
func (s *Speaker) setService(svc *corev1.Service, endpointNodes []string) {
	key := svc.Namespace + "/" + svc.Name
	if !s.cfg.Class.Handles(svc) {
		s.forgetService(key)
		return
	}
	a, ok := serviceFrom(svc, endpointNodes)
	if !ok {
		s.forgetService(key)
		return
	}
	s.decider.SetService(a)
	s.serviceIPs[key] = a.IPs
}

func (s *Speaker) forgetService(key string) {
	if _, ok := s.serviceIPs[key]; ok {
		s.decider.DeleteService(key)
		delete(s.serviceIPs, key)
	}
}

// sliceServiceIndex indexes EndpointSlices by the name of their Service, so
// that one Service's slices are found without scanning its namespace.
const sliceServiceIndex = "ironlb.io/service-name"

func sliceServiceName(o client.Object) []string {
	if name := o.GetLabels()[discoveryv1.LabelServiceName]; name != "" {
		return []string{name}
	}
	return nil
}

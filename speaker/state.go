package speaker

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// clusterState is one consistent read of the cache.
type clusterState struct {
	self     *corev1.Node // nil when this node has no Node object
	nodes    []corev1.Node
	services map[string]*corev1.Service // handled Services with addresses, by key
	input    announce.Input             // without Live
}

// readState lists what every protocol depends on from the cache, then lets
// each protocol read its own objects into the input. The objects are the
// cache's own (no deep copy): they are only read.
func (s *Speaker) readState(ctx context.Context) (*clusterState, error) {
	var (
		nodes corev1.NodeList
		svcs  corev1.ServiceList
		eps   discoveryv1.EndpointSliceList
		pools v1beta1.IPAddressPoolList
	)
	for _, l := range []client.ObjectList{&nodes, &svcs, &eps, &pools} {
		if err := s.reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing from cache: %w", err)
		}
	}
	st := &clusterState{nodes: nodes.Items, services: map[string]*corev1.Service{}}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == s.cfg.NodeName {
			st.self = n
		}
		st.input.Nodes = append(st.input.Nodes, nodeFrom(n))
	}
	endpoints := readyEndpointNodes(eps.Items)
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if !s.cfg.Class.Handles(svc) {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		if a, ok := serviceFrom(svc, endpoints[key]); ok {
			st.input.Services = append(st.input.Services, a)
			st.services[key] = svc
		}
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

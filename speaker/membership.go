package speaker

import (
	"context"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rejoinInterval is how often speakers on Nodes that are not live are
// joined again. It is what heals a partition: memberlist forgets dead members
// and never dials them again on its own. Failure detection does not wait on
// it; only a node coming back does.
const rejoinInterval = 5 * time.Second

// runMembership joins the speakers of every other Node, then lets decisions
// run, forwards membership changes as recomputations, and keeps rejoining
// Nodes whose speaker is not live.
func (s *Speaker) runMembership(ctx context.Context) error {
	// First meet the others (this lists Nodes, waiting for the cache), so
	// the first decision is not made by a speaker that believes it is alone
	// and would claim every address.
	n := s.members.Join(ctx, s.peerAddrs(ctx, false))
	s.log.Info("Joined speakers", "answered", n, "live", len(s.members.Live()))
	s.joined.Store(true)
	s.recompute()

	go s.rejoinLoop(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.members.Changes():
			s.recompute()
		}
	}
}

// rejoinLoop joins Nodes that are not live, periodically and after each
// decision (a new Node). It runs apart from change forwarding: a join of an
// unreachable address may take a while and must not delay a failover.
func (s *Speaker) rejoinLoop(ctx context.Context) {
	t := time.NewTicker(rejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.joinKick:
		}
		if addrs := s.peerAddrs(ctx, true); len(addrs) > 0 {
			if n := s.members.Join(ctx, addrs); n > 0 {
				s.log.V(1).Info("Rejoined speakers", "answered", n)
			}
		}
	}
}

// peerAddrs lists the memberlist addresses of the other Nodes (InternalIP
// and the memberlist port), only those not live when onlyMissing is set.
func (s *Speaker) peerAddrs(ctx context.Context, onlyMissing bool) []netip.AddrPort {
	var nodes corev1.NodeList
	if err := s.reader.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var live map[string]bool
	if onlyMissing {
		live = s.members.Live()
	}
	var out []netip.AddrPort
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == s.cfg.NodeName || live[n.Name] {
			continue
		}
		if ip, ok := internalIP(n); ok {
			out = append(out, netip.AddrPortFrom(ip, uint16(s.cfg.MemberlistPort)))
		}
	}
	return out
}

package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/bgp"
)

// sessionStatusInterval is how often BGP session states are compared with
// what BGPPeer status says. Writes happen only on change.
const sessionStatusInterval = time.Second

// peersForNode converts the BGPPeers that select this node. A peer that
// cannot be configured (bad address, password Secret missing) is left out and
// its reason returned by name, for its session status.
func (s *Speaker) peersForNode(ctx context.Context, st *clusterState) ([]bgp.Peer, map[string]string) {
	var nodeLabels map[string]string
	if st.self != nil {
		nodeLabels = st.self.Labels
	}
	var peers []bgp.Peer
	problems := map[string]string{}
	for i := range st.peers {
		p := &st.peers[i]
		selected, err := selectsNode(p.Spec.NodeSelectors, nodeLabels)
		if err != nil {
			problems[p.Name] = fmt.Sprintf("invalid nodeSelectors: %v", err)
			continue
		}
		if !selected {
			continue
		}
		peer, err := s.peerFrom(ctx, p)
		if err != nil {
			problems[p.Name] = err.Error()
			continue
		}
		peers = append(peers, peer)
	}
	return peers, problems
}

func (s *Speaker) peerFrom(ctx context.Context, p *v1beta1.BGPPeer) (bgp.Peer, error) {
	out := bgp.Peer{
		Name:            p.Name,
		MyASN:           p.Spec.MyASN,
		PeerASN:         p.Spec.PeerASN,
		Port:            p.Spec.PeerPort,
		EBGPMultiHop:    p.Spec.EBGPMultiHop,
		GracefulRestart: p.Spec.EnableGracefulRestart,
	}
	var err error
	if out.Address, err = netip.ParseAddr(p.Spec.PeerAddress); err != nil {
		return out, fmt.Errorf("peerAddress %q is not an IP address", p.Spec.PeerAddress)
	}
	if p.Spec.SourceAddress != "" {
		if out.SourceAddress, err = netip.ParseAddr(p.Spec.SourceAddress); err != nil {
			return out, fmt.Errorf("sourceAddress %q is not an IP address", p.Spec.SourceAddress)
		}
	}
	if p.Spec.RouterID != "" {
		if out.RouterID, err = netip.ParseAddr(p.Spec.RouterID); err != nil {
			return out, fmt.Errorf("routerID %q is not an IP address", p.Spec.RouterID)
		}
	}
	if p.Spec.HoldTime != nil {
		out.HoldTime = p.Spec.HoldTime.Duration
	}
	if p.Spec.KeepaliveTime != nil {
		out.KeepaliveTime = p.Spec.KeepaliveTime.Duration
	}
	if ref := p.Spec.PasswordSecret; ref != nil {
		if out.Password, err = s.password(ctx, ref); err != nil {
			return out, err
		}
	}
	return out, nil
}

// password reads the TCP MD5 password from the cached Secret.
func (s *Speaker) password(ctx context.Context, ref *v1beta1.SecretKeyRef) (string, error) {
	where := ref.Namespace + "/" + ref.Name
	if ns := s.cfg.SecretNamespace; ns != "" && ref.Namespace != ns {
		return "", fmt.Errorf("password Secret %s is outside namespace %s, the only one the speaker reads Secrets from", where, ns)
	}
	var sec corev1.Secret
	if err := s.reader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("password Secret %s not found", where)
		}
		return "", fmt.Errorf("reading password Secret %s: %w", where, err)
	}
	key := ref.Key
	if key == "" {
		key = "password"
	}
	pw, ok := sec.Data[key]
	if !ok {
		return "", fmt.Errorf("password Secret %s has no key %q", where, key)
	}
	return string(pw), nil
}

// sessionEntry is this node's line in BGPPeer status.sessions.
type sessionEntry struct {
	State, Message string
}

// runSessionStatus keeps this node's entry of every BGPPeer's
// status.sessions in step with the BGP speaker, writing only on change.
func (s *Speaker) runSessionStatus(ctx context.Context) error {
	written := map[types.UID]sessionEntry{} // last write per peer object
	return s.everyApplied(ctx, sessionStatusInterval, s.statusKick, func(ctx context.Context) { s.syncSessionStatus(ctx, written) })
}

// everyApplied calls sync every interval, and at once when kick fires (a nil
// kick never does), until ctx ends; it skips rounds until the speaker has
// applied its first decision, so nothing is written from an empty state.
func (s *Speaker) everyApplied(ctx context.Context, interval time.Duration, kick <-chan struct{}, sync func(context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-kick:
		}
		if s.applied.Load() {
			sync(ctx)
		}
	}
}

func (s *Speaker) syncSessionStatus(ctx context.Context, written map[types.UID]sessionEntry) {
	var peers v1beta1.BGPPeerList
	if err := s.reader.List(ctx, &peers, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	var self corev1.Node
	var nodeLabels map[string]string
	if err := s.reader.Get(ctx, types.NamespacedName{Name: s.cfg.NodeName}, &self); err == nil {
		nodeLabels = self.Labels
	}
	sessions := s.bgp.Sessions()
	s.mu.Lock()
	problems := s.peerProblems
	s.mu.Unlock()

	for i := range peers.Items {
		p := &peers.Items[i]
		current, hasCurrent := s.ownSession(p)
		selected, _ := selectsNode(p.Spec.NodeSelectors, nodeLabels)
		if _, bad := problems[p.Name]; bad {
			selected = true // report why it is not configured
		}
		if !selected {
			if hasCurrent {
				s.applySession(ctx, p, nil, written)
			}
			continue
		}
		want := sessionEntry{State: bgp.StateIdle}
		if msg, bad := problems[p.Name]; bad {
			want.Message = msg
		} else if ss, ok := sessions[p.Name]; ok {
			want = sessionEntry{State: ss.State, Message: ss.Message}
		}
		if last, ok := written[p.UID]; ok && last == want {
			continue
		}
		if hasCurrent && current.State == want.State && current.Message == want.Message {
			written[p.UID] = want
			continue
		}
		ltt := metav1.Now()
		if hasCurrent && current.State == want.State {
			ltt = current.LastTransitionTime
		}
		s.applySession(ctx, p, &v1beta1.BGPSessionStatus{
			Node: s.cfg.NodeName, State: want.State, Message: want.Message, LastTransitionTime: ltt,
		}, written)
	}
}

func (s *Speaker) ownSession(p *v1beta1.BGPPeer) (v1beta1.BGPSessionStatus, bool) {
	for _, e := range p.Status.Sessions {
		if e.Node == s.cfg.NodeName {
			return e, true
		}
	}
	return v1beta1.BGPSessionStatus{}, false
}

// applySession writes this node's entry (nil removes it) with server-side
// apply under a field manager of this node: status.sessions is a map keyed by
// node, so each speaker owns exactly its own entry and never touches the
// others'.
func (s *Speaker) applySession(ctx context.Context, p *v1beta1.BGPPeer, e *v1beta1.BGPSessionStatus, written map[types.UID]sessionEntry) {
	sessions := []any{}
	if e != nil {
		entry := map[string]any{"node": e.Node, "state": e.State, "lastTransitionTime": e.LastTransitionTime.UTC().Format(time.RFC3339)}
		if e.Message != "" {
			entry["message"] = e.Message
		}
		sessions = append(sessions, entry)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"sessions": sessions}}}
	u.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("BGPPeer"))
	u.SetName(p.Name)
	u.SetUID(p.UID) // never recreate or touch a newer object of the same name
	err := s.writer.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(sessionFieldOwner(s.cfg.NodeName)), client.ForceOwnership)
	if err != nil {
		s.log.V(1).Info("Could not write BGP session status; retrying", "peer", p.Name, "error", err.Error())
		return
	}
	if e == nil {
		delete(written, p.UID)
		return
	}
	written[p.UID] = sessionEntry{State: e.State, Message: e.Message}
}

// sessionFieldOwner names this node's field manager for its session entries.
func sessionFieldOwner(node string) string {
	const prefix = "ironlb-speaker-"
	if len(prefix)+len(node) > 128 { // field manager names are at most 128 bytes
		node = node[:128-len(prefix)]
	}
	return prefix + node
}

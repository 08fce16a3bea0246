package bgp

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// sessionStatusInterval is how often BGP session states are compared with
// what BGPPeer status says. Writes happen only on change.
const sessionStatusInterval = time.Second

// sessionEntry is this node's line in BGPPeer status.sessions.
type sessionEntry struct {
	State, Message string
}

// runSessionStatus keeps this node's entry of every BGPPeer's
// status.sessions in step with the BGP speaker, writing only on change: at
// every interval and after every decision.
func (p *Protocol) runSessionStatus(ctx context.Context) error {
	written := map[types.UID]sessionEntry{} // last write per peer object
	return protocol.Every(ctx, sessionStatusInterval, p.env.Decided, p.env.Applied,
		func(ctx context.Context) { p.syncSessionStatus(ctx, written) })
}

func (p *Protocol) syncSessionStatus(ctx context.Context, written map[types.UID]sessionEntry) {
	var peers v1beta1.BGPPeerList
	if err := p.reader.List(ctx, &peers, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	var self corev1.Node
	var nodeLabels map[string]string
	if err := p.reader.Get(ctx, types.NamespacedName{Name: p.env.Node}, &self); err == nil {
		nodeLabels = self.Labels
	}
	sessions := p.speaker.Sessions()
	p.mu.Lock()
	problems := p.peerProblems
	p.mu.Unlock()

	for i := range peers.Items {
		bp := &peers.Items[i]
		current, hasCurrent := p.ownSession(bp)
		selected, _ := selectsNode(bp.Spec.NodeSelectors, nodeLabels)
		if _, bad := problems[bp.Name]; bad {
			selected = true // report why it is not configured
		}
		if !selected {
			if hasCurrent {
				p.applySession(ctx, bp, nil, written)
			}
			continue
		}
		want := sessionEntry{State: bgpspeaker.StateIdle}
		if msg, bad := problems[bp.Name]; bad {
			want.Message = msg
		} else if ss, ok := sessions[bp.Name]; ok {
			want = sessionEntry{State: ss.State, Message: ss.Message}
		}
		if last, ok := written[bp.UID]; ok && last == want {
			continue
		}
		if hasCurrent && current.State == want.State && current.Message == want.Message {
			written[bp.UID] = want
			continue
		}
		ltt := metav1.Now()
		if hasCurrent && current.State == want.State {
			ltt = current.LastTransitionTime
		}
		p.applySession(ctx, bp, &v1beta1.BGPSessionStatus{
			Node: p.env.Node, State: want.State, Message: want.Message, LastTransitionTime: ltt,
		}, written)
	}
}

func (p *Protocol) ownSession(bp *v1beta1.BGPPeer) (v1beta1.BGPSessionStatus, bool) {
	for _, e := range bp.Status.Sessions {
		if e.Node == p.env.Node {
			return e, true
		}
	}
	return v1beta1.BGPSessionStatus{}, false
}

// sessionsApply is the part of BGPPeer status one node's field manager
// owns: its entry of status.sessions, or none (an empty list gives the
// entry up).
type sessionsApply struct {
	Sessions []v1beta1.BGPSessionStatus `json:"sessions"`
}

// applySession writes this node's entry (nil removes it) with server-side
// apply under this node's field manager (protocol.NodeFieldOwner).
func (p *Protocol) applySession(ctx context.Context, bp *v1beta1.BGPPeer, e *v1beta1.BGPSessionStatus, written map[types.UID]sessionEntry) {
	status := sessionsApply{Sessions: []v1beta1.BGPSessionStatus{}}
	if e != nil {
		status.Sessions = append(status.Sessions, *e)
	}
	if err := protocol.ApplyStatus(ctx, p.writer, bp, status, protocol.NodeFieldOwner(p.env.Node)); err != nil {
		p.log.V(1).Info("Could not write BGP session status; retrying", "peer", bp.Name, "error", err.Error())
		return
	}
	if e == nil {
		delete(written, bp.UID)
		return
	}
	written[bp.UID] = sessionEntry{State: e.State, Message: e.Message}
}

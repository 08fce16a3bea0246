package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
)

// peersForNode converts the BGPPeers that select this node, whose labels
// are nodeLabels. A peer that cannot be configured (bad address or timer,
// password Secret missing) is left out and its reason returned by name, for
// its session status.
func (p *Protocol) peersForNode(ctx context.Context, nodeLabels map[string]string) ([]bgpspeaker.Peer, map[string]string) {
	var peers []bgpspeaker.Peer
	problems := map[string]string{}
	for i := range p.peers {
		bp := &p.peers[i]
		selected, err := selectsNode(bp.Spec.NodeSelectors, nodeLabels)
		if err != nil {
			problems[bp.Name] = fmt.Sprintf("invalid nodeSelectors: %v", err)
			continue
		}
		if !selected {
			continue
		}
		peer, err := p.peerFrom(ctx, bp)
		if err != nil {
			problems[bp.Name] = err.Error()
			continue
		}
		peers = append(peers, peer)
	}
	return peers, problems
}

// selectsNode applies a BGPPeer's nodeSelectors ("empty = every node") to
// nodeLabels. A selector that does not parse selects nothing and is
// reported.
func selectsNode(sels []metav1.LabelSelector, nodeLabels map[string]string) (bool, error) {
	if len(sels) == 0 {
		return true, nil
	}
	parsed, errs := validation.LabelSelectors(field.NewPath("spec", "nodeSelectors"), sels)
	var err error
	if len(errs) > 0 {
		err = errs.ToAggregate()
	}
	for _, s := range parsed {
		if s.Matches(labels.Set(nodeLabels)) {
			return true, err
		}
	}
	return false, err
}

// peerFrom converts a BGPPeer. Its timers are held to the rules admission
// applies, in the same words.
func (p *Protocol) peerFrom(ctx context.Context, bp *v1beta1.BGPPeer) (bgpspeaker.Peer, error) {
	out := bgpspeaker.Peer{
		Name:            bp.Name,
		MyASN:           bp.Spec.MyASN,
		PeerASN:         bp.Spec.PeerASN,
		DynamicASN:      bgpspeaker.DynamicASN(bp.Spec.DynamicASN),
		Port:            bp.Spec.PeerPort,
		EBGPMultiHop:    bp.Spec.EBGPMultiHop,
		GracefulRestart: bp.Spec.EnableGracefulRestart,
		DisableMP:       bp.Spec.DisableMP,
		VRF:             bp.Spec.VRF,
	}
	var err error
	if out.Address, err = netip.ParseAddr(bp.Spec.PeerAddress); err != nil {
		return out, fmt.Errorf("peerAddress %q is not an IP address", bp.Spec.PeerAddress)
	}
	if bp.Spec.SourceAddress != "" {
		if out.SourceAddress, err = netip.ParseAddr(bp.Spec.SourceAddress); err != nil {
			return out, fmt.Errorf("sourceAddress %q is not an IP address", bp.Spec.SourceAddress)
		}
	}
	if bp.Spec.RouterID != "" {
		if out.RouterID, err = netip.ParseAddr(bp.Spec.RouterID); err != nil {
			return out, fmt.Errorf("routerID %q is not an IP address", bp.Spec.RouterID)
		}
	}
	if out.HoldTime, out.KeepaliveTime, err = timers(&bp.Spec); err != nil {
		return out, err
	}
	if ct := bp.Spec.ConnectTime; ct != nil {
		if err := validation.ValidateConnectTime(ct.Duration); err != nil {
			return out, field.Invalid(field.NewPath("spec", "connectTime"), ct.Duration.String(), err.Error())
		}
		out.ConnectTime = ct.Duration
	}
	if ref := bp.Spec.PasswordSecret; ref != nil {
		if out.Password, err = p.password(ctx, ref); err != nil {
			return out, err
		}
	}
	return out, nil
}

// ErrHoldTimeZero is why a BGPPeer with holdTime 0s is not configured.
// RFC 4271 lets a session run without keepalives, but GoBGP's API turns a
// configured hold time of 0 into its default of 90 s, so the session would
// silently run with hold time 90s: the peer is refused, and its session
// status says why, rather than run with timers nobody asked for. Admission
// warns with the same words (validation.ValidateBGPPeer).
var ErrHoldTimeZero = errors.New(validation.HoldTimeZeroUnsupported)

// timers returns the hold and keepalive times of spec, zero when unset
// (speaker/bgp's defaults), refusing those admission refuses, and an
// explicit hold time of 0 (ErrHoldTimeZero): unset and 0s differ.
func timers(spec *v1beta1.BGPPeerSpec) (hold, keepalive time.Duration, err error) {
	path := field.NewPath("spec")
	inForce := validation.DefaultHoldTime
	if spec.HoldTime != nil {
		hold = spec.HoldTime.Duration
		if err := validation.ValidateHoldTime(hold); err != nil {
			return 0, 0, field.Invalid(path.Child("holdTime"), hold.String(), err.Error())
		}
		if hold == 0 {
			return 0, 0, field.Invalid(path.Child("holdTime"), hold.String(), ErrHoldTimeZero.Error())
		}
		inForce = hold
	}
	if spec.KeepaliveTime != nil {
		keepalive = spec.KeepaliveTime.Duration
		if err := validation.ValidateKeepaliveTime(keepalive, inForce); err != nil {
			return 0, 0, field.Invalid(path.Child("keepaliveTime"), keepalive.String(), err.Error())
		}
	}
	return hold, keepalive, nil
}

// password reads the TCP MD5 password from the cached Secret.
func (p *Protocol) password(ctx context.Context, ref *v1beta1.SecretKeyRef) (string, error) {
	where := ref.Namespace + "/" + ref.Name
	if ns := p.secretNamespace; ns != "" && ref.Namespace != ns {
		return "", fmt.Errorf("password Secret %s is outside namespace %s, the only one the speaker reads Secrets from", where, ns)
	}
	var sec corev1.Secret
	if err := p.reader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &sec); err != nil {
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

// referencedSecret reports whether some BGPPeer reads its password from the
// Secret o: only then does its change recompute.
func (p *Protocol) referencedSecret(ctx context.Context, o client.Object) bool {
	var peers v1beta1.BGPPeerList
	if err := p.reader.List(ctx, &peers, client.UnsafeDisableDeepCopy); err != nil {
		return false
	}
	for _, bp := range peers.Items {
		ref := bp.Spec.PasswordSecret
		if ref != nil && ref.Name == o.GetName() && ref.Namespace == o.GetNamespace() {
			return true
		}
	}
	return false
}

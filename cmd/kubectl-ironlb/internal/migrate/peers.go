package migrate

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// passwordKey is the key of a BGP password in its Secret, for MetalLB's
// basic-auth Secrets and IronLB's default alike.
const passwordKey = "password"

// peer converts a BGPPeer. A peer IronLB cannot open at all (unnumbered)
// is left out: opening it another way would peer with the wrong router.
func (c *converter) peer(src *metallb.BGPPeer) (v1beta1.BGPPeer, bool) {
	obj := objectOf(metallb.KindBGPPeer, src)
	s := &src.Spec
	if s.Interface != "" {
		c.rep.Add(obj, "spec.interface", s.Interface, report.Dropped,
			"IronLB peers with an address (spec.peerAddress) only, not unnumbered over an interface; the peer is left out")
		return v1beta1.BGPPeer{}, false
	}
	out := v1beta1.BGPPeer{
		ObjectMeta: c.objectMeta(metallb.KindBGPPeer, &src.ObjectMeta),
		Spec: v1beta1.BGPPeerSpec{
			MyASN:                 s.MyASN,
			PeerASN:               s.PeerASN,
			DynamicASN:            v1beta1.DynamicASNMode(s.DynamicASN),
			PeerAddress:           s.PeerAddress,
			PeerPort:              s.PeerPort,
			SourceAddress:         s.SourceAddress,
			RouterID:              s.RouterID,
			HoldTime:              s.HoldTime,
			KeepaliveTime:         s.KeepaliveTime,
			ConnectTime:           s.ConnectTime,
			EBGPMultiHop:          s.EBGPMultiHop,
			EnableGracefulRestart: s.EnableGracefulRestart,
			VRF:                   s.VRFName,
			NodeSelectors:         s.NodeSelectors,
		},
	}
	c.password(obj, src, &out)
	c.addressFamilies(obj, s, &out)
	c.peerBFD(obj, src, &out)
	return out, true
}

// addressFamilies carries over which address families a session carries.
// MetalLB v0.15 opens a session for the family of its peer address only,
// unless dualStackAddressFamily asks for both; disableMP (deprecated in
// v0.15) asks for one family per session too. IronLB negotiates both
// unless disableMP says otherwise.
func (c *converter) addressFamilies(obj report.Object, s *metallb.BGPPeerSpec, out *v1beta1.BGPPeer) {
	out.Spec.DisableMP = s.DisableMP || !s.DualStackAddressFamily
	if !s.DisableMP && !s.DualStackAddressFamily {
		c.rep.Add(obj, "spec.dualStackAddressFamily", false, report.Changed,
			"written as disableMP: true: without dualStackAddressFamily, MetalLB opens the session for the address family of its peer address only, "+
				"as IronLB does with disableMP")
	}
}

// peerBFD carries spec.bfdProfile over, following the profile's rename. It
// is dropped, leaving a session without BFD, when the profile is not
// carried over, and when MetalLB ran it multihop: IronLB's BFD is single
// hop only (RFC 5881), and a multihop session's BFD would never come up.
func (c *converter) peerBFD(obj report.Object, src *metallb.BGPPeer, out *v1beta1.BGPPeer) {
	name := src.Spec.BFDProfile
	if name == "" {
		return
	}
	const without = "; the session runs without BFD, its failure noticed by the hold time (spec.holdTime) only"
	newName, ok := c.bfdKeys[key{src.Namespace, name}]
	switch {
	case !ok:
		c.rep.Add(obj, "spec.bfdProfile", name, report.Dropped,
			"no BFDProfile of this name in namespace "+src.Namespace+" is carried over"+without)
	case out.Spec.EBGPMultiHop && !validation.IsIBGP(&out.Spec):
		c.rep.Add(obj, "spec.bfdProfile", name, report.Dropped,
			"with ebgpMultiHop MetalLB ran multihop BFD (RFC 5883), which IronLB does not: its BFD is single hop only"+without)
	default:
		out.Spec.BFDProfile = newName
	}
}

// password carries the session password over. ironlb-speaker reads
// passwords from Secrets of one namespace only (its --secret-namespace),
// never inline: an inline password becomes a Secret there, and a Secret
// MetalLB read from its own namespace must be copied there.
func (c *converter) password(obj report.Object, src *metallb.BGPPeer, out *v1beta1.BGPPeer) {
	s := &src.Spec
	ns := c.opts.SecretNamespace
	switch {
	case s.PasswordSecret.Name != "":
		from := s.PasswordSecret.Namespace
		if from == "" {
			from = src.Namespace
		}
		out.Spec.PasswordSecret = &v1beta1.SecretKeyRef{Name: s.PasswordSecret.Name, Namespace: ns, Key: passwordKey}
		c.rep.Add(obj, "spec.passwordSecret", from+"/"+s.PasswordSecret.Name, report.Action,
			fmt.Sprintf("copy Secret %s/%s to namespace %s, the only one ironlb-speaker reads BGP passwords from "+
				"(see docs/migration.md: kubectl get secret ... | kubectl apply)", from, s.PasswordSecret.Name, ns))
		if s.Password != "" {
			c.rep.Add(obj, "spec.password", "(hidden)", report.Dropped,
				"MetalLB forbids both spec.password and spec.passwordSecret; the Secret is used")
		}
	case s.Password != "":
		secret := c.passwordSecret(out.Name, s.Password)
		out.Spec.PasswordSecret = &v1beta1.SecretKeyRef{Name: secret.Name, Namespace: ns, Key: passwordKey}
		c.out.Secrets = append(c.out.Secrets, secret)
		c.rep.Add(obj, "spec.password", "(hidden)", report.Changed,
			fmt.Sprintf("moved to Secret %s/%s (key %s): IronLB takes BGP passwords from Secrets only; namespace %s must exist (the chart creates it)",
				ns, secret.Name, passwordKey, ns))
	}
}

// passwordSecret is the Secret an inline password moves to, named after
// the IronLB peer.
func (c *converter) passwordSecret(peer, password string) corev1.Secret {
	const suffix = "-bgp-password"
	base := peer
	if max := k8svalidation.DNS1123SubdomainMaxLength - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-.")
	}
	name := base + suffix
	return corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.opts.SecretNamespace},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{passwordKey: []byte(password)},
	}
}

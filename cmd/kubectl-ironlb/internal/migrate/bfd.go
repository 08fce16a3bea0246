package migrate

import (
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// bfdProfile converts a BFDProfile. The timers and passive mode carry over
// (MetalLB's bounds and defaults are IronLB's); the echo function and the
// multihop minimum TTL, which IronLB's BFD does not have, are dropped.
func (c *converter) bfdProfile(src *metallb.BFDProfile) v1beta1.BFDProfile {
	obj := objectOf(metallb.KindBFDProfile, src)
	s := &src.Spec
	out := v1beta1.BFDProfile{
		ObjectMeta: c.objectMeta(metallb.KindBFDProfile, &src.ObjectMeta),
		Spec: v1beta1.BFDProfileSpec{
			ReceiveInterval:  s.ReceiveInterval,
			TransmitInterval: s.TransmitInterval,
			DetectMultiplier: s.DetectMultiplier,
			PassiveMode:      s.PassiveMode != nil && *s.PassiveMode,
		},
	}
	const noEcho = "IronLB's BFD has no echo function"
	if s.EchoMode != nil && *s.EchoMode {
		c.rep.Add(obj, "spec.echoMode", true, report.Dropped,
			noEcho+": the profile runs without it, failures detected from control packets alone at the intervals above")
	}
	if s.EchoInterval != nil {
		c.rep.Add(obj, "spec.echoInterval", *s.EchoInterval, report.Dropped, noEcho)
	}
	if s.MinimumTTL != nil {
		c.rep.Add(obj, "spec.minimumTtl", *s.MinimumTTL, report.Dropped,
			"MetalLB (FRR) applies it to multihop sessions only; IronLB runs single-hop BFD, "+
				"which accepts packets with TTL 255 alone, as MetalLB's single-hop sessions did")
	}
	return out
}

// admitBFDProfiles applies the webhook's BFDProfile rules.
func (c *converter) admitBFDProfiles() {
	var admitted []v1beta1.BFDProfile
	c.bfdKeys = map[key]string{}
	for _, p := range c.out.BFDProfiles {
		src := c.sourceOf(metallb.KindBFDProfile, p.Name)
		if errs := validation.ValidateBFDProfile(&p.Spec); len(errs) > 0 {
			c.refused(src.obj, errs, "; the profile is left out")
			continue
		}
		admitted = append(admitted, p)
		c.bfdKeys[src.key] = p.Name
	}
	c.out.BFDProfiles = admitted
}

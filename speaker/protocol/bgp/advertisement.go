package bgp

import (
	"context"
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// advertisement is a BGPAdvertisement, converted for the decision, with
// what is wrong with it.
type advertisement struct {
	obj *v1beta1.BGPAdvertisement
	adv announce.BGPAdvertisement
	// invalid: label selectors that do not parse, by the rule admission
	// applies. Each selects nothing; the rest of the advertisement applies.
	invalid error
	// badCommunities are the communities the speaker cannot announce, by
	// the rule admission applies too (validation.ResolveCommunities): out
	// of range, or an alias no Community object defines. An advertisement
	// with any is left out of the decision: announcing its routes without
	// some of the communities asked for (no-export-like tags) could leak
	// them, and merging it with another advertisement's route would make
	// GoBGP refuse that route as well.
	badCommunities field.ErrorList
}

// parse reads a BGPAdvertisement, resolving its communities' well-known
// names and Community aliases (alias name to value) to values.
func parse(a *v1beta1.BGPAdvertisement, aliases map[string]string) advertisement {
	spec := field.NewPath("spec")
	poolSels, errs := validation.LabelSelectors(spec.Child("ipAddressPoolSelectors"), a.Spec.IPAddressPoolSelectors)
	nodeSels, nodeErrs := validation.LabelSelectors(spec.Child("nodeSelectors"), a.Spec.NodeSelectors)
	communities, badCommunities := validation.ResolveCommunities(a.Spec.Communities, aliases)
	out := advertisement{
		obj:            a,
		badCommunities: badCommunities,
		adv: announce.BGPAdvertisement{
			Name:                a.Name,
			Pools:               announce.PoolSelector{Names: a.Spec.IPAddressPools, Selectors: poolSels},
			NodeSelectors:       nodeSels,
			Peers:               a.Spec.Peers,
			AggregationLength:   a.Spec.AggregationLength,
			AggregationLengthV6: a.Spec.AggregationLengthV6,
			LocalPref:           a.Spec.LocalPref,
			Communities:         communities,
		},
	}
	if errs = append(errs, nodeErrs...); len(errs) > 0 {
		out.invalid = errs.ToAggregate()
	}
	return out
}

// usable reports whether the advertisement takes part in the decision.
func (a advertisement) usable() bool { return len(a.badCommunities) == 0 }

// refusals lists, by name, the BGPAdvertisements res leaves out, with the
// reason their status and the logs give.
func (p *Protocol) refusals(res announce.Result) map[string]protocol.Refusal {
	out := map[string]protocol.Refusal{}
	for _, a := range p.advertisements {
		var reason string
		var msgs []string
		if !a.usable() {
			reason = v1beta1.ReasonInvalidCommunity
			for _, e := range a.badCommunities {
				msgs = append(msgs, e.Error())
			}
		} else if errs := res.RefusedAggregation[a.obj.Name]; len(errs) > 0 {
			reason = v1beta1.ReasonInvalidAggregation
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
		} else {
			continue
		}
		out[a.obj.Name] = protocol.Refusal{Reason: reason,
			Message: strings.Join(msgs, "; ") + "; none of this advertisement's routes are announced until it is fixed"}
	}
	return out
}

// logRefusals logs the advertisements refused or accepted again since the
// last decision (every decision would repeat them).
func (p *Protocol) logRefusals(now map[string]protocol.Refusal) {
	for name, r := range now {
		if p.lastRefusals[name] != r {
			p.log.Error(errors.New(r.Message), "Refusing BGPAdvertisement", "advertisement", name, "reason", r.Reason)
		}
	}
	for name := range p.lastRefusals {
		if _, still := now[name]; !still {
			p.log.Info("BGPAdvertisement accepted again", "advertisement", name)
		}
	}
	p.lastRefusals = now
}

// writeAdvertisementStatus writes matchedPools and Ready of every
// BGPAdvertisement whose status changed.
func (p *Protocol) writeAdvertisementStatus(ctx context.Context, pools []announce.Pool, refusals map[string]protocol.Refusal) error {
	known := make(map[string]bool, len(p.peers))
	for i := range p.peers {
		known[p.peers[i].Name] = true
	}
	var errs []error
	for _, a := range p.advertisements {
		want := protocol.Advertisement{
			Generation:       a.obj.Generation,
			Pools:            a.adv.Pools,
			InvalidSelectors: a.invalid,
		}
		if r, ok := refusals[a.obj.Name]; ok {
			want.Refused = &r
		}
		for _, peer := range a.obj.Spec.Peers {
			if !known[peer] {
				want.UnknownPeers = append(want.UnknownPeers, peer)
			}
		}
		errs = append(errs, protocol.WriteAdvertisementStatus(ctx, p.writer, a.obj,
			a.obj.Status.MatchedPools, a.obj.Status.Conditions, want.WantStatus(pools)))
	}
	return errors.Join(errs...)
}

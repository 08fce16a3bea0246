package migrate

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
	"github.com/ironlb/ironlb/controllers/webhook"
)

// source is where a converted object came from: its report name and, for
// a pool, the index in the source's spec.addresses of each entry kept.
type source struct {
	key     key
	obj     report.Object
	entries []int
}

// sourceOf finds the source of the IronLB object of kind named name.
func (c *converter) sourceOf(kind, name string) source {
	for k, n := range c.names[kind] {
		if n == name {
			return source{key: k, obj: report.Object{Kind: kind, Namespace: k.ns, Name: k.name}}
		}
	}
	return source{obj: report.Object{Kind: kind, Name: name}}
}

// refused reports each error IronLB's admission gives for an object.
func (c *converter) refused(obj report.Object, errs field.ErrorList, consequence string) {
	for _, e := range errs {
		c.rep.Add(obj, e.Field, e.BadValue, report.Dropped, fmt.Sprintf("IronLB's admission refuses it: %s%s", e.ErrorBody(), consequence))
	}
}

// admitPools applies the webhook's pool rules, each pool against those
// admitted before it. An entry refused (it overlaps another pool's, say) is
// left out and the rest of the pool kept: leaving the whole pool out would
// move every Service it holds.
func (c *converter) admitPools() {
	var admitted []v1beta1.IPAddressPool
	c.poolKeys = map[key]string{}
	for _, p := range c.out.Pools {
		src := c.sourceOf(metallb.KindIPAddressPool, p.Name)
		src.entries = c.entrySources(src.key, p.Spec.Addresses)
		if c.admitPool(&p, src, admitted) {
			admitted = append(admitted, p)
			c.poolKeys[src.key] = p.Name
		}
	}
	c.out.Pools = admitted
}

// entrySources maps the entries kept back to their source index: the
// converted entries are the source's in order, minus the dropped ones.
func (c *converter) entrySources(k key, kept []string) []int {
	var from []string
	for _, p := range c.in.Pools {
		if p.Namespace == k.ns && p.Name == k.name {
			from = p.Spec.Addresses
		}
	}
	out := make([]int, 0, len(kept))
	j := 0
	for _, entry := range kept {
		for j < len(from) {
			n, _, err := normalizeAddress(from[j])
			j++
			if err == nil && n == entry {
				out = append(out, j-1)
				break
			}
		}
	}
	return out
}

func (c *converter) admitPool(p *v1beta1.IPAddressPool, src source, admitted []v1beta1.IPAddressPool) bool {
	for {
		errs := validation.ValidatePool(p, admitted)
		if len(errs) == 0 {
			return true
		}
		bad := map[int]bool{}
		var rest field.ErrorList
		for _, e := range errs {
			var i int
			if _, err := fmt.Sscanf(e.Field, "spec.addresses[%d]", &i); err == nil && i < len(src.entries) {
				bad[i] = true
				e.Field = fmt.Sprintf("spec.addresses[%d]", src.entries[i])
				c.refused(src.obj, field.ErrorList{e}, "; a Service holding an address of it gets a new one (see the Service lines of this report)")
				continue
			}
			rest = append(rest, e)
		}
		if len(rest) > 0 {
			c.refused(src.obj, rest, "; the pool is left out")
			return false
		}
		p.Spec.Addresses = deleteIndexes(p.Spec.Addresses, bad)
		src.entries = deleteIndexes(src.entries, bad)
		if len(p.Spec.Addresses) == 0 {
			c.rep.Add(src.obj, "", nil, report.Dropped, "no address entry left that IronLB accepts; the pool is left out")
			return false
		}
	}
}

func deleteIndexes[T any](s []T, bad map[int]bool) []T {
	out := make([]T, 0, len(s))
	for i, v := range s {
		if !bad[i] {
			out = append(out, v)
		}
	}
	return out
}

// admitPeers applies the webhook's peer rules.
func (c *converter) admitPeers() {
	bfdProfiles := sets.New[string]()
	for _, p := range c.out.BFDProfiles {
		bfdProfiles.Insert(p.Name)
	}
	var admitted []v1beta1.BGPPeer
	c.peerKeys = map[key]string{}
	for _, p := range c.out.Peers {
		src := c.sourceOf(metallb.KindBGPPeer, p.Name)
		errs, warnings := validation.ValidateBGPPeer(&p.Spec)
		errs = append(errs, webhook.ValidateBGPPeerReferences(&p, bfdProfiles)...)
		for _, w := range warnings {
			c.rep.Add(src.obj, "", nil, report.Changed, "IronLB's admission warns: "+w)
		}
		if len(errs) > 0 {
			c.refused(src.obj, errs, "; the peer is left out")
			c.dropSecretOf(&p)
			continue
		}
		admitted = append(admitted, p)
		c.peerKeys[src.key] = p.Name
	}
	c.out.Peers = admitted
}

// dropSecretOf removes the password Secret made for a peer left out.
func (c *converter) dropSecretOf(p *v1beta1.BGPPeer) {
	if p.Spec.PasswordSecret == nil {
		return
	}
	c.out.Secrets = slices.DeleteFunc(c.out.Secrets, func(s corev1.Secret) bool {
		return s.Name == p.Spec.PasswordSecret.Name && s.Namespace == p.Spec.PasswordSecret.Namespace
	})
}

// admitAdvertisements applies the webhook's advertisement rules against
// the pools, peers and Community aliases admitted.
func (c *converter) admitAdvertisements() {
	pools := sets.New[string]()
	for _, p := range c.out.Pools {
		pools.Insert(p.Name)
	}
	peers := sets.New[string]()
	for _, p := range c.out.Peers {
		peers.Insert(p.Name)
	}
	c.out.L2Advertisements = slices.DeleteFunc(c.out.L2Advertisements, func(a v1beta1.L2Advertisement) bool {
		errs := webhook.ValidateL2Advertisement(&a, pools)
		c.refused(c.sourceOf(metallb.KindL2Advertisement, a.Name).obj, errs, "; the advertisement is left out")
		return len(errs) > 0
	})
	aliases := validation.CommunityAliases(c.out.Communities)
	c.out.BGPAdvertisements = slices.DeleteFunc(c.out.BGPAdvertisements, func(a v1beta1.BGPAdvertisement) bool {
		errs := webhook.ValidateBGPAdvertisement(&a, c.out.Pools, peers, aliases)
		c.refused(c.sourceOf(metallb.KindBGPAdvertisement, a.Name).obj, errs, "; the advertisement is left out")
		return len(errs) > 0
	})
}

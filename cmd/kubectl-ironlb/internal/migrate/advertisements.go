package migrate

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// l2Advertisement converts an L2Advertisement. It is left out when none of
// the pools it names is carried over: with no pool named it would announce
// every pool.
func (c *converter) l2Advertisement(src *metallb.L2Advertisement) (v1beta1.L2Advertisement, bool) {
	obj := objectOf(metallb.KindL2Advertisement, src)
	s := &src.Spec
	sel, ok := c.poolSelection(obj, src.Namespace, s.IPAddressPools, s.IPAddressPoolSelectors)
	if !ok {
		return v1beta1.L2Advertisement{}, false
	}
	out := v1beta1.L2Advertisement{
		ObjectMeta: c.objectMeta(metallb.KindL2Advertisement, &src.ObjectMeta),
		Spec: v1beta1.L2AdvertisementSpec{
			IPAddressPools:         sel.names,
			IPAddressPoolSelectors: sel.selectors,
			NodeSelectors:          s.NodeSelectors,
			Interfaces:             s.Interfaces,
		},
	}
	return out, true
}

// bgpAdvertisement converts a BGPAdvertisement, with the communities that
// name a Community alias kept as the IronLB alias of that name when there
// is one, else replaced by its value (see communities). It is left out when a
// community cannot be carried over (announcing the routes without, say, a
// no-export community could leak them further than meant), and when none of
// the pools or peers it names is carried over (it would announce every pool
// or to every peer).
func (c *converter) bgpAdvertisement(src *metallb.BGPAdvertisement) (v1beta1.BGPAdvertisement, bool) {
	obj := objectOf(metallb.KindBGPAdvertisement, src)
	s := &src.Spec
	communities, ok := c.communities(obj, src.Namespace, s.Communities)
	if !ok {
		return v1beta1.BGPAdvertisement{}, false
	}
	sel, ok := c.poolSelection(obj, src.Namespace, s.IPAddressPools, s.IPAddressPoolSelectors)
	if !ok {
		return v1beta1.BGPAdvertisement{}, false
	}
	peers, ok := c.peerSelection(obj, src.Namespace, s.Peers)
	if !ok {
		return v1beta1.BGPAdvertisement{}, false
	}
	out := v1beta1.BGPAdvertisement{
		ObjectMeta: c.objectMeta(metallb.KindBGPAdvertisement, &src.ObjectMeta),
		Spec: v1beta1.BGPAdvertisementSpec{
			IPAddressPools:         sel.names,
			IPAddressPoolSelectors: sel.selectors,
			NodeSelectors:          s.NodeSelectors,
			Peers:                  peers,
			AggregationLength:      s.AggregationLength,
			AggregationLengthV6:    s.AggregationLengthV6,
			Communities:            communities,
		},
	}
	if s.LocalPref != 0 { // MetalLB's 0 is "none"
		out.Spec.LocalPref = ptr.To(s.LocalPref)
	}
	return out, true
}

// selection is the pools an advertisement announces, in IronLB's terms.
type selection struct {
	names     []string
	selectors []metav1.LabelSelector
}

// poolSelection maps the pool names of an advertisement of namespace ns to
// the IronLB pools. In MetalLB an advertisement sees only the pools of its
// namespace; when pools come from several namespaces, its selectors (or,
// with neither names nor selectors, "every pool") are narrowed to those of
// its namespace by LabelSourceNamespace. It fails when every name it had is
// gone.
func (c *converter) poolSelection(obj report.Object, ns string, names []string, selectors []metav1.LabelSelector) (selection, bool) {
	out := selection{selectors: selectors}
	for i, n := range names {
		if newName, ok := c.poolKeys[key{ns, n}]; ok {
			out.names = append(out.names, newName)
			continue
		}
		c.rep.Add(obj, fmt.Sprintf("spec.ipAddressPools[%d]", i), n, report.Dropped,
			"no IPAddressPool of this name in namespace "+ns+" is carried over")
	}
	if len(names) > 0 && len(out.names) == 0 && len(selectors) == 0 {
		c.rep.Add(obj, "", nil, report.Dropped, "none of the pools it names is carried over, and without them it would announce every pool; left out")
		return selection{}, false
	}
	if !c.scopedPools {
		return out, true
	}
	switch {
	case len(selectors) > 0:
		out.selectors = make([]metav1.LabelSelector, len(selectors))
		for i := range selectors {
			s := selectors[i].DeepCopy()
			if s.MatchLabels == nil {
				s.MatchLabels = map[string]string{}
			}
			s.MatchLabels[LabelSourceNamespace] = ns
			out.selectors[i] = *s
		}
		c.rep.Add(obj, "spec.ipAddressPoolSelectors", nil, report.Changed, fmt.Sprintf(
			"each selector also requires %s=%s, so that it selects only pools of namespace %s, as in MetalLB", LabelSourceNamespace, ns, ns))
	case len(names) == 0:
		out.selectors = []metav1.LabelSelector{{MatchLabels: map[string]string{LabelSourceNamespace: ns}}}
		c.rep.Add(obj, "spec.ipAddressPools", nil, report.Changed, fmt.Sprintf(
			"empty (every pool of namespace %s in MetalLB): selects the pools labelled %s=%s instead", ns, LabelSourceNamespace, ns))
	}
	return out, true
}

// peerSelection maps a BGPAdvertisement's peer names like poolSelection
// does pool names; with no names and peers from several namespaces, it
// lists the peers of the advertisement's namespace.
func (c *converter) peerSelection(obj report.Object, ns string, names []string) ([]string, bool) {
	var out []string
	for i, n := range names {
		if newName, ok := c.peerKeys[key{ns, n}]; ok {
			out = append(out, newName)
			continue
		}
		c.rep.Add(obj, fmt.Sprintf("spec.peers[%d]", i), n, report.Dropped, "no BGPPeer of this name in namespace "+ns+" is carried over")
	}
	if len(names) > 0 && len(out) == 0 {
		c.rep.Add(obj, "", nil, report.Dropped, "none of the peers it names is carried over, and without them it would announce to every peer; left out")
		return nil, false
	}
	if len(names) > 0 || !c.scopedPeers {
		return out, true
	}
	for k, name := range c.peerKeys {
		if k.ns == ns {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		c.rep.Add(obj, "", nil, report.Dropped, "namespace "+ns+" has no BGPPeer carried over, so MetalLB announced to none; left out")
		return nil, false
	}
	c.rep.Add(obj, "spec.peers", nil, report.Changed, fmt.Sprintf(
		"empty (every peer of namespace %s in MetalLB): lists them, %s, since IronLB's empty list means every peer of the cluster", ns, strings.Join(out, ", ")))
	return out, true
}

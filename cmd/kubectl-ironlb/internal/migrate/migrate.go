// Package migrate turns MetalLB v0.15 configuration into IronLB's: the rules
// of `kubectl ironlb migrate`, as plain functions from the MetalLB objects
// read (metallb.Set) to IronLB objects and a report of every field that
// could not be carried over as it was, and why (docs/migration.md lists
// them). Nothing here talks to a cluster.
//
// The output is what IronLB's admission accepts: each object is checked by
// the validating webhook's own rules (controllers/webhook), and one it would
// refuse is left out with the refusal in the report, so applying the output
// never half-fails.
package migrate

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// Defaults of Options.
const (
	// DefaultNamespace is where MetalLB's Helm chart and manifests install
	// it, and so where its configuration lives.
	DefaultNamespace = "metallb-system"
	// DefaultSecretNamespace is the chart's BGP password namespace for a
	// release in ironlb-system, and ironlb-speaker's --secret-namespace
	// default.
	DefaultSecretNamespace = "ironlb-system-bgp-secrets"
)

// LabelSourceNamespace marks, when the input spans several namespaces, the
// namespace an IronLB object came from, so that an advertisement that
// selected the pools of its own namespace still selects only those once
// every pool shares one cluster-wide scope.
const LabelSourceNamespace = "ironlb.io/migrated-from-namespace"

// Options tune the conversion.
type Options struct {
	// Namespace is MetalLB's namespace: on a name clash between
	// namespaces, its object keeps the name. Default DefaultNamespace.
	Namespace string
	// SecretNamespace is the namespace ironlb-speaker reads BGP password
	// Secrets from (its --secret-namespace). Default
	// DefaultSecretNamespace.
	SecretNamespace string
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.SecretNamespace == "" {
		o.SecretNamespace = DefaultSecretNamespace
	}
	return o
}

// Result is the IronLB configuration equivalent to the input, and what
// could not be carried over.
type Result struct {
	Pools             []v1beta1.IPAddressPool
	BFDProfiles       []v1beta1.BFDProfile
	Peers             []v1beta1.BGPPeer
	Communities       []v1beta1.Community
	L2Advertisements  []v1beta1.L2Advertisement
	BGPAdvertisements []v1beta1.BGPAdvertisement
	// Secrets hold the BGP passwords MetalLB peers had inline.
	Secrets []corev1.Secret

	Report report.Report
}

// Convert converts in. Report lines about the input's documents themselves
// (kinds not read, unknown fields) are the caller's, from metallb.Set.Decode.
func Convert(in metallb.Set, opts Options) Result {
	c := newConverter(in, opts.withDefaults())
	c.noteNamespaces()
	for i := range in.Pools {
		if p, ok := c.pool(&in.Pools[i]); ok {
			c.out.Pools = append(c.out.Pools, p)
		}
	}
	c.admitPools()
	for i := range in.BFDProfiles {
		c.out.BFDProfiles = append(c.out.BFDProfiles, c.bfdProfile(&in.BFDProfiles[i]))
	}
	c.admitBFDProfiles()
	for i := range in.Peers {
		if p, ok := c.peer(&in.Peers[i]); ok {
			c.out.Peers = append(c.out.Peers, p)
		}
	}
	c.admitPeers()
	c.convertCommunities()
	for i := range in.L2Advertisements {
		if a, ok := c.l2Advertisement(&in.L2Advertisements[i]); ok {
			c.out.L2Advertisements = append(c.out.L2Advertisements, a)
		}
	}
	for i := range in.BGPAdvertisements {
		if a, ok := c.bgpAdvertisement(&in.BGPAdvertisements[i]); ok {
			c.out.BGPAdvertisements = append(c.out.BGPAdvertisements, a)
		}
	}
	c.admitAdvertisements()
	return c.out
}

// converter carries what the conversion of one object needs to know of the
// others.
type converter struct {
	in   metallb.Set
	opts Options
	out  Result
	rep  *report.Report

	// names are the IronLB names by kind, then source namespace and name.
	names map[string]map[key]string
	// poolKeys, peerKeys and bfdKeys map each pool, peer and BFD profile
	// admitted, by source namespace and name, to its IronLB name: what
	// references resolve to.
	poolKeys map[key]string
	peerKeys map[key]string
	bfdKeys  map[key]string
	// scoped: the pools (peers) come from several namespaces, so
	// "every pool" ("every peer") of a MetalLB advertisement must be
	// narrowed to those of its namespace.
	scopedPools, scopedPeers bool
	// aliases are MetalLB's Community aliases, by namespace; keptAliases
	// the ones that are IronLB Community aliases of the same name and
	// value, by the source namespace and alias name (convertCommunities).
	aliases     communityAliases
	keptAliases map[key]bool
}

// key is a source object's namespace and name.
type key struct{ ns, name string }

func newConverter(in metallb.Set, opts Options) *converter {
	c := &converter{in: in, opts: opts, names: map[string]map[key]string{}}
	c.rep = &c.out.Report
	c.names[metallb.KindIPAddressPool] = c.assignNames(metallb.KindIPAddressPool, keysOf(in.Pools))
	c.names[metallb.KindBGPPeer] = c.assignNames(metallb.KindBGPPeer, keysOf(in.Peers))
	c.names[metallb.KindL2Advertisement] = c.assignNames(metallb.KindL2Advertisement, keysOf(in.L2Advertisements))
	c.names[metallb.KindBGPAdvertisement] = c.assignNames(metallb.KindBGPAdvertisement, keysOf(in.BGPAdvertisements))
	c.names[metallb.KindBFDProfile] = c.assignNames(metallb.KindBFDProfile, keysOf(in.BFDProfiles))
	c.names[metallb.KindCommunity] = c.assignNames(metallb.KindCommunity, keysOf(in.Communities))
	c.scopedPools = len(namespacesOf(keysOf(in.Pools))) > 1
	c.scopedPeers = len(namespacesOf(keysOf(in.Peers))) > 1
	c.aliases = newCommunityAliases(in.Communities)
	return c
}

func keysOf[S any](objs []metallb.Object[S]) []key {
	out := make([]key, len(objs))
	for i := range objs {
		out[i] = key{objs[i].Namespace, objs[i].Name}
	}
	return out
}

func namespacesOf(keys []key) []string {
	set := map[string]bool{}
	for _, k := range keys {
		set[k.ns] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// noteNamespaces says, when the input spans several namespaces, that
// MetalLB only ever read the objects of its own.
func (c *converter) noteNamespaces() {
	if len(c.allNamespaces()) < 2 {
		return
	}
	for _, kind := range slices.Sorted(maps.Keys(c.names)) {
		for k := range c.names[kind] {
			if k.ns != c.opts.Namespace {
				c.rep.Add(report.Object{Kind: kind, Namespace: k.ns, Name: k.name}, "metadata.namespace", k.ns, report.Changed,
					"MetalLB reads only the namespace it runs in ("+c.opts.Namespace+"), so this object had no effect under MetalLB; "+
						"it is converted all the same and takes effect in IronLB")
			}
		}
	}
}

func (c *converter) allNamespaces() []string {
	var keys []key
	for _, m := range c.names {
		keys = append(keys, slices.Collect(maps.Keys(m))...)
	}
	return namespacesOf(keys)
}

func objectOf[S any](kind string, o *metallb.Object[S]) report.Object {
	return report.Object{Kind: kind, Namespace: o.Namespace, Name: o.Name}
}

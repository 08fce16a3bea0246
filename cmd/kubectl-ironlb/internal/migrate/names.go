package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// assignNames gives each source object of a kind its IronLB name. IronLB's
// kinds are cluster-scoped, MetalLB's namespaced, so two objects of one name
// in two namespaces cannot both keep it. The one in MetalLB's namespace
// (else the first namespace in alphabetical order) keeps the name, so that
// the Services that name a pool in an annotation still find it; each other
// becomes "<name>-<namespace>", or, should that be taken or too long, that
// shortened and a hash of the source's namespace and name. The same input
// always gives the same names.
func (c *converter) assignNames(kind string, keys []key) map[key]string {
	byName := map[string][]key{}
	taken := map[string]bool{}
	for _, k := range keys {
		byName[k.name] = append(byName[k.name], k)
		taken[k.name] = true
	}
	out := make(map[key]string, len(keys))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		group := byName[name]
		slices.SortFunc(group, func(a, b key) int { return c.namespaceOrder(a.ns, b.ns) })
		out[group[0]] = name
		for _, k := range group[1:] {
			renamed := uniqueName(k, taken)
			taken[renamed] = true
			out[k] = renamed
			c.rep.Add(report.Object{Kind: kind, Namespace: k.ns, Name: k.name}, "metadata.name", k.name, report.Changed,
				fmt.Sprintf("renamed %s: IronLB's %s is cluster-scoped and the one of namespace %s keeps the name; "+
					"references from objects of namespace %s follow the new name", renamed, kind, group[0].ns, k.ns))
		}
	}
	return out
}

// namespaceOrder sorts MetalLB's namespace first, then alphabetically.
func (c *converter) namespaceOrder(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == c.opts.Namespace:
		return -1
	case b == c.opts.Namespace:
		return 1
	}
	return strings.Compare(a, b)
}

// uniqueName is "<name>-<namespace>" when that is free and a valid object
// name, else a shortened form of it ending in a hash of the source.
func uniqueName(k key, taken map[string]bool) string {
	name := k.name + "-" + k.ns
	if !taken[name] && len(validation.IsDNS1123Subdomain(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(k.ns + "/" + k.name))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	base := name
	if max := validation.DNS1123SubdomainMaxLength - len(suffix); len(base) > max {
		base = base[:max]
	}
	return strings.TrimRight(base, "-.") + suffix
}

// name returns the IronLB name of a source object.
func (c *converter) name(kind string, ns, name string) string {
	if n, ok := c.names[kind][key{ns, name}]; ok {
		return n
	}
	return name
}

package migrate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// convertCommunities converts the Community objects. MetalLB's aliases
// belong to a namespace, IronLB's to the cluster, one name one value: an
// alias is carried over under its name unless IronLB refuses the name (a
// well-known community name, say) or another namespace's Community,
// converted first (MetalLB's namespace first, then alphabetically), took
// the name for another value. The BGPAdvertisements that use an alias not
// carried over get its value instead (communities). A Community with no
// alias left is left out.
func (c *converter) convertCommunities() {
	c.keptAliases = map[key]bool{}
	holders := map[string]aliasHolder{}
	for _, i := range c.communityOrder() {
		src := &c.in.Communities[i]
		out := v1beta1.Community{ObjectMeta: c.objectMeta(metallb.KindCommunity, &src.ObjectMeta)}
		for j, a := range src.Spec.Communities {
			if c.keepAlias(src, j, holders) {
				out.Spec.Communities = append(out.Spec.Communities, v1beta1.CommunityAlias{Name: a.Name, Value: a.Value})
				holders[a.Name] = aliasHolder{value: a.Value, community: out.Name}
			}
		}
		if len(out.Spec.Communities) == 0 {
			c.rep.Add(objectOf(metallb.KindCommunity, src), "", nil, report.Dropped,
				"no alias of it is carried over as an IronLB alias; left out")
			continue
		}
		c.out.Communities = append(c.out.Communities, out)
	}
	c.admitCommunities()
}

// aliasHolder is the IronLB Community an alias name went to, and its value.
type aliasHolder struct{ value, community string }

// communityOrder lists the indexes of the Community objects in the order
// their aliases claim names: MetalLB's namespace first, then by namespace
// and name.
func (c *converter) communityOrder() []int {
	order := make([]int, len(c.in.Communities))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := &c.in.Communities[a], &c.in.Communities[b]
		if n := c.namespaceOrder(x.Namespace, y.Namespace); n != 0 {
			return n
		}
		return strings.Compare(x.Name, y.Name)
	})
	return order
}

// keepAlias decides alias j of src, and reports it when it is not written
// as it was: whether the Community converted from src holds it. An alias
// another Community already holds with the same value is in effect all the
// same (keptAliases), but written there only.
func (c *converter) keepAlias(src *metallb.Community, j int, holders map[string]aliasHolder) bool {
	obj := objectOf(metallb.KindCommunity, src)
	a := src.Spec.Communities[j]
	field := fmt.Sprintf("spec.communities[%d]", j)
	ns := src.Namespace
	instead := "; the BGPAdvertisements of namespace " + ns + " that use it get its value instead"
	holder, taken := holders[a.Name]
	badValue, badName := validation.ValidateCommunityAliasValue(a.Value), validation.ValidateCommunityAliasName(a.Name)
	switch {
	case c.aliases[ns][a.Name] == ambiguous:
		c.rep.Add(obj, field, a.Name, report.Dropped,
			"Community objects of namespace "+ns+" give this alias different values; the BGPAdvertisements that use it are left out")
	case badValue != nil:
		c.rep.Add(obj, field, a.Name, report.Dropped,
			fmt.Sprintf("IronLB refuses its value %q: %v; the BGPAdvertisements that use it are left out", a.Value, badValue))
	case badName != nil:
		c.rep.Add(obj, field, a.Name, report.Changed, "IronLB refuses the alias name: "+badName.Error()+instead)
	case taken && holder.value != a.Value:
		c.rep.Add(obj, field, a.Name, report.Changed, fmt.Sprintf(
			"IronLB's alias names are cluster-wide, and Community %s already holds this one as %s%s", holder.community, holder.value, instead))
	case taken:
		c.keptAliases[key{ns, a.Name}] = true
		c.rep.Add(obj, field, a.Name, report.Changed, fmt.Sprintf(
			"IronLB's alias names are cluster-wide: Community %s holds it, with the same value", holder.community))
	default:
		c.keptAliases[key{ns, a.Name}] = true
		return true
	}
	return false
}

// admitCommunities applies the webhook's Community rules, each Community
// against those admitted before it. One refused is left out, and the
// advertisements that use its aliases get their values instead.
func (c *converter) admitCommunities() {
	var admitted []v1beta1.Community
	for _, com := range c.out.Communities {
		src := c.sourceOf(metallb.KindCommunity, com.Name)
		if errs := validation.ValidateCommunityAliases(&com, admitted); len(errs) > 0 {
			c.refused(src.obj, errs, "; the Community is left out, and the BGPAdvertisements that use its aliases get their values instead")
			for _, a := range com.Spec.Communities {
				delete(c.keptAliases, key{src.key.ns, a.Name})
			}
			continue
		}
		admitted = append(admitted, com)
	}
	c.out.Communities = admitted
}

// communities resolves the communities of a BGPAdvertisement of namespace
// ns as MetalLB did, checks every value with the rule the speaker applies,
// and writes an alias as its IronLB alias when one of the same name and
// value exists (keptAliases), else as its value.
func (c *converter) communities(obj report.Object, ns string, in []string) ([]string, bool) {
	var out []string
	ok := true
	for i, name := range in {
		field := fmt.Sprintf("spec.communities[%d]", i)
		value, err := c.aliases.resolve(ns, name)
		if err == nil {
			err = validation.ValidateCommunity(value)
		}
		if err != nil {
			c.rep.Add(obj, field, name, report.Dropped,
				err.Error()+"; the advertisement is left out rather than announced without it")
			ok = false
			continue
		}
		entry := value
		if value != name && c.keptAliases[key{ns, name}] {
			entry = name
		} else if value != name {
			c.rep.Add(obj, field, name, report.Changed, fmt.Sprintf(
				"written as its value %s: the alias is not carried over as an IronLB alias (see the Community lines of this report)", value))
		}
		if !slices.Contains(out, entry) { // IronLB's list is a set
			out = append(out, entry)
		}
	}
	return out, ok
}

// communityAliases are the names Community objects give, by namespace; a
// name given two different values is ambiguous.
type communityAliases map[string]map[string]string

// ambiguous marks an alias given two different values; no community value
// contains a NUL.
const ambiguous = "\x00"

func newCommunityAliases(objs []metallb.Community) communityAliases {
	out := communityAliases{}
	for i := range objs {
		o := &objs[i]
		if out[o.Namespace] == nil {
			out[o.Namespace] = map[string]string{}
		}
		for _, a := range o.Spec.Communities {
			if v, seen := out[o.Namespace][a.Name]; seen && v != a.Value {
				out[o.Namespace][a.Name] = ambiguous
				continue
			}
			out[o.Namespace][a.Name] = a.Value
		}
	}
	return out
}

// resolve returns the value of a community as an advertisement of
// namespace ns means it in MetalLB: an alias's value, or the string itself.
// MetalLB knows no well-known names: a name no alias gives is an error.
func (a communityAliases) resolve(ns, name string) (string, error) {
	value, isAlias := a[ns][name]
	switch {
	case isAlias && value == ambiguous:
		return "", fmt.Errorf("Community objects of namespace %s give alias %q different values", ns, name)
	case isAlias:
		return value, nil
	case !strings.Contains(name, ":"):
		known := slices.Sorted(maps.Keys(a[ns]))
		return "", fmt.Errorf("no Community object of namespace %s defines alias %q (known: %s)", ns, name, strings.Join(known, ", "))
	}
	return name, nil
}

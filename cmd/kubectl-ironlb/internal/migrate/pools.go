package migrate

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/metallb"
	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// lastApplied is kubectl's record of the MetalLB object as last applied: it
// describes the source object, not the IronLB one, and would mislead a
// later `kubectl apply` of the IronLB object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// objectMeta is the IronLB object's metadata: its new name, and the
// source's labels (pools are selected by them) and annotations.
func (c *converter) objectMeta(kind string, src *metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name:        c.name(kind, src.Namespace, src.Name),
		Labels:      maps.Clone(src.Labels),
		Annotations: maps.Clone(src.Annotations),
	}
	delete(out.Annotations, lastApplied)
	if len(out.Annotations) == 0 {
		out.Annotations = nil
	}
	scoped := (kind == metallb.KindIPAddressPool && c.scopedPools) || (kind == metallb.KindBGPPeer && c.scopedPeers)
	if scoped {
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		out.Labels[LabelSourceNamespace] = src.Namespace
	}
	return out
}

// pool converts an IPAddressPool. Every field has an IronLB equivalent; only
// address entries IronLB refuses, and a negative priority, are left out.
func (c *converter) pool(src *metallb.IPAddressPool) (v1beta1.IPAddressPool, bool) {
	obj := objectOf(metallb.KindIPAddressPool, src)
	out := v1beta1.IPAddressPool{
		ObjectMeta: c.objectMeta(metallb.KindIPAddressPool, &src.ObjectMeta),
		Spec: v1beta1.IPAddressPoolSpec{
			AutoAssign:    src.Spec.AutoAssign,
			AvoidBuggyIPs: src.Spec.AvoidBuggyIPs,
		},
	}
	for i, a := range src.Spec.Addresses {
		field := fmt.Sprintf("spec.addresses[%d]", i)
		entry, note, err := normalizeAddress(a)
		switch {
		case err != nil:
			c.rep.Add(obj, field, a, report.Dropped, "IronLB refuses it: "+err.Error()+
				"; a Service holding an address of it gets a new one (see the Service lines of this report)")
			continue
		case note != "":
			c.rep.Add(obj, field, a, report.Changed, fmt.Sprintf("written %s: %s", entry, note))
		}
		out.Spec.Addresses = append(out.Spec.Addresses, entry)
	}
	if len(out.Spec.Addresses) == 0 {
		c.rep.Add(obj, "", nil, report.Dropped, "no address entry left that IronLB accepts; the pool is left out")
		return out, false
	}
	if sa := src.Spec.ServiceAllocation; sa != nil {
		out.Spec.ServiceAllocation = c.serviceAllocation(obj, sa)
	}
	return out, true
}

func (c *converter) serviceAllocation(obj report.Object, sa *metallb.ServiceAllocation) *v1beta1.ServiceAllocation {
	out := &v1beta1.ServiceAllocation{
		Namespaces:         sa.Namespaces,
		NamespaceSelectors: sa.NamespaceSelectors,
		ServiceSelectors:   sa.ServiceSelectors,
	}
	switch {
	case sa.Priority > 0:
		out.Priority = ptr.To(int32(sa.Priority))
	case sa.Priority < 0:
		// MetalLB tries lower values first, so a negative priority came
		// before every other; IronLB's start at 0.
		c.rep.Add(obj, "spec.serviceAllocation.priority", sa.Priority, report.Dropped,
			"IronLB's priorities start at 0 (MetalLB's 0 means none); give this pool 1 and renumber the others above it to keep the order")
	}
	return out
}

// normalizeAddress rewrites one MetalLB address entry as IronLB's schema
// wants it, and says why when that changed it. MetalLB reads a CIDR with
// host bits set by its network address, and accepts spaces around a
// range's dash; IronLB's schema accepts only canonical CIDRs and ranges
// written without spaces, and no single address without a prefix length.
// An entry IronLB refuses for what it covers (loopback, multicast, ...)
// is an error.
func normalizeAddress(s string) (entry, note string, err error) {
	entry = strings.TrimSpace(s)
	if from, to, ok := strings.Cut(entry, "-"); ok {
		entry = strings.TrimSpace(from) + "-" + strings.TrimSpace(to)
	} else if p, perr := netip.ParsePrefix(entry); perr == nil && p.Masked() != p {
		entry = p.Masked().String()
		note = "MetalLB reads a CIDR with host bits set as its network, which IronLB wants written out"
	} else if ip, aerr := netip.ParseAddr(entry); aerr == nil && ip.Zone() == "" {
		entry = netip.PrefixFrom(ip, ip.BitLen()).String()
		note = "IronLB writes a single address as a /32 or /128"
	}
	if note == "" && entry != s {
		note = "written without spaces, as IronLB's schema wants"
	}
	if _, err := iprange.Parse(entry); err != nil {
		if pe, ok := errors.AsType[*iprange.ParseError](err); ok {
			return "", "", errors.New(pe.Reason)
		}
		return "", "", err
	}
	return entry, note, nil
}

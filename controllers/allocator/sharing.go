package allocator

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Who may hold one address together. Services of one namespace share by
// key alone; Services of two namespaces also need consent from both sides,
// because a key is no secret: anyone who learns it (or just asks for the
// IP) would otherwise serve other ports on a tenant's address and, under
// externalTrafficPolicy Local, move the node announcing it away from the
// tenant's endpoints.

// consentAnnotation is the Service annotation carrying
// Request.SharingNamespaces, named in messages so that people know what to
// change. It is v1beta1.AnnotationAllowSharedIPNamespaces; the ipam tests
// check that the two agree.
const consentAnnotation = "ironlb.io/allow-shared-ip-namespaces"

// anyNamespace in Request.SharingNamespaces consents to every namespace.
const anyNamespace = "*"

// shareID is the group of Services that share addresses by key alone: one
// sharing key within one namespace. A key is never compared without its
// namespace, so knowing another namespace's key gives no way in.
type shareID struct {
	namespace string
	key       string // "" shares nothing
}

// sharing is what one Service says about sharing its addresses.
type sharing struct {
	id shareID
	// others are the other namespaces it consents to share with; "*" is
	// any. Empty unless id.key is set.
	others []string
}

// newSharing checks a Service's sharing settings. Consent without a key
// is refused rather than ignored: it can only be a mistake, and ignoring
// it would hide the mistake.
func newSharing(svc, namespace, key string, others []string) (sharing, *Error) {
	if key == "" && len(others) > 0 {
		return sharing{}, newError(v1beta1.ReasonInvalidRequest, "%s lists namespaces to share an IP with but has no sharing key", svc)
	}
	if slices.Contains(others, "") {
		return sharing{}, newError(v1beta1.ReasonInvalidRequest, "%s lists an empty namespace to share an IP with", svc)
	}
	return sharing{id: shareID{namespace: namespace, key: key}, others: others}, nil
}

func (s *sharing) shares() bool { return s.id.key != "" }

// consentsTo reports whether s lets Services of namespace ns share with it,
// keys permitting. Its own namespace needs no consent.
func (s *sharing) consentsTo(ns string) bool {
	return ns == s.id.namespace || slices.Contains(s.others, ns) || slices.Contains(s.others, anyNamespace)
}

// mutual reports whether a and b consent to each other's namespace.
func mutual(a, b *sharing) bool {
	return a.consentsTo(b.id.namespace) && b.consentsTo(a.id.namespace)
}

func (s *sharing) clone() sharing {
	return sharing{id: s.id, others: slices.Clone(s.others)}
}

// joinError explains why the requesting Service may not hold ip beside h,
// or returns nil. Namespaces are checked before keys, ports and pods, so
// that a Service of another namespace learns nothing about h (its name,
// key or ports) until both sides consent.
func joinError(ip netip.Addr, h *lease, rq *prepared) *Error {
	hs, rs := &h.share, &rq.share
	switch {
	case !hs.shares():
		return newError(v1beta1.ReasonIPUnavailable, "%s is held by %s, which does not share it", ip, holderName(h, rq))
	case !mutual(hs, rs):
		return newError(v1beta1.ReasonSharingConflict, "%s is held by a Service of namespace %s; Services of two namespaces share an IP only when each lists the other's namespace in %s: %s",
			ip, hs.id.namespace, consentAnnotation, missingConsent(hs, rs, rq.Service))
	case !rs.shares():
		return newError(v1beta1.ReasonIPUnavailable, "%s is held by %s, which shares it only under the sharing key %q that %s does not have", ip, h.service, hs.id.key, rq.Service)
	case hs.id.key != rs.id.key:
		return newError(v1beta1.ReasonSharingConflict, "%s is shared by %s under the sharing key %q, but %s has the key %q", ip, h.service, hs.id.key, rq.Service, rs.id.key)
	}
	if port, clash := clashingPort(h.ports, rq.Ports); clash {
		return newError(v1beta1.ReasonSharingConflict, "%s is shared by %s, which already uses %s port %d", ip, h.service, port.Protocol, port.Port)
	}
	if msg := localMismatch(h, rq); msg != "" {
		return newError(v1beta1.ReasonSharingConflict, "%s is shared by %s, %s", ip, h.service, msg)
	}
	return nil
}

// holderName names h to the requesting Service: by name within its
// namespace or with mutual consent, else only by namespace.
func holderName(h *lease, rq *prepared) string {
	if mutual(&h.share, &rq.share) {
		return h.service
	}
	return "a Service of namespace " + h.share.id.namespace
}

// missingConsent says which side must list which namespace.
func missingConsent(holder, req *sharing, reqName string) string {
	var need []string
	if !req.consentsTo(holder.id.namespace) {
		need = append(need, fmt.Sprintf("%s must list %s", reqName, holder.id.namespace))
	}
	if !holder.consentsTo(req.id.namespace) {
		need = append(need, fmt.Sprintf("the Service of %s must list %s", holder.id.namespace, req.id.namespace))
	}
	return strings.Join(need, ", and ")
}

func clashingPort(have, want []Port) (Port, bool) {
	for _, w := range want {
		if slices.Contains(have, w) {
			return w, true
		}
	}
	return Port{}, false
}

// localMismatch explains why h and rq may not share an address because of
// externalTrafficPolicy, or returns "". Pod selectors are compared only
// within one namespace: the same selector in two namespaces selects
// different pods, and the announcing node follows the pods.
func localMismatch(h *lease, rq *prepared) string {
	switch {
	case h.local == nil && rq.LocalSelector == nil:
		return ""
	case h.local == nil:
		return fmt.Sprintf("which has externalTrafficPolicy Cluster while %s has Local; services sharing an IP must agree", rq.Service)
	case rq.LocalSelector == nil:
		return fmt.Sprintf("which has externalTrafficPolicy Local while %s has Cluster; services sharing an IP must agree", rq.Service)
	case h.share.id.namespace != rq.share.id.namespace:
		return fmt.Sprintf("which has externalTrafficPolicy Local in namespace %s, while %s is in %s; under Local only Services of one namespace share an IP, since Services of two namespaces never select the same pods",
			h.share.id.namespace, rq.Service, rq.share.id.namespace)
	case *h.local != *rq.LocalSelector:
		return fmt.Sprintf("which has externalTrafficPolicy Local and selects pods %q, while %s selects %q; under Local, services sharing an IP must select the same pods", *h.local, rq.Service, *rq.LocalSelector)
	}
	return ""
}

// shareIndex lists the held addresses by sharing key, then namespace. An
// address is listed under the namespace of each of its holders, so that a
// Service finds its own namespace's addresses without looking at anyone
// else's, and a tenant's keys cost other tenants nothing.
type shareIndex map[string]map[string][]netip.Addr

func (x shareIndex) add(id shareID, ip netip.Addr) {
	byNS := x[id.key]
	if byNS == nil {
		byNS = map[string][]netip.Addr{}
		x[id.key] = byNS
	}
	byNS[id.namespace] = append(byNS[id.namespace], ip)
}

func (x shareIndex) remove(id shareID, ip netip.Addr) {
	byNS := x[id.key]
	rest := slices.DeleteFunc(byNS[id.namespace], func(a netip.Addr) bool { return a == ip })
	switch {
	case len(rest) > 0:
		byNS[id.namespace] = rest
	case len(byNS) > 1:
		delete(byNS, id.namespace)
	default:
		delete(x, id.key)
	}
}

// candidates returns the addresses s might share: its own namespace's
// first, then those of the namespaces it consents to, as listed (all of
// them, by name, for "*"). Whether their holders consent back is for
// joinError to decide. The slice may be the index's own: read it before
// changing the index.
func (x shareIndex) candidates(s *sharing) []netip.Addr {
	if !s.shares() {
		return nil
	}
	byNS := x[s.id.key]
	own := byNS[s.id.namespace]
	if len(s.others) == 0 {
		return own // the common case allocates nothing
	}
	nss := s.others
	if slices.Contains(nss, anyNamespace) {
		nss = slices.Sorted(maps.Keys(byNS)) // sorted: the same choice every time
	}
	out := slices.Clone(own)
	for _, ns := range nss {
		if ns != s.id.namespace {
			out = append(out, byNS[ns]...)
		}
	}
	return out
}

// heldFrom reports whether a holder of e belongs to namespace ns.
func (e *ipEntry) heldFrom(ns string) bool {
	return slices.ContainsFunc(e.holders, func(h *lease) bool { return h.share.id.namespace == ns })
}

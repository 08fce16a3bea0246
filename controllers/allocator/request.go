package allocator

import (
	"net/netip"
	"slices"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
)

// Port is one port of a Service, for deciding whether two Services may
// share an IP.
type Port struct {
	Protocol string // "TCP", "UDP" or "SCTP"
	Port     int32
}

// Request describes what one Service needs.
type Request struct {
	// Service is the owner key, "namespace/name".
	Service string
	// Namespace is the Service's namespace, matched against Pool.Namespaces.
	Namespace string
	// Labels are the Service's labels, for Pool.ServiceSelectors.
	Labels map[string]string
	// NamespaceLabels are the namespace's labels, for
	// Pool.NamespaceSelectors.
	NamespaceLabels map[string]string
	// Families is spec.ipFamilies: one or two distinct families in order of
	// preference.
	Families []iprange.Family
	// Policy is spec.ipFamilyPolicy.
	Policy FamilyPolicy
	// IPs are exact addresses asked for, at most one per family. When set,
	// the Service gets exactly these or nothing; Policy only decides which
	// families may be asked for (SingleStack: the first family only;
	// RequireDualStack: one address of each family).
	IPs []netip.Addr
	// Pool, when set, restricts the Service to that pool, which may have
	// AutoAssign false but must admit the Service.
	Pool string
	// SharingKey lets Services of one namespace with the same non-empty key
	// share an IP.
	SharingKey string
	// SharingNamespaces are the other namespaces, "*" for any, whose
	// Services may share an IP with this one under SharingKey. Consent
	// must be mutual: two Services of different namespaces share only when
	// each lists the other's namespace. It needs a SharingKey.
	SharingNamespaces []string
	// Ports are the Service's ports; Services sharing an IP may not both
	// use one Protocol and Port.
	Ports []Port
	// LocalSelector is nil under externalTrafficPolicy Cluster; under Local
	// it is the Service's canonical pod selector. Services sharing an IP
	// must both be Cluster, or both Local with equal selectors.
	LocalSelector *string
	// Current are the addresses the Service already shows in its status.
	// They are kept when they still fit the request, which keeps addresses
	// stable across controller restarts.
	Current []netip.Addr
	// NoNew forbids new addresses: only the Service's lease or Current may
	// be kept. It is meant for restoring state on start.
	NoNew bool
}

// Assignment is what a Service holds: its addresses, ordered like the
// request's Families, and the pool they come from.
type Assignment struct {
	IPs  []netip.Addr
	Pool string
}

// prepared is a validated Request.
//
// It lives on Assign's stack: it holds no slice into itself, which would
// move it to the heap.
type prepared struct {
	Request
	share      sharing
	levels     [3][]iprange.Family // family sets to try, best first
	nLevels    int                 // levels used
	want       [2]netip.Addr       // requested address per famIndex
	old        *lease              // the Service's lease, if any
	hasSticky  bool                // it has a lease or valid Current addresses
	candidates []netip.Addr        // addresses it might share, best first; see shareIndex.candidates
}

func (rq *prepared) hasWant() bool { return len(rq.IPs) > 0 }

// own returns the Service's own addresses: its lease's, then Current.
// Entries of Current may be invalid; see ownAddr.
func (rq *prepared) own() [2][]netip.Addr {
	var leased []netip.Addr
	if rq.old != nil {
		leased = rq.old.ips
	}
	return [2][]netip.Addr{leased, rq.Current}
}

// ownAddr normalises an address of own(), reporting false for one that
// cannot be used.
func ownAddr(ip netip.Addr) (netip.Addr, bool) {
	ip = ip.Unmap()
	return ip, ip.IsValid() && ip.Zone() == ""
}

func (rq *prepared) isSticky(ip netip.Addr) bool {
	for _, src := range rq.own() {
		for _, o := range src {
			if o, ok := ownAddr(o); ok && o == ip {
				return true
			}
		}
	}
	return false
}

// prepare checks that req is consistent on its own.
func prepare(req Request) (prepared, *Error) {
	var none prepared
	if req.Service == "" {
		return none, newError(v1beta1.ReasonInvalidRequest, "the request names no service")
	}
	fams, err := policyFamilies(&req)
	if err != nil {
		return none, err
	}
	share, err := newSharing(req.Service, req.Namespace, req.SharingKey, req.SharingNamespaces)
	if err != nil {
		return none, err
	}
	// Locals rather than fields of a prepared until the end: escape
	// analysis would otherwise move req to the heap.
	var levels [3][]iprange.Family
	nLevels := 1
	var want [2]netip.Addr
	switch {
	case len(req.IPs) > 0:
		var ips []netip.Addr
		ips, want, levels[0], err = wantedIPs(&req, fams)
		if err != nil {
			return none, err
		}
		req.IPs = ips
	case len(fams) == 2 && req.Policy == PreferDualStack:
		levels, nLevels = [3][]iprange.Family{fams, fams[:1], fams[1:]}, 3
	default:
		levels[0] = fams
	}
	return prepared{Request: req, share: share, levels: levels, nLevels: nLevels, want: want}, nil
}

// policyFamilies checks req.Families and returns those req.Policy lets the
// Service have addresses of, in order of preference.
func policyFamilies(req *Request) ([]iprange.Family, *Error) {
	svc, fams := req.Service, req.Families
	switch {
	case len(fams) == 0:
		return nil, newError(v1beta1.ReasonInvalidRequest, "%s lists no IP family", svc)
	case len(fams) > 2 || !fams[0].Valid() || (len(fams) == 2 && (!fams[1].Valid() || fams[0] == fams[1])):
		return nil, newError(v1beta1.ReasonInvalidRequest, "%s lists the IP families %v; expected IPv4, IPv6 or both", svc, fams)
	}
	switch req.Policy {
	case SingleStack:
		return fams[:1], nil
	case PreferDualStack:
		return fams, nil
	case RequireDualStack:
		if len(fams) < 2 {
			return nil, newError(v1beta1.ReasonInvalidRequest, "%s is RequireDualStack but lists only %s", svc, fams[0])
		}
		return fams, nil
	}
	return nil, newError(v1beta1.ReasonInvalidRequest, "%s has an unknown IP family policy %s", svc, req.Policy)
}

// wantedIPs checks the exact addresses req asks for against the families
// fams allowed: at most one of each. It returns them normalised (unmapped),
// by famIndex as well, and the one family level they make possible.
func wantedIPs(req *Request, fams []iprange.Family) (ips []netip.Addr, want [2]netip.Addr, level []iprange.Family, err *Error) {
	svc := req.Service
	ips = make([]netip.Addr, len(req.IPs))
	for i, ip := range req.IPs {
		if !ip.IsValid() || ip.Zone() != "" {
			return nil, want, nil, newError(v1beta1.ReasonInvalidRequest, "%s asks for an invalid IP address %q", svc, ip)
		}
		ip = ip.Unmap()
		f := iprange.FamilyOf(ip)
		if !slices.Contains(fams, f) {
			return nil, want, nil, newError(v1beta1.ReasonInvalidRequest, "%s asks for %s, an %s address, but its IP families under %s are %v", svc, ip, f, req.Policy, fams)
		}
		if prev := want[famIndex(f)]; prev.IsValid() {
			return nil, want, nil, newError(v1beta1.ReasonInvalidRequest, "%s asks for two %s addresses, %s and %s; at most one per family is allowed", svc, f, prev, ip)
		}
		want[famIndex(f)] = ip
		ips[i] = ip
	}
	level = fams
	switch {
	case len(ips) == len(fams):
	case want[famIndex(fams[0])].IsValid():
		level = fams[:1]
	default:
		level = fams[1:]
	}
	if req.Policy == RequireDualStack && len(level) < 2 {
		return nil, want, nil, newError(v1beta1.ReasonInvalidRequest, "%s is RequireDualStack but asks for only %s; it must ask for one address of each family", svc, ips[0])
	}
	return ips, want, level, nil
}

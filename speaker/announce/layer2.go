package announce

import (
	"net/netip"
	"slices"
)

// l2Owner is what an owning node does for the addresses of one pool: the
// interfaces it answers on and the advertisements making it answer.
type l2Owner struct {
	interfaces     []string
	advertisements []string
}

// decideL2 picks the single owner of ip among the nodes the pool's L2
// advertisements admit, restricted by the Local policy, and names the
// advertisements under which it answers.
func (c *computation) decideL2(ip netip.Addr, p *poolPlan, users []*Service) (L2Announcement, []string, bool) {
	if len(p.l2) == 0 {
		return L2Announcement{}, nil, false
	}
	winner, ok := c.elect.winner(ip, p.l2Candidates(users))
	if !ok {
		return L2Announcement{}, nil, false
	}
	a, advs := p.l2For(winner)
	return a, advs, true
}

// l2Candidates are the nodes that may own an address of the pool used by
// users: every node an L2 advertisement admits, or under the Local policy
// those of them running a ready endpoint.
func (p *poolPlan) l2Candidates(users []*Service) []string {
	if !anyCluster(users) {
		return endpointNodesIn(users, p.l2Set)
	}
	return p.l2Nodes
}

// isL2Candidate reports whether node is one of l2Candidates(users),
// without listing them.
func (p *poolPlan) isL2Candidate(node string, users []*Service) bool {
	if !p.l2Set[node] {
		return false
	}
	if anyCluster(users) {
		return true
	}
	for _, s := range users {
		if slices.Contains(s.EndpointNodes, node) {
			return true
		}
	}
	return false
}

// l2For is the announcement of an address owned by winner (Services not
// set) and the advertisements under which it answers.
func (p *poolPlan) l2For(winner string) (L2Announcement, []string) {
	o := p.ownerFor(winner)
	return L2Announcement{Node: winner, Interfaces: o.interfaces}, o.advertisements
}

// ownerFor joins the interfaces of the advertisements that admit node, and
// lists them by name in input order. One of them leaving interfaces empty
// ("automatic") makes the answer automatic: it already covers the links the
// others name for this address.
func (p *poolPlan) ownerFor(node string) l2Owner {
	if o, ok := p.owners[node]; ok {
		return o
	}
	set := map[string]bool{}
	auto := false
	var o l2Owner
	for _, a := range p.l2 {
		if !a.nodes[node] {
			continue
		}
		o.advertisements = append(o.advertisements, a.l2.Name)
		if len(a.l2.Interfaces) == 0 {
			auto = true
		}
		for _, i := range a.l2.Interfaces {
			set[i] = true
		}
	}
	if !auto {
		o.interfaces = sortedKeys(set)
	}
	p.owners[node] = o
	return o
}

// L2Owned returns the addresses node answers for, with their interfaces, in
// the form speaker/layer2.Announcer.SetOwned takes. O(addresses): a caller
// following a Decider reads L2At for the addresses Changed lists instead.
func (r Result) L2Owned(node string) map[netip.Addr][]string {
	out := map[netip.Addr][]string{}
	for ip, a := range r.l2.all() {
		if a.Node == node {
			out[ip] = a.Interfaces
		}
	}
	return out
}

// L2Advertisements names the L2Advertisements under which the owner of ip
// answers for it: those selecting both the owner and the pool ip belongs to,
// in input order. Their status is where a problem announcing ip shows. It
// is nil for an address nobody announces at layer 2.
func (r Result) L2Advertisements(ip netip.Addr) []string {
	advs, _ := r.l2Advertisements.get(ip)
	return advs
}

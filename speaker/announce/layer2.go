package announce

import "net/netip"

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
	candidates := p.l2Nodes
	if !anyCluster(users) {
		candidates = endpointNodesIn(users, p.l2Set)
	}
	winner, ok := c.elect.winner(ip, candidates)
	if !ok {
		return L2Announcement{}, nil, false
	}
	o := p.ownerFor(winner)
	return L2Announcement{Node: winner, Interfaces: o.interfaces}, o.advertisements, true
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
// the form speaker/layer2.Announcer.SetOwned takes.
func (r Result) L2Owned(node string) map[netip.Addr][]string {
	out := make(map[netip.Addr][]string, len(r.L2)/2)
	for ip, a := range r.L2 {
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
	return r.l2Advertisements[ip]
}

package announce

import (
	"maps"
	"net/netip"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/labels"
)

// membershipChanged applies a change of Live to every address not marked
// dirty (those are decided afresh after it), writing into w, and returns
// the addresses whose decision changed. Live decides nothing but which
// nodes are eligible, so only the pools whose advertisements admit a node
// that joined or left can change; in those, rendezvous hashing moves an
// address only to a node that joined, or away from an owner that left.
func (d *Decider) membershipChanged(w *resultWriter) []netip.Addr {
	d.liveChanged = false
	nodes := eligibleNodes(d.cluster.Nodes, d.cluster.Eligibility, d.live)
	eligible := nodeNames(nodes)
	var joined []*Node // every eligible node of a joining name (names may repeat)
	joinedNames := map[string]bool{}
	for _, n := range nodes {
		if !d.eligible[n.Name] {
			joined = append(joined, n)
			joinedNames[n.Name] = true
		}
	}
	left := map[string]bool{}
	for name := range d.eligible {
		if !eligible[name] {
			left[name] = true
		}
	}
	if len(joined) == 0 && len(left) == 0 {
		return nil
	}
	c, affected := d.c.withMembers(nodes, joined, left)
	d.c, d.eligible = c, eligible
	newcomers := slices.Sorted(maps.Keys(joinedNames))
	var changed []netip.Addr
	for ip, h := range d.homes {
		if !affected[h.pool.Name] || d.dirty[ip] {
			continue
		}
		was := d.res.decisionOf(ip)
		if w.update(ip, was, c.redecide(ip, h, d.byIP[ip], was, newcomers, left)) {
			changed = append(changed, ip)
		}
	}
	return changed
}

// eligibleNodes are the nodes that may announce, sorted by name, as
// newComputation lists them.
func eligibleNodes(all []Node, e Eligibility, live map[string]bool) []*Node {
	var nodes []*Node
	for i := range all {
		if e.Eligible(all[i], live) {
			nodes = append(nodes, &all[i])
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes
}

// withMembers returns c with nodes as the eligible nodes, joined and left
// being the difference, and the names of the pools whose plans that
// changes. Every advertisement's set of nodes and every plan that does
// not change is shared with c; the others are new, as a Result may hold
// the old ones.
func (c *computation) withMembers(nodes, joined []*Node, left map[string]bool) (*computation, map[string]bool) {
	n := *c
	n.nodes = nodes
	n.l2Sel = make(map[*L2Advertisement]map[string]bool, len(c.l2Sel))
	l2Moved := map[*L2Advertisement]bool{}
	for a, set := range c.l2Sel {
		n.l2Sel[a], l2Moved[a] = moveMembers(set, a.NodeSelectors, joined, left)
	}
	n.bgpSel = make(map[*BGPAdvertisement]map[string]bool, len(c.bgpSel))
	bgpMoved := map[*BGPAdvertisement]bool{}
	for a, set := range c.bgpSel {
		n.bgpSel[a], bgpMoved[a] = moveMembers(set, a.NodeSelectors, joined, left)
	}
	n.plans = make(map[string]*poolPlan, len(c.plans))
	affected := map[string]bool{}
	for name, p := range c.plans {
		if p.admitsAny(l2Moved, bgpMoved) {
			affected[name] = true // rebuilt by planFor when next needed
		} else {
			n.plans[name] = p
		}
	}
	return &n, affected
}

// moveMembers returns set, the nodes an advertisement with selectors sels
// admits, without the nodes that left and with those that joined and
// match; a new set if that changes it, with true, else set itself.
func moveMembers(set map[string]bool, sels []labels.Selector, joined []*Node, left map[string]bool) (map[string]bool, bool) {
	var add []string
	for _, j := range joined {
		if nodeSelected(sels, j) {
			add = append(add, j.Name)
		}
	}
	gone := false
	for name := range left {
		if set[name] {
			gone = true
			break
		}
	}
	if len(add) == 0 && !gone {
		return set, false
	}
	out := maps.Clone(set)
	for name := range left {
		delete(out, name)
	}
	for _, name := range add {
		out[name] = true
	}
	return out, true
}

// admitsAny reports whether one of p's advertisements is marked in l2 or bgp.
func (p *poolPlan) admitsAny(l2 map[*L2Advertisement]bool, bgp map[*BGPAdvertisement]bool) bool {
	for _, a := range p.l2 {
		if l2[a.l2] {
			return true
		}
	}
	for _, a := range p.bgp {
		if bgp[a.bgp] {
			return true
		}
	}
	return false
}

// redecide decides ip again after a membership change, was being its
// decision before it and its services unchanged since. newcomers are the
// names of the nodes that joined, sorted; left those that left.
func (c *computation) redecide(ip netip.Addr, h home, users []*Service, was addrDecision, newcomers []string, left map[string]bool) addrDecision {
	plan := c.planFor(h.pool)
	keys := was.keys()
	if keys == nil {
		keys = serviceKeys(users)
	}
	var d addrDecision
	if a, advs, ok := c.reelectL2(ip, plan, users, was, newcomers, left); ok {
		a.Services = keys
		d.hasL2, d.l2, d.l2Advs = true, a, advs
	}
	c.decideBGPInto(&d, h, plan, users, keys)
	return d
}

// reelectL2 is decideL2 after a membership change. Rendezvous hashing
// elects the highest score, so while the owner stays a candidate, the new
// owner is the highest among it and the candidates that joined: one score
// per newcomer instead of one per candidate. An owner that left, or no
// owner, needs a whole election.
func (c *computation) reelectL2(ip netip.Addr, p *poolPlan, users []*Service, was addrDecision, newcomers []string, left map[string]bool) (L2Announcement, []string, bool) {
	if !was.hasL2 || left[was.l2.Node] || len(p.l2) == 0 {
		return c.decideL2(ip, p, users)
	}
	// The owner did not leave, so it is still eligible and still admitted
	// by the same advertisements: still a candidate.
	contenders := []string{was.l2.Node}
	for _, n := range newcomers {
		if p.isL2Candidate(n, users) {
			contenders = append(contenders, n)
		}
	}
	winner := was.l2.Node
	if len(contenders) > 1 {
		winner, _ = c.elect.version.Winner(ip, contenders)
	}
	a, advs := p.l2For(winner)
	return a, advs, true
}

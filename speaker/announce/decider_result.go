package announce

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
)

// addrDecision is everything a Result holds for one address. Compute and
// the Decider both decide an address into one, so they cannot disagree on
// what an address's decision is.
type addrDecision struct {
	hasL2  bool
	l2     L2Announcement
	l2Advs []string
	hasBGP bool
	bgp    BGPAnnouncement
	routes addrRoutes
}

// decide decides ip, whose home is h and whose services are users (sorted
// by key).
func (c *computation) decide(ip netip.Addr, h home, users []*Service) addrDecision {
	plan := c.planFor(h.pool)
	var d addrDecision
	keys := serviceKeys(users)
	if a, advs, ok := c.decideL2(ip, plan, users); ok {
		a.Services = keys
		d.hasL2, d.l2, d.l2Advs = true, a, advs
	}
	c.decideBGPInto(&d, h, plan, users, keys)
	return d
}

// decideBGPInto sets the BGP part of d, which holds none yet.
func (c *computation) decideBGPInto(d *addrDecision, h home, plan *poolPlan, users []*Service, keys []string) {
	if matches, nodes := c.decideBGP(plan, users); len(nodes) > 0 {
		d.hasBGP = true
		d.bgp = BGPAnnouncement{Nodes: nodes, Services: keys}
		d.routes = addrRoutes{entry: h.entry, matches: matches}
	}
}

// decisionOf reads back what r holds for ip.
func (r Result) decisionOf(ip netip.Addr) addrDecision {
	var d addrDecision
	d.l2, d.hasL2 = r.l2.get(ip)
	d.l2Advs, _ = r.l2Advertisements.get(ip)
	d.bgp, d.hasBGP = r.bgp.get(ip)
	d.routes, _ = r.bgpMatches.get(ip)
	return d
}

// keys returns the service keys d holds, nil when it announces nothing.
func (d addrDecision) keys() []string {
	if d.hasL2 {
		return d.l2.Services
	}
	if d.hasBGP {
		return d.bgp.Services
	}
	return nil
}

func (d addrDecision) sameL2(o addrDecision) bool {
	return d.hasL2 == o.hasL2 && d.l2.Node == o.l2.Node &&
		sameStrings(d.l2.Interfaces, o.l2.Interfaces) &&
		sameStrings(d.l2.Services, o.l2.Services) &&
		sameStrings(d.l2Advs, o.l2Advs)
}

func (d addrDecision) sameBGP(o addrDecision) bool {
	return d.hasBGP == o.hasBGP &&
		sameStrings(d.bgp.Nodes, o.bgp.Nodes) &&
		sameStrings(d.bgp.Services, o.bgp.Services) &&
		d.routes.entry == o.routes.entry &&
		slices.EqualFunc(d.routes.matches, o.routes.matches, func(a, b bgpMatch) bool {
			return a.adv == b.adv && sameNodeSet(a.nodes, b.nodes)
		})
}

// sameStrings is slices.Equal, quick for the same slice, and telling nil
// from empty as reflect.DeepEqual does.
func sameStrings(a, b []string) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return sameSlice(a, b) || slices.Equal(a, b)
}

// largeNodeSet is the size above which sameNodeSet does not compare two
// distinct sets entry by entry. Such sets are an advertisement's nodes
// under the Cluster policy, rebuilt only when membership changed, and then
// comparing them for every address of the pool would cost more than
// treating the address as changed.
const largeNodeSet = 64

// sameNodeSet reports whether a and b hold the same nodes. It may answer
// false for equal sets larger than largeNodeSet that are distinct maps:
// the address is then rewritten and listed by Changed, which may list more
// than what changed.
func sameNodeSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() {
		return true
	}
	return len(a) <= largeNodeSet && maps.Equal(a, b)
}

// resultWriter makes a Result from another by changing some addresses.
// Every shard of the Result it starts from is copied before its first
// change, so a Result handed out is never modified.
type resultWriter struct {
	res    Result
	l2     *tableWriter[L2Announcement]
	bgp    *tableWriter[BGPAnnouncement]
	l2Advs *tableWriter[[]string]
	routes *tableWriter[addrRoutes]
}

// newResultWriter starts from res; hint is the number of addresses
// expected, to size new shards.
func newResultWriter(res Result, hint int) *resultWriter {
	return &resultWriter{
		res:    res,
		l2:     newTableWriter(res.l2, hint),
		bgp:    newTableWriter(res.bgp, hint),
		l2Advs: newTableWriter(res.l2Advertisements, hint),
		routes: newTableWriter(res.bgpMatches, hint),
	}
}

// set records d for ip, which held nothing before.
func (w *resultWriter) set(ip netip.Addr, d addrDecision) {
	if d.hasL2 {
		w.l2.set(ip, d.l2)
		w.l2Advs.set(ip, d.l2Advs)
	}
	if d.hasBGP {
		w.bgp.set(ip, d.bgp)
		w.routes.set(ip, d.routes)
	}
}

// update replaces was, what ip held, by now, touching only the parts that
// differ, and reports whether any did.
func (w *resultWriter) update(ip netip.Addr, was, now addrDecision) bool {
	changed := false
	if !was.sameL2(now) {
		changed = true
		if now.hasL2 {
			w.l2.set(ip, now.l2)
			w.l2Advs.set(ip, now.l2Advs)
		} else {
			w.l2.delete(ip)
			w.l2Advs.delete(ip)
		}
	}
	if !was.sameBGP(now) {
		changed = true
		if now.hasBGP {
			w.bgp.set(ip, now.bgp)
			w.routes.set(ip, now.routes)
		} else {
			w.bgp.delete(ip)
			w.routes.delete(ip)
		}
	}
	return changed
}

// result returns the Result made; the writer must not be used afterwards.
func (w *resultWriter) result() Result {
	r := w.res
	r.l2, r.bgp = w.l2.table(), w.bgp.table()
	r.l2Advertisements, r.bgpMatches = w.l2Advs.table(), w.routes.table()
	return r
}

package announce

import (
	"cmp"
	"maps"
	"net/netip"
	"reflect"
	"slices"
)

// Cluster is everything the decision depends on except the Services: the
// fields of Input but Services.
type Cluster struct {
	Nodes             []Node
	Live              map[string]bool
	Pools             []Pool
	L2Advertisements  []L2Advertisement
	BGPAdvertisements []BGPAdvertisement
	WinnerVersion     WinnerVersion
	Eligibility       Eligibility
}

// Decider makes the decision of Compute incrementally: it keeps the last
// decision and, at each Decide, recomputes only what the changes since the
// previous one can move. Its Result is always the one Compute returns for
// Input(). TestDeciderMatchesCompute checks that over random clusters and
// changes.
//
// What each change costs at the next Decide:
//   - a Service set or deleted: the addresses it had and has (a home, an
//     election and the BGP nodes each), unless it changes which pools hold
//     addresses so that the refused aggregations change: then everything;
//   - only Live changed: for every address of a pool whose advertisements
//     admit a node that joined or left, one score against the current
//     owner per node that joined, a whole election where the owner left,
//     and its BGP nodes;
//   - anything else in the Cluster: everything, as Compute.
//
// The Result is copy-on-write: Decide copies a shard of the previous
// Result before changing it (about 1/256 of the addresses, see
// addrTable), so a Result handed out is never modified and a Service
// change costs a few shard copies, not a copy of every address.
//
// A Decider is not safe for concurrent use; its Results are.
type Decider struct {
	cluster Cluster         // as last set, Live being d.live
	live    map[string]bool // our copy: the caller may reuse its map
	// redo: the next Decide recomputes everything (nothing decided yet, or
	// the cluster changed beyond Live).
	redo bool
	// liveChanged: Live differs from the one of the last Decide.
	liveChanged bool

	services map[string]*Service
	byIP     map[netip.Addr][]*Service // each address's services, sorted by key
	dirty    map[netip.Addr]bool       // addresses whose services changed

	c        *computation
	eligible map[string]bool // the eligible nodes c was built with
	homes    map[netip.Addr]home
	holding  map[string]int // per pool, the addresses it is the home of
	res      Result

	changed    []netip.Addr
	changedAll bool
}

// NewDecider returns a Decider with an empty cluster and no Services.
func NewDecider() *Decider {
	return &Decider{
		redo:     true,
		live:     map[string]bool{},
		services: map[string]*Service{},
		byIP:     map[netip.Addr][]*Service{},
		dirty:    map[netip.Addr]bool{},
	}
}

// SetCluster replaces the cluster part. When only Live differs from the
// previous cluster, the next Decide re-elects only what the rendezvous
// rule can move (see Decider); any other difference recomputes everything.
//
// An unchanged cluster costs a comparison: the same slices (same array and
// length) count as unchanged without looking into them, others are
// compared deeply, and Live is compared entry by entry. So the slices of c
// must not be modified after the call: pass new ones to change them. Live
// is copied.
func (d *Decider) SetCluster(c Cluster) {
	if !sameStructure(d.cluster, c) {
		d.redo = true
	}
	if !maps.Equal(c.Live, d.live) {
		d.live = maps.Clone(c.Live)
		if d.live == nil {
			d.live = map[string]bool{}
		}
		d.liveChanged = true
	}
	c.Live = d.live
	d.cluster = c
}

// sameStructure reports whether a and b are equal but for Live.
func sameStructure(a, b Cluster) bool {
	return a.WinnerVersion == b.WinnerVersion && a.Eligibility == b.Eligibility &&
		sameOrEqual(a.Nodes, b.Nodes) && sameOrEqual(a.Pools, b.Pools) &&
		sameOrEqual(a.L2Advertisements, b.L2Advertisements) &&
		sameOrEqual(a.BGPAdvertisements, b.BGPAdvertisements)
}

// sameOrEqual reports whether a and b are the same slice or deeply equal;
// nil and empty are equal, as Compute treats them alike.
func sameOrEqual[T any](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// SetService adds or replaces the Service with key s.Key. Only the
// addresses it had and has are recomputed at the next Decide. s's slices
// are copied.
func (d *Decider) SetService(s Service) {
	old := d.services[s.Key]
	if old != nil && sameService(*old, s) {
		return
	}
	s.IPs = slices.Clone(s.IPs)
	s.EndpointNodes = slices.Clone(s.EndpointNodes)
	if old != nil {
		d.unlink(old)
	}
	d.services[s.Key] = &s
	d.link(&s)
}

// DeleteService removes the Service with key key, if any.
func (d *Decider) DeleteService(key string) {
	if old := d.services[key]; old != nil {
		d.unlink(old)
		delete(d.services, key)
	}
}

func sameService(a, b Service) bool {
	return a.Pool == b.Pool && a.Local == b.Local &&
		slices.Equal(a.IPs, b.IPs) && slices.Equal(a.EndpointNodes, b.EndpointNodes)
}

// Decide applies the changes made since the previous Decide and returns
// the decision, the one Compute(d.Input()) returns. The Result is never
// modified afterwards.
func (d *Decider) Decide() Result {
	if d.redo || !d.rehome() {
		d.recomputeAll()
		return d.res
	}
	if len(d.dirty) == 0 && !d.liveChanged {
		d.changed, d.changedAll = nil, false
		return d.res
	}
	w := newResultWriter(d.res, len(d.homes))
	var changed []netip.Addr
	if d.liveChanged {
		changed = d.membershipChanged(w)
	}
	for ip := range d.dirty {
		was := d.res.decisionOf(ip)
		var now addrDecision
		if h, ok := d.homes[ip]; ok {
			now = d.c.decide(ip, h, d.byIP[ip])
		}
		if w.update(ip, was, now) {
			changed = append(changed, ip)
		}
	}
	d.dirty = map[netip.Addr]bool{} // not clear: a cleared map keeps its size, and ranging over it costs that
	slices.SortFunc(changed, netip.Addr.Compare)
	d.res, d.changed, d.changedAll = w.result(), changed, false
	return d.res
}

// recomputeAll decides everything, as Compute.
func (d *Decider) recomputeAll() {
	d.c = newComputation(d.clusterInput())
	d.eligible = nodeNames(d.c.nodes)
	d.res, d.homes = d.c.decideAll(d.byIP)
	d.holding = map[string]int{}
	for _, h := range d.homes {
		d.holding[h.pool.Name]++
	}
	d.dirty = map[netip.Addr]bool{} // see Decide
	d.redo, d.liveChanged = false, false
	d.changed, d.changedAll = nil, true
}

// Changed returns the addresses whose decision (layer-2 owner, interfaces
// or advertisements; BGP nodes or routes) may differ between the previous
// Decide and the last one, sorted; all is true when the last Decide
// recomputed everything, so that anything may have changed. It may list an
// address that did not change (see sameNodeSet), never omit one that did.
func (d *Decider) Changed() (addrs []netip.Addr, all bool) {
	return slices.Clone(d.changed), d.changedAll
}

// Input returns the full input equivalent to the Decider's state: the
// cluster as last set and the Services sorted by key.
func (d *Decider) Input() Input {
	in := d.clusterInput()
	in.Live = maps.Clone(d.live)
	in.Services = make([]Service, 0, len(d.services))
	for _, s := range d.services {
		in.Services = append(in.Services, *s)
	}
	slices.SortFunc(in.Services, func(a, b Service) int { return cmp.Compare(a.Key, b.Key) })
	return in
}

func (d *Decider) clusterInput() Input {
	c := d.cluster
	return Input{
		Nodes:             c.Nodes,
		Live:              d.live,
		Pools:             c.Pools,
		L2Advertisements:  c.L2Advertisements,
		BGPAdvertisements: c.BGPAdvertisements,
		WinnerVersion:     c.WinnerVersion,
		Eligibility:       c.Eligibility,
	}
}

func nodeNames(nodes []*Node) map[string]bool {
	out := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		out[n.Name] = true
	}
	return out
}

package allocator

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
)

// TestAllocatorAgainstModel runs random sequences of SetPools, Assign and
// Release against the allocator and against a naive model kept in this
// file: the pools as plain lists of ranges, a map of address -> holders,
// and linear scans over the (small) ranges. The allocator picks addresses
// by cursor and free stack, the model has no such notion, so they are
// compared only on what both must agree on:
//
//   - no address is held by two Services that may not share it (same key,
//     consent both ways across namespaces, no common port, equal Local
//     selectors within one namespace), every address lies in its lease's
//     pool, which admits the Service, and is not a .0/.255 address that
//     pool avoids; a lease has one address per family, in the order of the
//     Service's families;
//   - Lookup, Stats (assigned and available per family), Users and PoolOf
//     agree with the model after every operation;
//   - a fresh request succeeds exactly when the model finds, in the first
//     family level that some allowed pool can serve, a free or shareable
//     address, and it gets the first such pool in priority order (the first
//     one with a shareable address when it has a sharing key), joining a
//     shared address rather than taking a fresh one; otherwise it fails
//     with PoolExhausted exactly when some allowed pool has addresses of
//     the family but none free, else NoMatchingPool;
//   - a requested IP is granted exactly when it is in a pool that admits the
//     Service, not avoided, and free or held only by compatible Services;
//     otherwise the reason is the one the model expects;
//   - Assign again with the same request keeps the lease (and a
//     PreferDualStack lease gains its missing family exactly when its pool
//     has one to give); a changed request gets a lease within the rules,
//     or fails and keeps the old one;
//   - a pool being deleted (Closed) hands out nothing new, not even a
//     requested IP, but its Services keep what they hold;
//   - Release returns the lease's addresses; SetPools evicts exactly the
//     leases with an address outside every pool, avoided, or in another
//     pool than the rest of the lease, and an invalid SetPools changes
//     nothing.
//
// Seeds are fixed, plus one from the clock, logged; a failure prints its
// seed and the last operations. To replay a seed, add it to modelSeeds
// (the allocator's own map order, when SetPools evicts several leases, may
// still make a replay differ in which addresses it hands out).
func TestAllocatorAgainstModel(t *testing.T) {
	ops := 3000
	if testing.Short() {
		ops = 500
	}
	seeds := append(slices.Clone(modelSeeds), uint64(time.Now().UnixNano()))
	for i, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			// The fixed seeds must also reach every kind of outcome, so
			// that a change to the generator cannot quietly hollow it out.
			newModelRun(t, seed).run(ops, i < len(modelSeeds) && !testing.Short())
		})
	}
}

var modelSeeds = []uint64{1, 2, 3, 42, 20240607}

// modelSlots are the ranges the random pool configurations are built from;
// they cross .255/.0 boundaries and are small enough to scan.
var modelSlots = []string{
	"192.0.2.0-192.0.2.5",
	"192.0.2.254-192.0.3.1",
	"198.51.100.10-198.51.100.13",
	"203.0.113.9",
	"2001:db8::10-2001:db8::13",
	"2001:db8:1::/126",
	"2001:db8:2::1",
}

// modelOutside are addresses in no slot, for requests that must fail.
var modelOutside = []string{"192.0.2.200", "2001:db8:9::1"}

var (
	modelPoolNames = []string{"alpha", "beta", "gamma", "team"}
	modelNS        = []string{"ns-a", "ns-b", "ns-c"}
	modelPorts     = []Port{{"TCP", 80}, {"TCP", 443}, {"UDP", 53}}
)

const modelServicesPerNS = 8

type modelLease struct {
	req  Request // what made the lease: sharing, ports, Local, families
	ips  []netip.Addr
	pool string
}

// model is the reference: pools as given, leases, and who holds what.
type model struct {
	pools   []Pool
	leases  map[string]*modelLease
	holders map[netip.Addr][]string
}

func (m *model) pool(name string) *Pool {
	for i := range m.pools {
		if m.pools[i].Name == name {
			return &m.pools[i]
		}
	}
	return nil
}

// poolOf finds the pool holding ip by scanning every range.
func (m *model) poolOf(ip netip.Addr) *Pool {
	for i := range m.pools {
		for _, r := range m.pools[i].Ranges {
			if r.Contains(ip) {
				return &m.pools[i]
			}
		}
	}
	return nil
}

func modelAvoided(p *Pool, ip netip.Addr) bool {
	if !p.AvoidBuggyIPs || !ip.Is4() {
		return false
	}
	last := ip.As4()[3]
	return last == 0 || last == 255
}

func modelAdmits(p *Pool, req *Request) bool {
	return len(p.Namespaces) == 0 || slices.Contains(p.Namespaces, req.Namespace)
}

// addrs lists p's addresses of family f that may be handed out.
func (m *model) addrs(p *Pool, f iprange.Family) []netip.Addr {
	var out []netip.Addr
	for _, r := range p.Ranges {
		if r.Family() != f {
			continue
		}
		for ip := r.First; ip.IsValid() && ip.Compare(r.Last) <= 0; ip = ip.Next() {
			if !modelAvoided(p, ip) {
				out = append(out, ip)
			}
		}
	}
	return out
}

func modelHasFamily(p *Pool, f iprange.Family) bool {
	return slices.ContainsFunc(p.Ranges, func(r iprange.Range) bool { return r.Family() == f })
}

func modelConsents(r *Request, ns string) bool {
	return ns == r.Namespace || slices.Contains(r.SharingNamespaces, ns) || slices.Contains(r.SharingNamespaces, "*")
}

// modelConflict returns why b may not hold an address beside a, or "".
func modelConflict(a, b *Request) string {
	switch {
	case a.SharingKey == "":
		return v1beta1.ReasonIPUnavailable // a does not share
	case !modelConsents(a, b.Namespace) || !modelConsents(b, a.Namespace):
		return v1beta1.ReasonSharingConflict
	case b.SharingKey == "":
		return v1beta1.ReasonIPUnavailable
	case a.SharingKey != b.SharingKey:
		return v1beta1.ReasonSharingConflict
	}
	for _, p := range a.Ports {
		if slices.Contains(b.Ports, p) {
			return v1beta1.ReasonSharingConflict
		}
	}
	switch {
	case a.LocalSelector == nil && b.LocalSelector == nil:
		return ""
	case a.LocalSelector == nil || b.LocalSelector == nil, a.Namespace != b.Namespace, *a.LocalSelector != *b.LocalSelector:
		return v1beta1.ReasonSharingConflict
	}
	return ""
}

// others returns the holders of ip other than svc.
func (m *model) others(ip netip.Addr, svc string) []string {
	return slices.DeleteFunc(slices.Clone(m.holders[ip]), func(h string) bool { return h == svc })
}

// claimReasons returns the reasons req may not hold ip, empty if it may.
func (m *model) claimReasons(p *Pool, ip netip.Addr, req *Request) []string {
	if modelAvoided(p, ip) {
		return []string{v1beta1.ReasonIPUnavailable}
	}
	var out []string
	for _, h := range m.others(ip, req.Service) {
		if r := modelConflict(&m.leases[h].req, req); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// free and shareable scan p for an address of family f: unheld, or held
// only by Services req may share with.
func (m *model) free(p *Pool, f iprange.Family) bool {
	return slices.ContainsFunc(m.addrs(p, f), func(ip netip.Addr) bool { return len(m.holders[ip]) == 0 })
}

func (m *model) shareable(p *Pool, f iprange.Family, req *Request) bool {
	return slices.ContainsFunc(m.addrs(p, f), func(ip netip.Addr) bool {
		return len(m.others(ip, req.Service)) > 0 && len(m.claimReasons(p, ip, req)) == 0
	})
}

// servable reports whether p can give req a new address of family f; a
// pool being deleted gives none.
func (m *model) servable(p *Pool, f iprange.Family, req *Request) bool {
	return !p.Closed && modelHasFamily(p, f) && (m.free(p, f) || m.shareable(p, f, req))
}

// ordered returns the pools by priority (none last), then name.
func (m *model) ordered() []*Pool {
	out := make([]*Pool, len(m.pools))
	for i := range m.pools {
		out[i] = &m.pools[i]
	}
	slices.SortFunc(out, func(x, y *Pool) int {
		switch {
		case x.Priority != nil && y.Priority != nil && *x.Priority != *y.Priority:
			return cmp.Compare(*x.Priority, *y.Priority)
		case x.Priority != nil && y.Priority == nil:
			return -1
		case x.Priority == nil && y.Priority != nil:
			return 1
		}
		return cmp.Compare(x.Name, y.Name)
	})
	return out
}

// levels are the family sets a request without IPs tries, best first.
func modelLevels(req *Request) [][]iprange.Family {
	f := req.Families
	switch {
	case req.Policy == SingleStack:
		return [][]iprange.Family{f[:1]}
	case len(f) == 2 && req.Policy == PreferDualStack:
		return [][]iprange.Family{f, f[:1], f[1:]}
	}
	return [][]iprange.Family{f}
}

// modelExpect is what the model predicts for an Assign.
type modelExpect struct {
	reasons []string         // failure with one of these reasons; nil: success
	pool    string           // the pool, when known
	level   []iprange.Family // the families, in order, when known
	exact   []netip.Addr
	shared  map[iprange.Family]bool // families that must reuse a held address
	// keep: addresses the result must contain (a lease kept on Assign again)
	keep []netip.Addr
	// known is false when the model predicts nothing beyond validity.
	known bool
}

func modelFail(reasons ...string) modelExpect { return modelExpect{reasons: reasons, known: true} }

// expectFresh predicts a request without IPs from a Service without lease.
func (m *model) expectFresh(req *Request) modelExpect {
	var allowed []*Pool
	if req.Pool != "" {
		p := m.pool(req.Pool)
		if p == nil || !modelAdmits(p, req) {
			return modelFail(v1beta1.ReasonNoMatchingPool)
		}
		allowed = []*Pool{p}
	} else {
		for _, p := range m.ordered() {
			if p.AutoAssign && modelAdmits(p, req) {
				allowed = append(allowed, p)
			}
		}
		if len(allowed) == 0 {
			return modelFail(v1beta1.ReasonNoMatchingPool)
		}
	}
	exhausted := false
	for _, level := range modelLevels(req) {
		var first, firstShared *Pool
		for _, p := range allowed {
			ok, shared := true, false
			for _, f := range level {
				if !m.servable(p, f, req) {
					ok = false
					exhausted = exhausted || (!p.Closed && modelHasFamily(p, f))
					break
				}
				shared = shared || m.shareable(p, f, req)
			}
			if ok && first == nil {
				first = p
			}
			if ok && shared && firstShared == nil {
				firstShared = p
			}
		}
		if first == nil {
			continue
		}
		p := first
		if firstShared != nil {
			p = firstShared
		}
		e := modelExpect{pool: p.Name, level: level, shared: map[iprange.Family]bool{}, known: true}
		for _, f := range level {
			e.shared[f] = m.shareable(p, f, req)
		}
		return e
	}
	if exhausted {
		return modelFail(v1beta1.ReasonPoolExhausted)
	}
	return modelFail(v1beta1.ReasonNoMatchingPool)
}

// expectRequested predicts a request for exact IPs (req.Pool unset).
func (m *model) expectRequested(req *Request) modelExpect {
	var p *Pool
	for _, ip := range req.IPs {
		q := m.poolOf(ip)
		switch {
		case q == nil:
			return modelFail(v1beta1.ReasonIPUnavailable)
		case p != nil && q != p:
			return modelFail(v1beta1.ReasonInvalidRequest)
		}
		p = q
	}
	if !modelAdmits(p, req) {
		return modelFail(v1beta1.ReasonIPUnavailable)
	}
	fams := req.Families
	if req.Policy == SingleStack {
		fams = fams[:1]
	}
	e := modelExpect{pool: p.Name, known: true}
	for _, f := range fams {
		i := slices.IndexFunc(req.IPs, func(ip netip.Addr) bool { return iprange.FamilyOf(ip) == f })
		if i < 0 {
			continue
		}
		own := false
		if l := m.leases[req.Service]; l != nil {
			own = slices.Contains(l.ips, req.IPs[i])
		}
		if p.Closed && !own {
			return modelFail(v1beta1.ReasonIPUnavailable) // a pool being deleted keeps only what its Services hold
		}
		if reasons := m.claimReasons(p, req.IPs[i], req); len(reasons) > 0 {
			return modelFail(reasons...)
		}
		e.level = append(e.level, f)
		e.exact = append(e.exact, req.IPs[i])
	}
	return e
}

// expectAgain predicts Assign with the request that made l.
func (m *model) expectAgain(l *modelLease) modelExpect {
	req := &l.req
	if len(req.IPs) > 0 {
		return m.expectRequested(req)
	}
	p := m.pool(l.pool)
	if req.Pool != "" && (m.pool(req.Pool) == nil || !modelAdmits(m.pool(req.Pool), req)) {
		return modelFail(v1beta1.ReasonNoMatchingPool)
	}
	if !modelAdmits(p, req) || (req.Pool != "" && req.Pool != p.Name) {
		return modelExpect{} // it moves: only validity is checked
	}
	e := modelExpect{pool: p.Name, keep: l.ips, known: true}
	fams := modelLevels(req)[0]
	if len(fams) == 2 && len(l.ips) == 1 { // PreferDualStack with one family
		missing := fams[0]
		if iprange.FamilyOf(l.ips[0]) == missing {
			missing = fams[1]
		}
		if (p.AutoAssign || req.Pool == p.Name) && m.servable(p, missing, req) {
			e.level = fams
			e.shared = map[iprange.Family]bool{missing: m.shareable(p, missing, req)}
			return e
		}
	}
	e.exact = l.ips
	return e
}

func (m *model) hold(svc string, l *modelLease) {
	m.leases[svc] = l
	for _, ip := range l.ips {
		m.holders[ip] = append(m.holders[ip], svc)
	}
}

func (m *model) drop(svc string) *modelLease {
	l := m.leases[svc]
	if l == nil {
		return nil
	}
	delete(m.leases, svc)
	for _, ip := range l.ips {
		m.holders[ip] = slices.DeleteFunc(m.holders[ip], func(h string) bool { return h == svc })
		if len(m.holders[ip]) == 0 {
			delete(m.holders, ip)
		}
	}
	return l
}

// setPools applies a valid configuration and returns the evicted Services.
func (m *model) setPools(pools []Pool) []string {
	m.pools = pools
	var evicted []string
	for svc, l := range m.leases {
		var p *Pool
		ok := true
		for i, ip := range l.ips {
			q := m.poolOf(ip)
			if q == nil || modelAvoided(q, ip) || (i > 0 && q != p) {
				ok = false
				break
			}
			p = q
		}
		if ok {
			l.pool = p.Name
			continue
		}
		evicted = append(evicted, svc)
	}
	for _, svc := range evicted {
		m.drop(svc)
	}
	slices.Sort(evicted)
	return evicted
}

// modelRun drives one seed.
type modelRun struct {
	t       *testing.T
	seed    uint64
	rnd     *rand.Rand
	a       *Allocator
	m       *model
	slots   []iprange.Range
	svcs    []string
	history []string
	op      int // the operation under way, from 1
	stats   map[string]int
}

func newModelRun(t *testing.T, seed uint64) *modelRun {
	r := &modelRun{
		t: t, seed: seed,
		rnd:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		a:     New(),
		m:     &model{leases: map[string]*modelLease{}, holders: map[netip.Addr][]string{}},
		stats: map[string]int{},
	}
	for _, s := range modelSlots {
		r.slots = append(r.slots, mustParseRange(t, s))
	}
	for _, ns := range modelNS {
		for i := range modelServicesPerNS {
			r.svcs = append(r.svcs, fmt.Sprintf("%s/s%d", ns, i))
		}
	}
	return r
}

func (r *modelRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed %d, operation %d: %s\nlast operations:\n  %s", r.seed, r.op, fmt.Sprintf(format, args...),
		strings.Join(r.history[max(0, len(r.history)-15):], "\n  "))
}

func (r *modelRun) logf(format string, args ...any) {
	r.history = append(r.history, fmt.Sprintf(format, args...))
}

func (r *modelRun) run(ops int, mustReach bool) {
	r.setPools(false)
	for i := range ops {
		r.op = i + 1
		switch n := r.rnd.IntN(100); {
		case n < 40:
			svc := r.pick(r.svcs)
			switch l := r.m.leases[svc]; {
			case l != nil && r.rnd.IntN(4) == 0:
				// A changed request (sharing, ports, families, pool): the
				// model checks only the rules and, on failure, that the
				// lease is kept.
				r.assign("changed", r.request(svc), modelExpect{})
			case l != nil:
				r.assign("again", l.req, r.m.expectAgain(l))
			default:
				req := r.request(svc)
				r.assign("fresh", req, r.m.expectFresh(&req))
			}
		case n < 60:
			req := r.requestIPs(r.pick(r.svcs))
			r.assign("requested", req, r.m.expectRequested(&req))
		case n < 85:
			r.release(r.pick(r.svcs))
		default:
			r.setPools(n >= 96)
		}
		r.compare(i%16 == 0)
	}
	if err := checkSharing(r.a); err != nil {
		r.fatalf("share index: %v", err)
	}
	r.t.Logf("operations by outcome: %v", r.stats)
	for _, must := range []string{"fresh ok", "fresh " + v1beta1.ReasonPoolExhausted, "requested ok", "requested shared", "requested " + v1beta1.ReasonSharingConflict, "again ok", "evicted", "setpools invalid"} {
		if r.stats[must] == 0 && mustReach {
			r.t.Errorf("seed %d never reached %q: the generator needs a look", r.seed, must)
		}
	}
}

func modelPick[T any](rnd *rand.Rand, s []T) T { return s[rnd.IntN(len(s))] }

func (r *modelRun) pick(s []string) string { return modelPick(r.rnd, s) }

// request returns a random request without IPs.
func (r *modelRun) request(svc string) Request {
	ns, _, _ := strings.Cut(svc, "/")
	req := Request{Service: svc, Namespace: ns}
	switch n := r.rnd.IntN(100); {
	case n < 55:
		req.Families = []iprange.Family{iprange.IPv4}
	case n < 70:
		req.Families = []iprange.Family{iprange.IPv6}
	default:
		req.Families = modelPick(r.rnd, [][]iprange.Family{{iprange.IPv4, iprange.IPv6}, {iprange.IPv6, iprange.IPv4}})
		req.Policy = modelPick(r.rnd, []FamilyPolicy{SingleStack, PreferDualStack, PreferDualStack, RequireDualStack})
	}
	if r.rnd.IntN(2) == 0 {
		req.SharingKey = modelPick(r.rnd, []string{"k1", "k1", "k2"})
		switch r.rnd.IntN(4) {
		case 0:
			req.SharingNamespaces = []string{"*"}
		case 1:
			req.SharingNamespaces = []string{r.pick(modelNS)}
		}
	}
	for _, p := range modelPorts {
		if r.rnd.IntN(10) < 4 {
			req.Ports = append(req.Ports, p)
		}
	}
	if r.rnd.IntN(5) == 0 {
		sel := modelPick(r.rnd, []string{"app=x", "app=y"})
		req.LocalSelector = &sel
	}
	if r.rnd.IntN(10) == 0 {
		req.Pool = modelPick(r.rnd, append([]string{"nope"}, modelPoolNames...))
	}
	return req
}

// requestIPs returns a random request for exact IPs: one, or one of each
// family under RequireDualStack or PreferDualStack.
func (r *modelRun) requestIPs(svc string) Request {
	req := r.request(svc)
	req.Pool = ""
	any4 := func() netip.Addr { return r.randomAddr(iprange.IPv4) }
	any6 := func() netip.Addr { return r.randomAddr(iprange.IPv6) }
	switch n := r.rnd.IntN(10); {
	case n < 5:
		req.Families, req.Policy, req.IPs = []iprange.Family{iprange.IPv4}, SingleStack, []netip.Addr{any4()}
	case n < 7:
		req.Families, req.Policy, req.IPs = []iprange.Family{iprange.IPv6}, SingleStack, []netip.Addr{any6()}
	case n < 9:
		req.Families = modelPick(r.rnd, [][]iprange.Family{{iprange.IPv4, iprange.IPv6}, {iprange.IPv6, iprange.IPv4}})
		req.Policy = RequireDualStack
		req.IPs = []netip.Addr{any4(), any6()}
		if r.rnd.IntN(2) == 0 {
			req.IPs[0], req.IPs[1] = req.IPs[1], req.IPs[0]
		}
	default:
		req.Families = modelPick(r.rnd, [][]iprange.Family{{iprange.IPv4, iprange.IPv6}, {iprange.IPv6, iprange.IPv4}})
		req.Policy = PreferDualStack
		req.IPs = []netip.Addr{modelPick(r.rnd, []func() netip.Addr{any4, any6})()}
	}
	// Now and then ask to share with a holder of the first IP on its
	// terms, which random terms rarely meet.
	if hs := r.m.others(req.IPs[0], svc); len(hs) > 0 && r.rnd.IntN(3) == 0 {
		h := &r.m.leases[modelPick(r.rnd, hs)].req
		if h.SharingKey != "" {
			req.SharingKey, req.SharingNamespaces, req.Ports, req.LocalSelector = h.SharingKey, []string{"*"}, nil, nil
			if h.LocalSelector != nil && h.Namespace == req.Namespace {
				req.LocalSelector = h.LocalSelector
			}
		}
	}
	return req
}

// randomAddr returns an address of a slot, held ones more often, or now and
// then one outside every slot.
func (r *modelRun) randomAddr(f iprange.Family) netip.Addr {
	if r.rnd.IntN(20) == 0 {
		for _, s := range modelOutside {
			if ip := netip.MustParseAddr(s); iprange.FamilyOf(ip) == f {
				return ip
			}
		}
	}
	if r.rnd.IntN(2) == 0 {
		var held []netip.Addr
		for ip := range r.m.holders {
			if iprange.FamilyOf(ip) == f {
				held = append(held, ip)
			}
		}
		if len(held) > 0 {
			slices.SortFunc(held, netip.Addr.Compare) // map order is not seeded
			return modelPick(r.rnd, held)
		}
	}
	var all []netip.Addr
	for _, s := range r.slots {
		if s.Family() != f {
			continue
		}
		for ip := s.First; ip.Compare(s.Last) <= 0; ip = ip.Next() {
			all = append(all, ip)
		}
	}
	return modelPick(r.rnd, all)
}

// config returns a random pool configuration; invalid ones have a
// duplicate name or a range in two pools.
func (r *modelRun) config(invalid bool) []Pool {
	var pools []Pool
	for _, name := range modelPoolNames {
		if r.rnd.IntN(10) == 0 {
			continue
		}
		p := Pool{Name: name, AutoAssign: r.rnd.IntN(5) > 0, AvoidBuggyIPs: r.rnd.IntN(3) == 0, Closed: r.rnd.IntN(10) == 0}
		if prio := r.rnd.IntN(3); prio > 0 {
			p.Priority = modelPrio(int32(prio))
		}
		if name == "team" {
			p.Namespaces = []string{"ns-a"}
		}
		pools = append(pools, p)
	}
	if len(pools) == 0 && !invalid {
		return nil
	}
	if len(pools) == 0 {
		pools = []Pool{{Name: "alpha", AutoAssign: true}}
	}
	for _, s := range r.slots {
		if r.rnd.IntN(8) > 0 {
			i := r.rnd.IntN(len(pools))
			pools[i].Ranges = append(pools[i].Ranges, s)
		}
	}
	if invalid {
		switch {
		case r.rnd.IntN(2) == 0:
			dup := pools[r.rnd.IntN(len(pools))]
			dup.Ranges = nil
			pools = append(pools, dup)
		default:
			s := modelPick(r.rnd, r.slots)
			a, b := r.rnd.IntN(len(pools)), r.rnd.IntN(len(pools))
			pools[a].Ranges = append(pools[a].Ranges, s)
			pools[b].Ranges = append(pools[b].Ranges, s)
		}
	}
	return pools
}

func modelPrio(n int32) *int32 { return &n }

func (r *modelRun) setPools(invalid bool) {
	pools := r.config(invalid)
	r.logf("SetPools(%s) invalid=%v", describePools(pools), invalid)
	evicted, err := r.a.SetPools(pools)
	if invalid {
		var pe *PoolError
		if err == nil || !errors.As(err, &pe) || !(errors.Is(err, ErrOverlap) || errors.Is(err, ErrInvalidPool)) {
			r.fatalf("invalid SetPools returned %v, want a *PoolError for an overlap or a duplicate name", err)
		}
		if evicted != nil {
			r.fatalf("invalid SetPools evicted %v", evicted)
		}
		r.stats["setpools invalid"]++
		return // compare checks that nothing changed
	}
	if err != nil {
		r.fatalf("SetPools: %v", err)
	}
	want := r.m.setPools(pools)
	if !slices.Equal(evicted, want) {
		r.fatalf("SetPools evicted %v, the model %v", evicted, want)
	}
	if len(evicted) > 0 {
		r.stats["evicted"]++
	}
}

func describePools(pools []Pool) string {
	var parts []string
	for _, p := range pools {
		prio := "-"
		if p.Priority != nil {
			prio = fmt.Sprint(*p.Priority)
		}
		parts = append(parts, fmt.Sprintf("%s{auto=%v avoid=%v closed=%v prio=%s %v}", p.Name, p.AutoAssign, p.AvoidBuggyIPs, p.Closed, prio, p.Ranges))
	}
	return strings.Join(parts, " ")
}

func modelDescribe(req *Request) string {
	local := "Cluster"
	if req.LocalSelector != nil {
		local = "Local:" + *req.LocalSelector
	}
	return fmt.Sprintf("%s %v %v ips=%v pool=%q key=%q ns=%v ports=%v %s",
		req.Service, req.Families, req.Policy, req.IPs, req.Pool, req.SharingKey, req.SharingNamespaces, req.Ports, local)
}

func (r *modelRun) release(svc string) {
	r.logf("Release(%s)", svc)
	got := r.a.Release(svc)
	var want []netip.Addr
	if l := r.m.drop(svc); l != nil {
		want = l.ips
	}
	if !slices.Equal(got, want) {
		r.fatalf("Release(%s) = %v, want %v", svc, got, want)
	}
}

func (r *modelRun) assign(kind string, req Request, e modelExpect) {
	r.t.Helper()
	r.logf("Assign[%s](%s)", kind, modelDescribe(&req))
	before := map[netip.Addr]bool{} // held by others before
	for ip := range r.m.holders {
		before[ip] = len(r.m.others(ip, req.Service)) > 0
	}
	got, err := r.a.Assign(req)
	if err != nil {
		reason := ReasonOf(err)
		r.stats[kind+" "+reason]++
		switch {
		case reason == "":
			r.fatalf("Assign: %v is not an *Error", err)
		case e.known && e.reasons == nil:
			r.fatalf("Assign failed (%v), the model expects success in pool %s", err, e.pool)
		case e.known && !slices.Contains(e.reasons, reason):
			r.fatalf("Assign failed with %s (%v), the model expects %v", reason, err, e.reasons)
		}
		return // compare checks that the lease is unchanged
	}
	r.logf("  -> %v from %s", got.IPs, got.Pool)
	if e.known && e.reasons != nil {
		r.fatalf("Assign = %v from %s, the model expects a failure: %v", got.IPs, got.Pool, e.reasons)
	}
	r.checkAssignment(&req, got, e, before)
	r.m.drop(req.Service)
	r.m.hold(req.Service, &modelLease{req: req, ips: slices.Clone(got.IPs), pool: got.Pool})
	r.stats[kind+" ok"]++
	if slices.ContainsFunc(got.IPs, func(ip netip.Addr) bool { return before[ip] }) {
		r.stats[kind+" shared"]++
	}
}

func (r *modelRun) checkAssignment(req *Request, got Assignment, e modelExpect, before map[netip.Addr]bool) {
	r.t.Helper()
	p := r.m.pool(got.Pool)
	if p == nil {
		r.fatalf("Assign gave pool %q, which does not exist", got.Pool)
	}
	switch {
	case e.pool != "" && got.Pool != e.pool:
		r.fatalf("Assign gave %v from %s, the model expects pool %s", got.IPs, got.Pool, e.pool)
	case req.Pool != "" && got.Pool != req.Pool:
		r.fatalf("Assign gave pool %s to a request naming %s", got.Pool, req.Pool)
	case !modelAdmits(p, req):
		r.fatalf("Assign gave pool %s, which does not admit %s", got.Pool, req.Service)
	case e.exact != nil && !slices.Equal(got.IPs, e.exact):
		r.fatalf("Assign = %v, the model expects exactly %v", got.IPs, e.exact)
	}
	for _, ip := range e.keep {
		if !slices.Contains(got.IPs, ip) {
			r.fatalf("Assign again = %v, which drops %v of the lease", got.IPs, ip)
		}
	}
	var fams []iprange.Family
	for _, ip := range got.IPs {
		fams = append(fams, iprange.FamilyOf(ip))
		switch {
		case r.m.poolOf(ip) != p:
			r.fatalf("Assign gave %v, which is not in its pool %s", ip, got.Pool)
		case modelAvoided(p, ip):
			r.fatalf("Assign gave %v, which pool %s avoids", ip, got.Pool)
		}
		if reasons := r.m.claimReasons(p, ip, req); len(reasons) > 0 {
			r.fatalf("Assign gave %v, which %v hold and may not share with it (%v)", ip, r.m.others(ip, req.Service), reasons)
		}
		if want, ok := e.shared[iprange.FamilyOf(ip)]; ok && want != before[ip] {
			r.fatalf("Assign gave %v (held by others before: %v); the model expects a shared address: %v", ip, before[ip], want)
		}
	}
	switch {
	case e.level != nil && !slices.Equal(fams, e.level):
		r.fatalf("Assign gave families %v, the model expects %v", fams, e.level)
	case len(fams) == 0 || len(fams) > 2 || (len(fams) == 2 && fams[0] == fams[1]):
		r.fatalf("Assign gave %v", got.IPs)
	case req.Policy == SingleStack && (len(fams) != 1 || fams[0] != req.Families[0]):
		r.fatalf("SingleStack %v got %v", req.Families, got.IPs)
	case req.Policy == RequireDualStack && !slices.Equal(fams, req.Families):
		r.fatalf("RequireDualStack %v got %v", req.Families, got.IPs)
	case len(fams) == 2 && !slices.Equal(fams, req.Families):
		r.fatalf("families %v ordered unlike the request's %v", fams, req.Families)
	}
}

// compare checks every Service's lease, every pool's counts and the
// model's own invariants, and when deep the allocator's share index.
func (r *modelRun) compare(deep bool) {
	r.t.Helper()
	m := r.m
	for _, svc := range r.svcs {
		got, ok := r.a.Lookup(svc)
		l := m.leases[svc]
		switch {
		case ok != (l != nil):
			r.fatalf("Lookup(%s) found a lease: %v, the model: %v", svc, ok, l != nil)
		case ok && (got.Pool != l.pool || !slices.Equal(got.IPs, l.ips)):
			r.fatalf("Lookup(%s) = %v from %s, the model %v from %s", svc, got.IPs, got.Pool, l.ips, l.pool)
		}
	}
	users := map[string]int{}
	for svc, l := range m.leases {
		users[l.pool]++
		for _, ip := range l.ips {
			if name, ok := r.a.PoolOf(ip); !ok || name != l.pool {
				r.fatalf("PoolOf(%v) = %q, %v; %s holds it from %s", ip, name, ok, svc, l.pool)
			}
		}
	}
	for _, name := range append([]string{"nope"}, modelPoolNames...) {
		p := m.pool(name)
		st, ok := r.a.Stats(name)
		if ok != (p != nil) {
			r.fatalf("Stats(%s) found the pool: %v, the model: %v", name, ok, p != nil)
		}
		if got := r.a.Users(name); got != users[name] {
			r.fatalf("Users(%s) = %d, the model %d", name, got, users[name])
		}
		if p == nil {
			continue
		}
		var want PoolStats
		want.AvailableIPv6 = new(big.Int)
		for _, f := range []iprange.Family{iprange.IPv4, iprange.IPv6} {
			for _, ip := range m.addrs(p, f) {
				held := len(m.holders[ip]) > 0
				switch {
				case f == iprange.IPv4 && held:
					want.AssignedIPv4++
				case f == iprange.IPv4:
					want.AvailableIPv4++
				case held:
					want.AssignedIPv6++
				default:
					want.AvailableIPv6.Add(want.AvailableIPv6, big.NewInt(1))
				}
			}
		}
		if st.AssignedIPv4 != want.AssignedIPv4 || st.AvailableIPv4 != want.AvailableIPv4 ||
			st.AssignedIPv6 != want.AssignedIPv6 || st.AvailableIPv6.Cmp(want.AvailableIPv6) != 0 {
			r.fatalf("Stats(%s) = %+v, the model %+v", name, st, want)
		}
	}
	// The model's invariants, which hold the allocator's choices to the
	// rules: every holder of an address may share it with every other.
	for ip, hs := range m.holders {
		p := m.poolOf(ip)
		if p == nil || modelAvoided(p, ip) {
			r.fatalf("%v is held by %v but is in no pool or avoided", ip, hs)
		}
		for i, a := range hs {
			for _, b := range hs[i+1:] {
				if why := modelConflict(&m.leases[a].req, &m.leases[b].req); why != "" {
					r.fatalf("%v is held by %s and %s, which may not share it (%s)", ip, a, b, why)
				}
			}
		}
	}
	// The allocator's share index, now and then: it is the costly check.
	if deep {
		if err := checkSharing(r.a); err != nil {
			r.fatalf("share index: %v", err)
		}
	}
}

package announce

import (
	"cmp"
	"net/netip"
	"reflect"
	"slices"
)

// addressesOf returns s's addresses as Compute groups them (groupByIP):
// valid ones, IPv4-mapped IPv6 unmapped, each once.
func addressesOf(s *Service) []netip.Addr {
	out := make([]netip.Addr, 0, len(s.IPs))
	for _, ip := range s.IPs {
		if !ip.IsValid() {
			continue
		}
		if ip = ip.Unmap(); !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

func byKey(s *Service, key string) int { return cmp.Compare(s.Key, key) }

// link adds s to the services of each of its addresses, keeping them
// sorted by key, and marks the addresses for the next Decide.
func (d *Decider) link(s *Service) {
	for _, ip := range addressesOf(s) {
		users := d.byIP[ip]
		i, _ := slices.BinarySearchFunc(users, s.Key, byKey)
		d.byIP[ip] = slices.Insert(users, i, s)
		d.dirty[ip] = true
	}
}

// unlink removes s from the services of each of its addresses and marks
// them for the next Decide. The lists are changed in place: nothing but
// byIP holds them (a decision copies the keys it needs).
func (d *Decider) unlink(s *Service) {
	for _, ip := range addressesOf(s) {
		users := d.byIP[ip]
		if i := slices.Index(users, s); i >= 0 {
			users = slices.Delete(users, i, i+1)
		}
		if len(users) == 0 {
			delete(d.byIP, ip)
		} else {
			d.byIP[ip] = users
		}
		d.dirty[ip] = true
	}
}

// rehome finds again the home of every address marked since the previous
// Decide. It reports false when that changed which pools hold addresses in
// a way that changes the refused aggregations: the advertisements kept
// then differ, and so may every address's BGP decision.
func (d *Decider) rehome() bool {
	holdingChanged := false
	for ip := range d.dirty {
		if old, ok := d.homes[ip]; ok {
			if d.holding[old.pool.Name]--; d.holding[old.pool.Name] == 0 {
				delete(d.holding, old.pool.Name)
				holdingChanged = true
			}
			delete(d.homes, ip)
		}
		users := d.byIP[ip]
		if len(users) == 0 {
			continue
		}
		if h, ok := d.c.homeOf(ip, users); ok {
			d.homes[ip] = h
			if d.holding[h.pool.Name]++; d.holding[h.pool.Name] == 1 {
				holdingChanged = true
			}
		}
	}
	if !holdingChanged {
		return true
	}
	holding := make(map[string]bool, len(d.holding))
	for name := range d.holding {
		holding[name] = true
	}
	refused := aggregationRefusals(d.c.pools, d.cluster.BGPAdvertisements, holding)
	return reflect.DeepEqual(refused, d.res.RefusedAggregation)
}

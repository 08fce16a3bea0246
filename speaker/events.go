package speaker

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
)

// Reasons of the Events a speaker records on its own Node.
const (
	// EventSpeakerIsolated: the speaker reaches none of the speakers it
	// expects (wrong key, blocked port) and announces nothing.
	EventSpeakerIsolated = "SpeakerIsolated"
	// EventSpeakerJoined: an isolated speaker reached the others, or no
	// other is expected any more, and announces again.
	EventSpeakerJoined = "SpeakerJoined"
)

// eventTracker remembers, per Service and address, who announced it last, so
// that an event is emitted when that changes and never on a recomputation
// that changes nothing. Each speaker tracks every Service but emits only the
// events it is responsible for (see observe), so N speakers do not emit N
// copies.
type eventTracker struct {
	l2  map[string]map[netip.Addr]string // service -> address -> owner
	bgp map[string]map[netip.Addr]string // service -> address -> "n1, n2"
}

func newEventTracker() *eventTracker {
	return &eventTracker{l2: map[string]map[netip.Addr]string{}, bgp: map[string]map[netip.Addr]string{}}
}

// serviceEvent is an event to emit on a Service.
type serviceEvent struct {
	service string // "namespace/name"
	note    string
}

// observe records the new decision and returns the events this node must
// emit. Rules:
//   - layer 2: the new owner of an address reports it ("announced from n2");
//     when no node may announce it any more, the lowest live speaker reports that;
//   - BGP: the first (by name) of the new set of advertising nodes reports
//     the set; when it became empty, the lowest live speaker reports it.
//
// current holds the addresses of each handled Service; Services that are
// gone, or addresses they no longer have, are forgotten without an event.
// A speaker starts with no memory, so after it starts it reports the
// addresses it takes over.
func (t *eventTracker) observe(res announce.Result, current map[string][]netip.Addr, self, lowest string) []serviceEvent {
	l2, bgp := map[string]map[netip.Addr]string{}, map[string]map[netip.Addr]string{}
	for svc, ips := range current {
		l2[svc], bgp[svc] = map[netip.Addr]string{}, map[netip.Addr]string{}
		for _, ip := range ips {
			if a, ok := res.L2[ip]; ok {
				l2[svc][ip] = a.Node
			}
			if a, ok := res.BGP[ip]; ok {
				bgp[svc][ip] = strings.Join(a.Nodes, ", ")
			}
		}
	}
	var out []serviceEvent
	for svc, ips := range current {
		for _, ip := range ips {
			out = append(out, l2Event(svc, ip, t.l2[svc][ip], l2[svc][ip], self, lowest)...)
			out = append(out, bgpEvent(svc, ip, t.bgp[svc][ip], bgp[svc][ip], self, lowest)...)
		}
	}
	t.l2, t.bgp = l2, bgp
	slices.SortFunc(out, func(a, b serviceEvent) int { return strings.Compare(a.service+a.note, b.service+b.note) })
	return out
}

func l2Event(svc string, ip netip.Addr, was, now, self, lowest string) []serviceEvent {
	switch {
	case was == now:
		return nil
	case now == self:
		note := fmt.Sprintf("Announcing %s by layer 2 from node %s", ip, now)
		if was != "" {
			note += fmt.Sprintf(", taking over from node %s", was)
		}
		return []serviceEvent{{svc, note}}
	case now == "" && self == lowest:
		return []serviceEvent{{svc, fmt.Sprintf("%s is no longer announced by layer 2 (was node %s): no eligible node", ip, was)}}
	}
	return nil
}

func bgpEvent(svc string, ip netip.Addr, was, now, self, lowest string) []serviceEvent {
	switch {
	case was == now:
		return nil
	case now != "" && strings.SplitN(now, ", ", 2)[0] == self:
		return []serviceEvent{{svc, fmt.Sprintf("Advertising %s by BGP from nodes %s", ip, now)}}
	case now == "" && self == lowest:
		return []serviceEvent{{svc, fmt.Sprintf("%s is no longer advertised by BGP (was nodes %s): no eligible node", ip, was)}}
	}
	return nil
}

// emitEvents records the decision and emits this node's share of events.
func (s *Speaker) emitEvents(st *clusterState, res announce.Result, live map[string]bool) {
	current := make(map[string][]netip.Addr, len(st.services))
	for _, svc := range st.input.Services {
		current[svc.Key] = svc.IPs
	}
	for _, e := range s.events.observe(res, current, s.cfg.NodeName, lowestLive(live)) {
		if obj := st.services[e.service]; obj != nil {
			s.recorder.Eventf(obj, nil, corev1.EventTypeNormal, v1beta1.EventAnnounceNodeChanged, "Announce", "%s", e.note)
		}
	}
}

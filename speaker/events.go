package speaker

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
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

// announcedBy returns, by protocol name, the nodes announcing each address
// in res.
func announcedBy(protocols []protocol.Protocol, res announce.Result) map[string]map[netip.Addr][]string {
	out := make(map[string]map[netip.Addr][]string, len(protocols))
	for _, p := range protocols {
		out[p.Name()] = p.Announcers(res)
	}
	return out
}

// eventTracker remembers, per protocol, Service and address, who announced
// it last, so that an event is emitted when that changes and never on a
// recomputation that changes nothing. Each speaker tracks every Service but
// emits only the events it is responsible for (see observe), so N speakers
// do not emit N copies.
type eventTracker struct {
	protocols []protocol.Protocol
	last      map[string]map[string]map[netip.Addr][]string // protocol -> service -> address -> nodes
}

func newEventTracker(protocols ...protocol.Protocol) *eventTracker {
	return &eventTracker{protocols: protocols, last: map[string]map[string]map[netip.Addr][]string{}}
}

// serviceEvent is an event to emit on a Service.
type serviceEvent struct {
	service string // "namespace/name"
	note    string
}

// observe records the new decision, the nodes announcing each address by
// protocol (announcedBy), and returns the events this node must emit, worded
// by the protocol (protocol.Protocol.EventNote). Rules:
//   - the first (by name) of the new set of announcing nodes reports the
//     change: at layer 2, the new owner of an address;
//   - when no node announces an address any more, the lowest live speaker
//     reports that.
//
// current holds the addresses of each handled Service; Services that are
// gone, or addresses they no longer have, are forgotten without an event.
// A speaker starts with no memory, so after it starts it reports the
// addresses it takes over.
func (t *eventTracker) observe(announced map[string]map[netip.Addr][]string, current map[string][]netip.Addr, self, lowest string) []serviceEvent {
	var out []serviceEvent
	for _, p := range t.protocols {
		now := map[string]map[netip.Addr][]string{}
		for svc, ips := range current {
			now[svc] = map[netip.Addr][]string{}
			for _, ip := range ips {
				nodes := announced[p.Name()][ip]
				if len(nodes) > 0 {
					now[svc][ip] = nodes
				}
				was := t.last[p.Name()][svc][ip]
				if note, ok := changeNote(p, ip, was, nodes, self, lowest); ok {
					out = append(out, serviceEvent{svc, note})
				}
			}
		}
		t.last[p.Name()] = now
	}
	slices.SortFunc(out, func(a, b serviceEvent) int { return strings.Compare(a.service+a.note, b.service+b.note) })
	return out
}

// changeNote words the change of the nodes announcing ip from was to now,
// when self is the speaker to report it.
func changeNote(p protocol.Protocol, ip netip.Addr, was, now []string, self, lowest string) (string, bool) {
	switch {
	case slices.Equal(was, now):
		return "", false
	case len(now) > 0 && now[0] == self:
		return p.EventNote(ip, was, now), true
	case len(now) == 0 && self == lowest:
		return p.EventNote(ip, was, nil), true
	}
	return "", false
}

// emitEvents records the decision and emits this node's share of events.
func (s *Speaker) emitEvents(st *clusterState, announced map[string]map[netip.Addr][]string, live map[string]bool) {
	current := make(map[string][]netip.Addr, len(st.services))
	for _, svc := range st.input.Services {
		current[svc.Key] = svc.IPs
	}
	for _, e := range s.events.observe(announced, current, s.cfg.NodeName, lowestLive(live)) {
		if obj := st.services[e.service]; obj != nil {
			s.recorder.Eventf(obj, nil, corev1.EventTypeNormal, v1beta1.EventAnnounceNodeChanged, "Announce", "%s", e.note)
		}
	}
}

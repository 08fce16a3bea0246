package speaker

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

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
// in res. O(addresses).
func announcedBy(protocols []protocol.Protocol, res announce.Result) map[string]map[netip.Addr][]string {
	out := make(map[string]map[netip.Addr][]string, len(protocols))
	for _, p := range protocols {
		out[p.Name()] = p.Announcers(res)
	}
	return out
}

// announcedAt is announcedBy for the addresses of changed and those of
// services only: what setAnnounced and observe look at after a decision
// that changed those (a Service's other addresses included, as observe
// compares every address of a Service it looks at).
func announcedAt(protocols []protocol.Protocol, res announce.Result, changed []netip.Addr, services map[string][]netip.Addr) map[string]map[netip.Addr][]string {
	out := make(map[string]map[netip.Addr][]string, len(protocols))
	for _, p := range protocols {
		byIP := make(map[netip.Addr][]string, len(changed))
		add := func(ip netip.Addr) {
			if _, done := byIP[ip]; done {
				return
			}
			if nodes := p.AnnouncersAt(res, ip); len(nodes) > 0 {
				byIP[ip] = nodes
			}
		}
		for _, ip := range changed {
			add(ip)
		}
		for _, ips := range services {
			for _, ip := range ips {
				add(ip)
			}
		}
		out[p.Name()] = byIP
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
// only, when not nil, names the Services that may have changed since the
// last observation: the others are left as they were, so a decision that
// moved a few addresses costs as many comparisons. A speaker starts with no
// memory, so after it starts it reports the addresses it takes over.
func (t *eventTracker) observe(announced map[string]map[netip.Addr][]string, current map[string][]netip.Addr, only map[string]bool, self, lowest string) []serviceEvent {
	var out []serviceEvent
	for _, p := range t.protocols {
		last := t.last[p.Name()]
		if only == nil || last == nil {
			last = map[string]map[netip.Addr][]string{}
		}
		seen := func(svc string) {
			was := t.last[p.Name()][svc]
			now := map[netip.Addr][]string{}
			for _, ip := range current[svc] {
				nodes := announced[p.Name()][ip]
				if len(nodes) > 0 {
					now[ip] = nodes
				}
				if note, ok := changeNote(p, ip, was[ip], nodes, self, lowest); ok {
					out = append(out, serviceEvent{svc, note})
				}
			}
			if _, ok := current[svc]; ok {
				last[svc] = now
			} else {
				delete(last, svc)
			}
		}
		if only == nil {
			for svc := range current {
				seen(svc)
			}
		} else {
			for svc := range only {
				seen(svc)
			}
		}
		t.last[p.Name()] = last
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

// emitEvents records the decision and emits this node's share of events,
// on the Services as the cache has them. only is as for observe; lowest is
// the lowest live speaker (lowestLive).
func (s *Speaker) emitEvents(ctx context.Context, announced map[string]map[netip.Addr][]string, only map[string]bool, lowest string) {
	for _, e := range s.events.observe(announced, s.serviceIPs, only, s.cfg.NodeName, lowest) {
		var svc corev1.Service
		ns, name, _ := strings.Cut(e.service, "/")
		if err := s.reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
			continue // gone meanwhile: nobody to tell
		}
		s.recorder.Eventf(&svc, nil, corev1.EventTypeNormal, v1beta1.EventAnnounceNodeChanged, "Announce", "%s", e.note)
	}
}

// affectedServices names the Services whose announcement may change
// between the decisions was and now, changed being the addresses whose
// decision changed: those read again, and those using an address of
// changed in either decision.
func affectedServices(read map[types.NamespacedName]struct{}, was, now announce.Result, changed []netip.Addr) map[string]bool {
	out := make(map[string]bool, len(read)+len(changed))
	for k := range read {
		out[k.String()] = true
	}
	for _, ip := range changed {
		for _, svc := range was.ServicesAt(ip) {
			out[svc] = true
		}
		for _, svc := range now.ServicesAt(ip) {
			out[svc] = true
		}
	}
	return out
}

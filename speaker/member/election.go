package member

import (
	"time"

	"github.com/ironlb/ironlb/speaker/announce"
)

// The coordination below keeps a rolling upgrade from answering an address
// twice or not at all. The layer-2 owner of an address is a pure function of
// the candidates and the election version (announce), so two speakers elect
// the same owners whenever they see the same candidates and version. A
// change every speaker learns at a different moment (gossip reaches each one
// tens of milliseconds apart) would make them disagree for that long: the old
// owner may stop before the new one starts, or start after. So every change
// a speaker makes on purpose is advertised ahead and takes effect at a
// wall-clock instant named in the advertisement:
//
//   - a speaker that starts is alive but a standby ("join=wait") until it has
//     made its first decision; it then advertises the instant it becomes a
//     candidate ("join=<ms>"), and at that instant the old owners of its
//     addresses stop and it starts;
//   - a speaker told to stop advertises the instant it stops being one
//     ("leave=<ms>"), keeps answering until then, and leaves the memberlist
//     only afterwards;
//   - a switch of election version is planned by one speaker, the
//     coordinator (the lowest-named alive one that has a plan), once every
//     alive speaker supports the new version; every other speaker copies its
//     plan ("elect=1>2@<ms>"), so that whoever becomes the coordinator next
//     holds the same plan, and all switch at that instant.
//
// Each speaker thus computes the same view from the same metadata and clock
// (evaluate), and wakes at the instants in it. What is left of a move is the
// spread of the speakers' clocks (NTP keeps nodes within milliseconds) and
// of the time each takes from its wake-up to applying its decision (about a
// millisecond in the lab): for that long an address may be answered by both
// nodes or by neither. An instant is absolute, not "in 500 ms", because
// gossip reaches speakers tens of milliseconds apart while clocks agree far
// better. A change learnt after its instant (the lead was not enough) takes
// effect on learning, as every change did before. Only what nobody can
// announce ahead takes effect at once: a speaker that dies (failure
// detection, unchanged), and a build older than this coordination, which
// acts on learning; beside one, speakers hand off and activate at once.

const (
	// handoffLead is how far ahead a speaker announces that it becomes a
	// candidate or stops being one: long enough for the advertisement to
	// reach every speaker (gossip every 50 ms to 3 members; a few rounds
	// reach a large cluster), short enough not to slow a rolling restart.
	handoffLead = 500 * time.Millisecond
	// switchLead is how far ahead a switch of election version is planned.
	// It is not urgent, so it is planned further ahead than a hand-off, for
	// a speaker that learns late.
	switchLead = 2 * time.Second
	// maxAhead bounds how long after learning an instant a speaker waits
	// for it. A speaker whose clock is far behind the others' would
	// otherwise wait as much longer; one far ahead acts on learning. Either
	// way the disagreement lasts at most maxAhead. It is above the longest
	// lead, so that speakers whose clocks agree are never cut short.
	maxAhead = 5 * time.Second
)

// peer is an alive member and what it advertises.
type peer struct {
	name string
	meta meta
}

// view is what every member computes from the same metadata at the same
// instant: the candidates for addresses and the election version.
type view struct {
	candidates map[string]bool
	version    announce.WinnerVersion
	// next is the next instant at which the view changes by itself; 0 if
	// none is planned.
	next instant
	// legacy: an alive member is a build older than this coordination.
	legacy bool
}

// evaluate computes the view of peers, the alive members, at now.
//
// The version is the plan of the coordinator, if every candidate supports
// the version it puts in force now; otherwise the highest version every
// candidate supports, at once (a candidate that cannot run the planned one
// must not be held to it). While a legacy build is alive, its rule: the
// highest version every alive member supports, at once, as it does.
func evaluate(peers []peer, now instant) view {
	v := view{candidates: map[string]bool{}}
	var all, candidates [][]announce.WinnerVersion
	for _, p := range peers {
		m := p.meta
		all = append(all, m.versions)
		v.legacy = v.legacy || !m.coordinated
		if m.candidate(now) {
			v.candidates[p.name] = true
			candidates = append(candidates, m.versions)
		}
		v.next = earliest(v.next, now, m.joinAt, m.leaveAt)
	}
	src, planned := planSource(peers)
	if planned {
		v.next = earliest(v.next, now, src.meta.plan.at)
	}
	switch planV := src.meta.plan.version(now); {
	case v.legacy:
		v.version = announce.AgreedWinner(all)
	case planned && announce.SupportedByAll(candidates, planV):
		v.version = planV
	default:
		v.version = announce.AgreedWinner(candidates)
	}
	return v
}

// earliest is the earliest of next and the instants in ts after now; zeros
// are none.
func earliest(next, now instant, ts ...instant) instant {
	for _, t := range ts {
		if t > now && (next == 0 || t < next) {
			next = t
		}
	}
	return next
}

// planSource is the coordinator: the lowest-named peer that has a plan.
func planSource(peers []peer) (peer, bool) {
	var src peer
	found := false
	for _, p := range peers {
		if p.meta.coordinated && !p.meta.plan.none() && (!found || p.name < src.name) {
			src, found = p, true
		}
	}
	return src, found
}

// nextPlan is the plan self advertises next, given the alive members (self
// included, with the plan it advertises now), the view it computed from them
// at now, and whether it has met the others (joined at least once).
//
// A member follows the coordinator's plan. The coordinator keeps its plan
// while that plan leads to the version every alive member supports (desired),
// and otherwise plans the switch from the version in force to desired,
// switchLead ahead. A member with no coordinator in sight makes a settled
// plan once it has met the others, not before: a speaker that just started
// must not impose its own idea of the election on a cluster it has not
// heard yet.
func nextPlan(self string, peers []peer, v view, met bool, now instant) plan {
	src, ok := planSource(peers)
	all := make([][]announce.WinnerVersion, len(peers))
	for i, p := range peers {
		all[i] = p.meta.versions
	}
	desired := announce.AgreedWinner(all)
	switch {
	case !ok && !met:
		return plan{}
	case !ok:
		return settled(desired)
	case src.name != self:
		return src.meta.plan
	}
	// A switch made stays advertised as it is ("1>2@<ms>" means v2 once
	// past the instant): restating it as settled would make every member
	// broadcast its copy once more, for nothing.
	p := src.meta.plan
	switch {
	case p.to == desired:
		return p
	case v.version == desired:
		return settled(desired) // a switch not made yet, called off
	}
	return plan{from: v.version, to: desired, at: now + ms(switchLead)}
}

func ms(d time.Duration) instant { return instant(d.Milliseconds()) }

func instantOf(t time.Time) instant { return instant(t.UnixMilli()) }

// time is t as a time; the zero time for none.
func (t instant) time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(t))
}

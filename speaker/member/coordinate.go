package member

import (
	"time"

	"github.com/ironlb/ironlb/speaker/announce"
)

// publishWait bounds how long publishing this member's metadata waits for
// the broadcast to go out; it goes out within a few gossip rounds.
const publishWait = time.Second

// observe records what memberlist reports of a member: alive, with its
// metadata, or gone (dead or left). Then the speaker recomputes and the
// plan is looked at again.
func (l *List) observe(name string, b []byte, alive bool) {
	l.amu.Lock()
	if alive {
		l.alive[name] = decodeMeta(b)
	} else {
		delete(l.alive, name)
	}
	l.amu.Unlock()
	l.notify()
	kick(l.wake)
}

// peers lists the alive members with what they advertise; this member's
// own metadata is taken as set, not as memberlist last published it.
func (l *List) peers() []peer {
	l.cmu.Lock()
	own := l.own
	l.cmu.Unlock()
	l.amu.Lock()
	defer l.amu.Unlock()
	out := make([]peer, 0, len(l.alive))
	for name, m := range l.alive {
		if name == l.name {
			m = own
		}
		out = append(out, peer{name: name, meta: m})
	}
	return out
}

// view evaluates the alive members at now, and returns them as advertised.
func (l *List) view(now time.Time) (view, []peer) {
	raw := l.peers()
	return evaluate(l.localize(raw, now), instantOf(now)), raw
}

// localize moves each advertised instant to no later than maxAhead after
// this member first saw it (see maxAhead). Instants no longer advertised
// are forgotten.
func (l *List) localize(peers []peer, now time.Time) []peer {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	seen := make(map[instant]instant, len(l.firstSeen))
	local := func(t instant) instant {
		if t == 0 {
			return 0
		}
		first, ok := l.firstSeen[t]
		if !ok {
			first = instantOf(now)
		}
		seen[t] = first
		return min(t, first+ms(maxAhead))
	}
	out := make([]peer, len(peers))
	for i, p := range peers {
		m := p.meta
		m.joinAt, m.leaveAt, m.plan.at = local(m.joinAt), local(m.leaveAt), local(m.plan.at)
		out[i] = peer{name: p.name, meta: m}
	}
	l.firstSeen = seen
	return out
}

// Live returns the names of the members that are candidates for addresses
// now: alive (a suspect member still counts: it has not been declared dead
// yet), this one included, and neither a standby nor past the instant it
// hands off at. Every member computes the same set from the same metadata;
// Changes delivers a value at each instant it changes by itself.
func (l *List) Live() map[string]bool {
	v, _ := l.view(time.Now())
	return v.candidates
}

// Alive returns the names of the members memberlist believes alive,
// candidates or not.
func (l *List) Alive() map[string]bool {
	l.amu.Lock()
	defer l.amu.Unlock()
	out := make(map[string]bool, len(l.alive))
	for name := range l.alive {
		out[name] = true
	}
	return out
}

// Election is the layer-2 election version in force now: the one every
// candidate uses at this instant (see evaluate). Once settled it is the
// highest version every alive speaker supports (announce.AgreedWinner).
func (l *List) Election() announce.WinnerVersion {
	v, _ := l.view(time.Now())
	return v.version
}

// Activate makes this member, started as a standby (Options.Standby), a
// candidate for addresses, handoffLead from now so that every member learns
// it first, and returns that instant. A member alone, or beside a build
// that does not read the instant, becomes one at once. Calling it again
// changes nothing; on a member that was never a standby it returns the
// zero time.
func (l *List) Activate() time.Time {
	now := time.Now()
	v, _ := l.view(now)
	lead := handoffLead
	if v.legacy || len(l.Alive()) < 2 {
		lead = 0
	}
	l.cmu.Lock()
	if !l.own.standby {
		at := l.own.joinAt
		l.cmu.Unlock()
		return at.time()
	}
	at := instantOf(now.Add(lead))
	l.own.standby, l.own.joinAt = false, at
	l.storeMeta()
	l.cmu.Unlock()
	l.log.Info("Candidate for addresses from", "at", at.time().Format(time.RFC3339Nano))
	l.published()
	return at.time()
}

// Handoff advertises that this member stops being a candidate for
// addresses handoffLead from now, and returns that instant. Until then it
// keeps answering; at that instant it stops and the others take over, each
// at the same moment by its own clock. Call Leave after the instant. A
// member that is no candidate, alone, or beside a build that does not read
// the instant, hands off at once.
func (l *List) Handoff() time.Time {
	now := time.Now()
	v, _ := l.view(now)
	lead := handoffLead
	if v.legacy || !v.candidates[l.name] || len(v.candidates) < 2 {
		lead = 0
	}
	l.cmu.Lock()
	if l.own.leaveAt != 0 {
		at := l.own.leaveAt
		l.cmu.Unlock()
		return at.time()
	}
	at := instantOf(now.Add(lead))
	l.own.leaveAt = at
	l.storeMeta()
	l.cmu.Unlock()
	l.log.Info("Handing off addresses", "at", at.time().Format(time.RFC3339Nano))
	l.published()
	return at.time()
}

// storeMeta encodes l.own for memberlist to send; l.cmu is held.
func (l *List) storeMeta() {
	b := l.own.encode()
	l.meta.Store(&b)
}

// published makes the others learn this member's new metadata, and this
// member re-evaluate its own view.
func (l *List) published() {
	kick(l.publish)
	kick(l.wake)
	l.notify()
}

// coordinate runs until Shutdown: after each change of the members or of
// their metadata it updates this member's plan (nextPlan) and wakes at the
// next instant the view changes by itself, to tell Changes.
func (l *List) coordinate() {
	defer l.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-l.done:
			timer.Stop()
			return
		case <-l.wake:
		case <-timer.C:
			l.notify()
		}
		if next := l.step(time.Now()); next != 0 {
			timer.Reset(time.Until(next.time()))
		} else {
			timer.Stop()
		}
	}
}

// step updates this member's plan from the others' and returns the next
// instant the view changes by itself.
func (l *List) step(now time.Time) instant {
	v, raw := l.view(now)
	l.cmu.Lock()
	before := l.own.plan
	p := nextPlan(l.name, raw, v, l.met, instantOf(now))
	if p != before {
		l.own.plan = p
		l.storeMeta()
	}
	l.cmu.Unlock()
	if p != before {
		if p.at != 0 && p.at != before.at {
			l.log.Info("Election switch planned", "from", p.from.String(), "to", p.to.String(),
				"at", p.at.time().Format(time.RFC3339Nano))
		}
		kick(l.publish)
	}
	return v.next
}

// publish sends this member's metadata to the others whenever it changes.
// It runs apart from coordinate, whose wake-ups must not wait on a
// broadcast.
func (l *List) publishLoop() {
	defer l.wg.Done()
	for {
		select {
		case <-l.done:
			return
		case <-l.publish:
		}
		l.mu.Lock()
		gone := l.left || l.shutdown
		l.mu.Unlock()
		if gone {
			continue // memberlist ignores a member's news after it left
		}
		if err := l.ml.UpdateNode(publishWait); err != nil {
			l.log.V(1).Info("Metadata broadcast not confirmed; push-pull will carry it", "error", err.Error())
		}
	}
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default: // one pending wake-up is enough
	}
}

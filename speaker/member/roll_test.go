package member

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/ironlb/ironlb/speaker/announce"
)

// TestRollNeverSplitsOwnership plays a rolling upgrade of three speakers
// against the coordination, millisecond by millisecond: every speaker starts
// knowing only election version 1, and each in turn hands off, leaves,
// restarts knowing both versions, makes its first decision as a standby and
// becomes a candidate again. Each speaker learns what another advertises
// after a delay of its own. At every millisecond each address must be owned
// by exactly one speaker by that speaker's own view, that is answered by one
// node, never by two or none, as long as every change reaches every speaker
// within the lead it was advertised with. A change learnt after its instant
// does split the ownership: the lead is what the guarantee rests on.
func TestRollNeverSplitsOwnership(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxDelay instant
		split    bool
	}{
		{"changes learnt within the lead", ms(handoffLead) - 1, false},
		{"changes learnt after their instant", ms(handoffLead) + 300, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(6) {
				s := newRollSim(seed, tc.maxDelay)
				splits := s.run()
				if s.final != v2 {
					t.Fatalf("seed %d: the roll ended on election %v, want v2", seed, s.final)
				}
				if !tc.split && len(splits) > 0 {
					t.Fatalf("seed %d: %d ms with an address owned by two speakers or none; first: %s", seed, len(splits), splits[0])
				}
				if tc.split && len(splits) > 0 {
					return // the test of the boundary is met by one seed
				}
			}
			if tc.split {
				t.Error("no seed split the ownership though changes arrived after their instant")
			}
		})
	}
}

// simState is what a simulated speaker advertises from an instant on.
type simState struct {
	from  instant
	alive bool
	meta  meta
}

type simNode struct {
	name    string
	history []simState
	met     bool
}

func (n *simNode) now() simState { return n.history[len(n.history)-1] }

func (n *simNode) set(t instant, alive bool, m meta) {
	n.history = append(n.history, simState{from: t, alive: alive, meta: m})
}

// at is what n advertised at t.
func (n *simNode) at(t instant) simState {
	for i := len(n.history) - 1; i >= 0; i-- {
		if n.history[i].from <= t {
			return n.history[i]
		}
	}
	return simState{}
}

type rollSim struct {
	nodes []*simNode
	delay map[[2]string]instant // how late the first learns what the second advertises
	ips   []netip.Addr
	final announce.WinnerVersion
	memo  map[string]map[netip.Addr]string
}

// winners elects every address's owner by v, remembered by version and
// candidates: the views repeat millisecond after millisecond.
func (s *rollSim) winners(v view) map[netip.Addr]string {
	candidates := slices.Sorted(maps.Keys(v.candidates))
	key := fmt.Sprint(v.version, candidates)
	if w, ok := s.memo[key]; ok {
		return w
	}
	w := map[netip.Addr]string{}
	for _, ip := range s.ips {
		w[ip], _ = v.version.Winner(ip, candidates)
	}
	s.memo[key] = w
	return w
}

func newRollSim(seed uint64, maxDelay instant) *rollSim {
	r := rand.New(rand.NewPCG(seed, 42))
	s := &rollSim{delay: map[[2]string]instant{}, memo: map[string]map[netip.Addr]string{}}
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		n := &simNode{name: name, met: true}
		n.set(-ms(maxAhead), true, meta{versions: onlyV1, coordinated: true, plan: settled(v1)})
		s.nodes = append(s.nodes, n)
	}
	for _, a := range s.nodes {
		for _, b := range s.nodes {
			if a != b {
				s.delay[[2]string{a.name, b.name}] = instant(r.IntN(int(maxDelay) + 1))
			}
		}
	}
	for i := range 16 {
		s.ips = append(s.ips, netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}))
	}
	return s
}

// script is the roll: what each speaker does at which millisecond. A
// speaker hands off, leaves the memberlist once past its instant, restarts
// as a standby with no plan, meets the others, and after its first decision
// becomes a candidate.
func (s *rollSim) script(t instant) {
	const every, start = 4000, 1000
	i, step := int((t-start)/every), (t-start)%every
	if t < start || i >= len(s.nodes) {
		return
	}
	n := s.nodes[i]
	m := n.now().meta
	switch step {
	case 0:
		m.leaveAt = t + ms(handoffLead)
		n.set(t, true, m)
	case ms(handoffLead) + 200:
		n.set(t, false, meta{})
	case ms(handoffLead) + 1500:
		n.met = false
		n.set(t, true, meta{versions: bothV12, coordinated: true, standby: true})
	case ms(handoffLead) + 1510:
		n.met = true
	case ms(handoffLead) + 1800:
		m.standby, m.joinAt = false, t+ms(handoffLead)
		n.set(t, true, m)
	}
}

// view is what o sees at t: the others as they advertised delay ago, itself
// as it is.
func (s *rollSim) view(o *simNode, t instant) []peer {
	var peers []peer
	for _, n := range s.nodes {
		st := n.now()
		if n != o {
			st = n.at(t - s.delay[[2]string{o.name, n.name}])
		}
		if st.alive {
			peers = append(peers, peer{name: n.name, meta: st.meta})
		}
	}
	return peers
}

// run plays the roll and the switch after it, and returns the milliseconds
// at which some address had not exactly one owner.
func (s *rollSim) run() []string {
	var splits []string
	end := instant(1000 + 4000*len(s.nodes) + 4000)
	for t := instant(0); t <= end; t++ {
		s.script(t)
		owners := map[netip.Addr][]string{}
		for _, o := range s.nodes {
			if !o.now().alive {
				continue
			}
			peers := s.view(o, t)
			v := evaluate(peers, t)
			if p := nextPlan(o.name, peers, v, o.met, t); p != o.now().meta.plan {
				m := o.now().meta
				m.plan = p
				o.set(t, true, m)
			}
			if !v.candidates[o.name] {
				continue
			}
			s.final = v.version
			for ip, w := range s.winners(v) {
				if w == o.name {
					owners[ip] = append(owners[ip], o.name)
				}
			}
		}
		for _, ip := range s.ips {
			if len(owners[ip]) != 1 {
				splits = append(splits, fmt.Sprintf("%s at %d ms owned by %v", ip, t, owners[ip]))
			}
		}
	}
	return splits
}

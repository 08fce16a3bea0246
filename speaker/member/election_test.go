package member

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/speaker/announce"
)

var (
	v1, v2  = announce.WinnerV1, announce.WinnerV2
	onlyV1  = []announce.WinnerVersion{announce.WinnerV1}
	bothV12 = []announce.WinnerVersion{announce.WinnerV1, announce.WinnerV2}
)

// member builds an alive member of this build following p.
func member(name string, versions []announce.WinnerVersion, p plan) peer {
	return peer{name: name, meta: meta{versions: versions, coordinated: true, plan: p}}
}

func with(p peer, edit func(*meta)) peer {
	edit(&p.meta)
	return p
}

const now instant = 1_700_000_000_000

// What every member computes from the same metadata at the same instant.
func TestEvaluate(t *testing.T) {
	switching := plan{v1, v2, now + 2000}
	tests := []struct {
		name           string
		peers          []peer
		wantCandidates []string
		wantVersion    announce.WinnerVersion
		wantNext       instant
	}{{
		name:           "settled on the plan, though all could run v2",
		peers:          []peer{member("a", bothV12, settled(v1)), member("b", bothV12, settled(v1))},
		wantCandidates: []string{"a", "b"}, wantVersion: v1,
	}, {
		name:           "a planned switch: the old version until its instant",
		peers:          []peer{member("a", bothV12, switching), member("b", bothV12, switching)},
		wantCandidates: []string{"a", "b"}, wantVersion: v1, wantNext: now + 2000,
	}, {
		name:           "a planned switch: the new version from its instant",
		peers:          []peer{member("a", bothV12, plan{v1, v2, now}), member("b", bothV12, plan{v1, v2, now})},
		wantCandidates: []string{"a", "b"}, wantVersion: v2,
	}, {
		name: "the lowest-named member with a plan coordinates",
		peers: []peer{
			member("a", bothV12, plan{}), // just started: no plan yet
			member("b", bothV12, settled(v2)),
			member("c", bothV12, settled(v1)), // has not copied b's plan yet
		},
		wantCandidates: []string{"a", "b", "c"}, wantVersion: v2,
	}, {
		name:           "a standby is alive but no candidate",
		peers:          []peer{member("a", bothV12, settled(v2)), with(member("b", bothV12, plan{}), func(m *meta) { m.standby = true })},
		wantCandidates: []string{"a"}, wantVersion: v2,
	}, {
		name:           "a member becomes a candidate at its instant",
		peers:          []peer{member("a", bothV12, settled(v2)), with(member("b", bothV12, settled(v2)), func(m *meta) { m.joinAt = now + 500 })},
		wantCandidates: []string{"a"}, wantVersion: v2, wantNext: now + 500,
	}, {
		name:           "a member that became a candidate",
		peers:          []peer{member("a", bothV12, settled(v2)), with(member("b", bothV12, settled(v2)), func(m *meta) { m.joinAt = now })},
		wantCandidates: []string{"a", "b"}, wantVersion: v2,
	}, {
		name:           "a member handing off is a candidate until its instant",
		peers:          []peer{member("a", bothV12, settled(v2)), with(member("b", bothV12, settled(v2)), func(m *meta) { m.leaveAt = now + 1 })},
		wantCandidates: []string{"a", "b"}, wantVersion: v2, wantNext: now + 1,
	}, {
		name:           "a member that handed off",
		peers:          []peer{member("a", bothV12, settled(v2)), with(member("b", bothV12, settled(v2)), func(m *meta) { m.leaveAt = now })},
		wantCandidates: []string{"a"}, wantVersion: v2,
	}, {
		name:           "a candidate that cannot run the planned version overrides it at once",
		peers:          []peer{member("a", bothV12, settled(v2)), member("old", onlyV1, settled(v2))},
		wantCandidates: []string{"a", "old"}, wantVersion: v1,
	}, {
		name: "a standby that cannot run it does not, until it is a candidate",
		peers: []peer{member("a", bothV12, settled(v2)),
			with(member("old", onlyV1, settled(v2)), func(m *meta) { m.joinAt = now + 500 })},
		wantCandidates: []string{"a"}, wantVersion: v2, wantNext: now + 500,
	}, {
		name:           "no plan anywhere: the highest version every candidate supports",
		peers:          []peer{member("a", bothV12, plan{}), member("b", bothV12, plan{})},
		wantCandidates: []string{"a", "b"}, wantVersion: v2,
	}, {
		name: "beside a build older than the coordination, its rule: every alive member's versions, at once",
		peers: []peer{member("a", bothV12, settled(v1)), {name: "legacy", meta: meta{versions: bothV12}},
			with(member("c", bothV12, settled(v1)), func(m *meta) { m.standby = true })},
		wantCandidates: []string{"a", "legacy"}, wantVersion: v2,
	}, {
		name:           "beside a build older than versioning: v1",
		peers:          []peer{member("a", bothV12, settled(v2)), {name: "ancient"}},
		wantCandidates: []string{"a", "ancient"}, wantVersion: v1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := evaluate(tc.peers, now)
			if diff := cmp.Diff(set(tc.wantCandidates...), v.candidates); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if v.version != tc.wantVersion {
				t.Errorf("version %v, want %v", v.version, tc.wantVersion)
			}
			if v.next != tc.wantNext {
				t.Errorf("next instant %d, want %d", v.next, tc.wantNext)
			}
		})
	}
}

func set(names ...string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// What a member advertises next: the coordinator's plan, or, as the
// coordinator, a switch planned ahead to the version every alive member
// supports.
func TestNextPlan(t *testing.T) {
	pending := plan{v1, v2, now + 700}
	tests := []struct {
		name  string
		self  string
		met   bool
		peers []peer
		want  plan
	}{{
		name: "not met yet, nobody has a plan: none", self: "a",
		peers: []peer{member("a", bothV12, plan{})},
		want:  plan{},
	}, {
		name: "met, nobody has a plan: settled on the highest every member supports", self: "a", met: true,
		peers: []peer{member("a", bothV12, plan{}), member("old", onlyV1, plan{})},
		want:  settled(v1),
	}, {
		name: "a member copies the coordinator's plan, met or not", self: "b",
		peers: []peer{member("a", bothV12, pending), member("b", bothV12, settled(v1))},
		want:  pending,
	}, {
		name: "a member just started copies the plan of the lowest member that has one", self: "a",
		peers: []peer{member("a", bothV12, plan{}), member("b", bothV12, settled(v1)), member("c", onlyV1, settled(v1))},
		want:  settled(v1),
	}, {
		name: "the coordinator plans the switch once every member supports v2", self: "a", met: true,
		peers: []peer{member("a", bothV12, settled(v1)), member("b", bothV12, settled(v1))},
		want:  plan{v1, v2, now + 2000},
	}, {
		name: "a standby counts: no switch while it cannot run v2", self: "a", met: true,
		peers: []peer{member("a", bothV12, settled(v1)), with(member("old", onlyV1, plan{}), func(m *meta) { m.standby = true })},
		want:  settled(v1),
	}, {
		name: "so does a member handing off, until it is gone", self: "a", met: true,
		peers: []peer{member("a", bothV12, settled(v1)), with(member("old", onlyV1, settled(v1)), func(m *meta) { m.leaveAt = now - 100 })},
		want:  settled(v1),
	}, {
		name: "the coordinator keeps a planned switch", self: "a", met: true,
		peers: []peer{member("a", bothV12, pending), member("b", bothV12, pending)},
		want:  pending,
	}, {
		name: "and calls it off before its instant when a member without v2 appears", self: "a", met: true,
		peers: []peer{member("a", bothV12, pending), with(member("old", onlyV1, plan{}), func(m *meta) { m.standby = true })},
		want:  settled(v1),
	}, {
		name: "after the switch, such a member gets a switch back planned", self: "a", met: true,
		peers: []peer{member("a", bothV12, settled(v2)), with(member("old", onlyV1, plan{}), func(m *meta) { m.standby = true })},
		want:  plan{v2, v1, now + 2000},
	}, {
		name: "a switch made stays as it is", self: "a", met: true,
		peers: []peer{member("a", bothV12, plan{v1, v2, now - 60_000})},
		want:  plan{v1, v2, now - 60_000},
	}, {
		name: "and is the start of the next", self: "a", met: true,
		peers: []peer{member("a", bothV12, plan{v1, v2, now - 60_000}), member("old", onlyV1, plan{v1, v2, now - 60_000})},
		want:  settled(v1),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := evaluate(tc.peers, now)
			if got := nextPlan(tc.self, tc.peers, v, tc.met, now); got != tc.want {
				t.Errorf("nextPlan = %+v, want %+v", got, tc.want)
			}
		})
	}
}

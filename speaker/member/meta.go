package member

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ironlb/ironlb/speaker/announce"
)

// instant is a wall-clock time in Unix milliseconds, as members advertise
// it; 0 is none. Speakers act on an advertised instant at the same moment
// only as far as their clocks agree (NTP keeps nodes within milliseconds);
// see localize for what bounds the damage of a clock that is far off.
type instant int64

// plan is the layer-2 election a member follows: from before at, to from at
// on. at 0 means settled on to. The zero plan is none.
type plan struct {
	from, to announce.WinnerVersion
	at       instant
}

func settled(v announce.WinnerVersion) plan { return plan{to: v} }

func (p plan) none() bool { return p.to == 0 }

// version is the election p puts in force at now.
func (p plan) version(now instant) announce.WinnerVersion {
	if p.at != 0 && now < p.at {
		return p.from
	}
	return p.to
}

// meta is what a member advertises in its memberlist node metadata, as
// ';'-separated "key=value" fields; readers skip the fields they do not
// know, so later builds may add some:
//
//	winner=1,2            the election versions it supports
//	elect=2               the election it follows (settled)
//	elect=1>2@<ms>        ... version 1, then version 2 from that instant
//	elect=-               it follows the others but has no plan yet
//	join=wait             alive, but not a candidate for addresses yet
//	join=<ms>             a candidate from that instant
//	leave=<ms>            not a candidate from that instant (handing off)
//
// A member without "elect" is a build older than this coordination
// (legacy): it elects with the highest version every live speaker supports
// the moment its view changes, and counts every alive member as a
// candidate. Without "join" a member is a candidate as soon as it is alive.
type meta struct {
	versions    []announce.WinnerVersion
	coordinated bool // advertises "elect": speaks this protocol
	plan        plan
	standby     bool    // join=wait
	joinAt      instant // join=<ms>
	leaveAt     instant // leave=<ms>
}

// candidate reports whether a member advertising m may own addresses at now.
func (m meta) candidate(now instant) bool {
	switch {
	case m.standby:
		return false
	case m.joinAt != 0 && now < m.joinAt:
		return false
	case m.leaveAt != 0 && now >= m.leaveAt:
		return false
	}
	return true
}

const (
	metaWinnerKey = "winner="
	metaElectKey  = "elect="
	metaJoinKey   = "join="
	metaLeaveKey  = "leave="
	metaNoPlan    = "-"
	metaStandby   = "wait"
)

func (m meta) encode() []byte {
	fields := []string{metaWinnerKey + formatVersions(m.versions)}
	if m.coordinated {
		fields = append(fields, metaElectKey+m.plan.encode())
	}
	switch {
	case m.standby:
		fields = append(fields, metaJoinKey+metaStandby)
	case m.joinAt != 0:
		fields = append(fields, metaJoinKey+strconv.FormatInt(int64(m.joinAt), 10))
	}
	if m.leaveAt != 0 {
		fields = append(fields, metaLeaveKey+strconv.FormatInt(int64(m.leaveAt), 10))
	}
	return []byte(strings.Join(fields, ";"))
}

func (p plan) encode() string {
	switch {
	case p.none():
		return metaNoPlan
	case p.at == 0:
		return strconv.Itoa(int(p.to))
	}
	return strconv.Itoa(int(p.from)) + ">" + strconv.Itoa(int(p.to)) + "@" + strconv.FormatInt(int64(p.at), 10)
}

// decodeMeta reads a member's node metadata. Metadata without versions (a
// speaker built before versioning) yields none, which announce.AgreedWinner
// counts as version 1 only; a field that does not parse is read as absent,
// except a plan, which is then none (the member follows the others).
func decodeMeta(b []byte) meta {
	var m meta
	for _, field := range strings.Split(string(b), ";") {
		key, value, _ := strings.Cut(field, "=")
		switch key + "=" {
		case metaWinnerKey:
			m.versions, _ = parseVersions(value)
		case metaElectKey:
			m.coordinated = true
			m.plan = parsePlan(value)
		case metaJoinKey:
			m.standby = value == metaStandby
			m.joinAt = parseInstant(value)
		case metaLeaveKey:
			m.leaveAt = parseInstant(value)
		}
	}
	return m
}

func parsePlan(s string) plan {
	if from, rest, ok := strings.Cut(s, ">"); ok {
		to, at, _ := strings.Cut(rest, "@")
		p := plan{from: parseVersion(from), to: parseVersion(to), at: parseInstant(at)}
		if p.from == 0 || p.to == 0 || p.at == 0 {
			return plan{}
		}
		return p
	}
	return settled(parseVersion(s))
}

func parseVersion(s string) announce.WinnerVersion {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0
	}
	return announce.WinnerVersion(n)
}

func parseInstant(s string) instant {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return instant(n)
}

// metaDelegate hands memberlist this member's metadata, as last set.
// Speakers exchange nothing else through memberlist, so the other hooks do
// nothing.
type metaDelegate struct{ meta *atomic.Pointer[[]byte] }

func (d metaDelegate) NodeMeta(limit int) []byte {
	m := *d.meta.Load()
	if len(m) > limit {
		return nil // cannot happen: a few short fields; never truncate
	}
	return m
}
func (metaDelegate) NotifyMsg([]byte)                           {}
func (metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (metaDelegate) LocalState(join bool) []byte                { return nil }
func (metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

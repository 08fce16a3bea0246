//go:build lab

package lab_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/test/lab"
)

// What a speaker logs when it announces an instant to the others
// (speaker/member): the instants at which addresses may move.
const (
	logHandoff   = "Handing off addresses"        // it stops being a candidate at "at"
	logCandidate = "Candidate for addresses from" // it becomes one at "at"
	logSwitch    = "Election switch planned"      // every speaker elects with "to" from "at"
)

// rollEvent is an instant a speaker announced.
type rollEvent struct {
	node string
	msg  string
	at   time.Time
	to   announce.WinnerVersion // for logSwitch
}

// loggedEvents reads the instants node's speakers (every run of it) logged.
func loggedEvents(tb testing.TB, l *lab.Lab, node string) []rollEvent {
	tb.Helper()
	f, err := os.Open(filepath.Join(l.Dir, "speaker-"+node+".log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []rollEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
			At  string `json:"at"`
			To  string `json:"to"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.At == "" {
			continue
		}
		switch line.Msg {
		case logHandoff, logCandidate, logSwitch:
		default:
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, line.At)
		if err != nil {
			tb.Fatalf("%s logged %q at %q: %v", node, line.Msg, line.At, err)
		}
		e := rollEvent{node: node, msg: line.Msg, at: at}
		if line.Msg == logSwitch {
			e.to = map[string]announce.WinnerVersion{"v1": announce.WinnerV1, "v2": announce.WinnerV2}[line.To]
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// rollState is who owns what from an instant on, by the announced instants.
type rollState struct {
	from   time.Time
	owners map[netip.Addr]string
}

// statesOf replays the announced instants in order: the candidates and the
// election in force after each, and so each address's owner.
func statesOf(events []rollEvent, nodes []string, ips []netip.Addr) []rollState {
	slices.SortStableFunc(events, func(a, b rollEvent) int { return a.at.Compare(b.at) })
	out := map[string]bool{}
	for _, n := range nodes {
		out[n] = true // until it announces it is a candidate
	}
	version := announce.WinnerV1
	var states []rollState
	for _, e := range events {
		switch e.msg {
		case logHandoff:
			out[e.node] = true
		case logCandidate:
			out[e.node] = false
		case logSwitch:
			version = e.to
		}
		var candidates []string
		for _, n := range nodes {
			if !out[n] {
				candidates = append(candidates, n)
			}
		}
		s := rollState{from: e.at, owners: map[netip.Addr]string{}}
		for _, ip := range ips {
			s.owners[ip], _ = version.Winner(ip, candidates)
		}
		states = append(states, s)
	}
	return states
}

// checkRollInstants checks what the speakers announced ahead against what
// the client saw: every speaker planned the switch of election at one and
// the same instant, and each takeover (the first gratuitous ARP of a burst)
// came from the owner the announced instants had made, not earlier: a node
// that acted on a change before the instant everyone agreed on fails it. A
// takeover may come a little late on a loaded machine (takeoverLag), and a
// later instant may then have moved the address on already.
func checkRollInstants(t *testing.T, l *lab.Lab, w *lab.ARPWatcher, ips []netip.Addr, since time.Time) {
	t.Helper()
	var events []rollEvent
	switches := map[string]time.Time{}
	for _, n := range rollNodes {
		for _, e := range loggedEvents(t, l, n) {
			events = append(events, e)
			if e.msg == logSwitch && e.to == announce.WinnerV2 {
				switches[n] = e.at
			}
		}
	}
	if len(switches) != len(rollNodes) {
		t.Errorf("speakers that planned the switch to v2: %v, want all of %v", slices.Sorted(maps.Keys(switches)), rollNodes)
	}
	for n, at := range switches {
		if first := switches[rollNodes[0]]; !at.Equal(first) {
			t.Errorf("%s switches at %s, %s at %s", n, at.Format(time.RFC3339Nano), rollNodes[0], first.Format(time.RFC3339Nano))
		}
	}
	states := statesOf(events, rollNodes, ips)
	var early []string
	takeovers := 0
	last := map[string]time.Time{} // last gratuitous ARP by address and node
	for _, e := range w.Events() {
		n := l.NodeByMAC(e.SenderMAC)
		if !e.Gratuitous() || e.Time.Before(since) || n == nil || !slices.Contains(ips, e.SenderIP) {
			continue
		}
		key := e.SenderIP.String() + " " + n.Name
		prev, seen := last[key]
		last[key] = e.Time
		if seen && e.Time.Sub(prev) < burstSpan {
			continue // a later frame of the same burst
		}
		takeovers++
		if ownerAt(states, e.SenderIP, e.Time) != n.Name && ownerAt(states, e.SenderIP, e.Time.Add(-takeoverLag)) != n.Name {
			early = append(early, fmt.Sprintf("%s by %s at %s, owner then %s", e.SenderIP, n.Name,
				e.Time.Format("15:04:05.000000"), ownerAt(states, e.SenderIP, e.Time)))
		}
	}
	for _, e := range events {
		t.Logf("%s: %s %s", e.node, e.msg, e.at.Format("15:04:05.000"))
	}
	t.Logf("%d instants announced, %d takeovers during the roll, %d before their instant", len(events), takeovers, len(early))
	if takeovers == 0 {
		t.Error("no takeover seen during the roll: no address moved")
	}
	if len(early) > 0 {
		t.Errorf("takeovers before an announced instant made the node the owner:\n%s\nannounced: %v",
			strings.Join(early, "\n"), events)
	}
}

const (
	// burstSpan covers the frames of one takeover burst (gaps of 100 and
	// 200 ms with the default three frames).
	burstSpan = time.Second
	// takeoverLag is how late after its instant a takeover may still be
	// counted against the state before it: the decision and the first
	// frame take milliseconds, this much on a machine busy with the lab.
	takeoverLag = 100 * time.Millisecond
)

// ownerAt is the owner of ip by the state in force at t; "" before any.
func ownerAt(states []rollState, ip netip.Addr, t time.Time) string {
	o := ""
	for _, s := range states {
		if s.from.After(t) {
			break
		}
		o = s.owners[ip]
	}
	return o
}

//go:build lab

package bfd

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkDetectionTime cuts the link between our sessions and FRR's bfdd
// (300 ms × 3 both ways) a few times and reports how long each side took to
// declare the session down, from the moment the link went down: p50 and p99
// over both sessions (IPv4 and IPv6) of every trial. RFC 5880 bounds it by
// the detection time, 900 ms; the last packet before the cut came up to one
// jittered interval earlier, so values fall in about (600, 900] ms.
//
//	go test -tags lab -run '^$' -bench DetectionTime ./speaker/bfd/
func BenchmarkDetectionTime(b *testing.B) {
	const trials = 8
	l := upWithFRR(b)
	var ours, frr []time.Duration
	for range b.N {
		for range trials {
			o, f := detectOnce(b, l)
			ours, frr = append(ours, o...), append(frr, f...)
		}
	}
	for _, r := range []struct {
		metric, what string
		d            []time.Duration
	}{{"ours", "our session Down", ours}, {"frr", "FRR's peer down", frr}} {
		p50, p99 := percentile(r.d, 50), percentile(r.d, 99)
		b.ReportMetric(ms2(p50), r.metric+"-p50-ms")
		b.ReportMetric(ms2(p99), r.metric+"-p99-ms")
		fmt.Printf("detection time (300 ms × 3), link cut → %s: p50 %.1f ms, p99 %.1f ms over %d sessions\n",
			r.what, ms2(p50), ms2(p99), len(r.d))
	}
}

// detectOnce cuts the link with every session Up on both sides, measures
// when each side saw each session go down, and heals the link.
func detectOnce(b *testing.B, l *bfdLab) (ours, frr []time.Duration) {
	keys := []SessionKey{keyV4, keyV6}
	for _, k := range keys {
		l.waitOurs(k, StateUp, 30*time.Second)
		l.waitFRR(ourAddr[k], "up", 30*time.Second)
	}
	// FRR's poll sequence after coming Up must be over, or its detection
	// time is still the slow one.
	time.Sleep(2 * time.Second)
	l.setLink(false)
	cut := time.Now()
	for _, k := range keys {
		l.waitOurs(k, StateDown, 10*time.Second)
		c, _ := l.lastChange(k)
		ours = append(ours, c.At.Sub(cut))
		l.waitFRR(ourAddr[k], "down", 10*time.Second)
		at, err := frrDownAt(l.dir, ourAddr[k], cut)
		if err != nil {
			b.Fatal(err)
		}
		frr = append(frr, at.Sub(cut))
	}
	l.setLink(true)
	return ours, frr
}

// frrStateChange matches bfdd's debug line for a session going down, with
// its microsecond timestamp.
var frrStateChange = regexp.MustCompile(`^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6}) .*state-change: \[mhop:no peer:(\S+) .*\] up -> down`)

// frrDownAt reads from bfdd's log when FRR declared peer down after t.
func frrDownAt(dir string, peer netip.Addr, after time.Time) (time.Time, error) {
	log, err := os.ReadFile(filepath.Join(dir, "bfdd.log"))
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(log), "\n") {
		m := frrStateChange.FindStringSubmatch(line)
		if m == nil || m[2] != peer.String() {
			continue
		}
		at, err := time.ParseInLocation("2006/01/02 15:04:05.000000", m[1], time.Local)
		if err == nil && at.After(after) {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("no down state change for %s after %v in bfdd's log", peer, after.Format(time.StampMicro))
}

// percentile is the nearest-rank percentile p of d.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

func ms2(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

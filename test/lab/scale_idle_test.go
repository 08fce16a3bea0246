//go:build lab

package lab_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/test/lab"
)

// BenchmarkL2SpeakerIdle5000 measures the speakers' CPU at rest with 5,000
// Services announced (docs/scale.md, "Idle CPU"): after the burst it reads
// each speaker's CPU time over consecutive 20 s windows for 2 minutes, so
// the tail of the burst (status writes, events) shows apart from the rest.
func BenchmarkL2SpeakerIdle5000(b *testing.B) {
	const services = 5000
	const window, windows = 20 * time.Second, 6
	l := newLab(b, lab.Options{})
	ctx := b.Context()
	if err := l.Create(ctx, lab.Pool("big", "2001:db8:200::/112"), lab.L2Advertisement("big", "big")); err != nil {
		b.Fatal(err)
	}
	waitLiveMembers(b, l, len(l.Nodes))
	createMany(b, l, services, "svc-%04d", lab.FromPool("big"), lab.IPv6Only, lab.NoNodePorts)
	waitAllAssigned(b, l, services)
	err := lab.Poll(ctx, 10*time.Minute, time.Second, func(ctx context.Context) error {
		perNode, err := announcedPerNode(ctx, l, "layer2")
		if err != nil {
			return err
		}
		if total := sumValues(perNode); total != services {
			return fmt.Errorf("%d addresses announced, want %d", total, services)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var tbl strings.Builder
	fmt.Fprintf(&tbl, "CPU %% of one core per %v window after all %d Services were announced\n%-8s", window, services, "speaker")
	for i := range windows {
		fmt.Fprintf(&tbl, " %6ds", (i+1)*int(window/time.Second))
	}
	fmt.Fprintf(&tbl, " %10s\n", "RSS end")
	rows := map[string][]float64{}
	counted := idleCounters(b, l)
	prev := usages(b, l)
	for range windows {
		time.Sleep(window)
		now := usages(b, l)
		for _, n := range l.Nodes {
			rows[n.Name] = append(rows[n.Name], float64(now[n.Name].CPU-prev[n.Name].CPU)/float64(window)*100)
		}
		prev = now
	}
	for _, n := range l.Nodes {
		fmt.Fprintf(&tbl, "%-8s", n.Name)
		for _, v := range rows[n.Name] {
			fmt.Fprintf(&tbl, " %6.2f%%", v)
		}
		fmt.Fprintf(&tbl, " %7.1fMiB\n", float64(prev[n.Name].RSS)/(1<<20))
		b.ReportMetric(rows[n.Name][windows-1], n.Name+"-idle-cpu-%")
	}
	fmt.Fprintf(&tbl, "what happened during the %v, per speaker:\n", window*windows)
	after := idleCounters(b, l)
	for _, n := range l.Nodes {
		fmt.Fprintf(&tbl, "%-8s", n.Name)
		for _, c := range idleCounterNames {
			fmt.Fprintf(&tbl, " %s=%.0f", c, after[n.Name][c]-counted[n.Name][c])
		}
		fmt.Fprintln(&tbl)
	}
	b.Log("\n" + tbl.String())
	b.ReportMetric(0, "ns/op")
}

// idleCounterNames are the counters that tell what a speaker does at rest:
// decisions (reconciles), API requests, and layer-2 packets sent.
var idleCounterNames = []string{
	"controller_runtime_reconcile_total",
	"rest_client_requests_total",
	"ironlb_layer2_gratuitous_sent_total",
	"ironlb_layer2_responses_sent_total",
	"ironlb_layer2_requests_received_total",
}

func idleCounters(b *testing.B, l *lab.Lab) map[string]map[string]float64 {
	b.Helper()
	out := map[string]map[string]float64{}
	for _, n := range l.Nodes {
		samples, err := n.Metrics(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		out[n.Name] = map[string]float64{}
		for _, c := range idleCounterNames {
			out[n.Name][c] = lab.Sum(samples, c, nil)
		}
	}
	return out
}

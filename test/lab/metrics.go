package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Sample is one line of a Prometheus text exposition.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Metrics scrapes the node speaker's /metrics.
func (n *Node) Metrics(ctx context.Context) ([]Sample, error) {
	var body string
	url := "http://" + netip.AddrPortFrom(n.IPv4, SpeakerMetricsPort).String() + "/metrics"
	if err := httpGet(ctx, url, &body); err != nil {
		return nil, err
	}
	return parseMetrics(body)
}

// parseMetrics reads the Prometheus text format, enough of it for the
// counters and gauges IronLB exports: `name{a="b",c="d"} 1.5`.
func parseMetrics(text string) ([]Sample, error) {
	var samples []Sample
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := Sample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %q: unbalanced braces", line)
			}
			s.Name = line[:i]
			if err := parseLabels(line[i+1:j], s.Labels); err != nil {
				return nil, fmt.Errorf("metrics line %q: %w", line, err)
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			s.Name, rest, _ = strings.Cut(line, " ")
		}
		// A timestamp may follow the value.
		value, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s.Value = v
		samples = append(samples, s)
	}
	return samples, nil
}

// parseLabels reads `a="b",c="d"` into m.
func parseLabels(s string, m map[string]string) error {
	for s = strings.TrimSpace(s); s != ""; {
		name, rest, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("label without value in %q", s)
		}
		quoted, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return fmt.Errorf("label %s: %w", name, err)
		}
		value, err := strconv.Unquote(quoted)
		if err != nil {
			return err
		}
		m[strings.TrimSpace(name)] = value
		s = strings.TrimPrefix(strings.TrimSpace(rest[len(quoted):]), ",")
		s = strings.TrimSpace(s)
	}
	return nil
}

// Sum adds the values of the samples named name whose labels include match.
func Sum(samples []Sample, name string, match map[string]string) float64 {
	var sum float64
	for _, s := range samples {
		if s.Name == name && labelsMatch(s.Labels, match) {
			sum += s.Value
		}
	}
	return sum
}

func labelsMatch(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

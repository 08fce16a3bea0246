//go:build lab

package chart

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	promtoolOnce sync.Once
	promtoolPath string
	promtoolErr  error
)

// promtoolBin is Prometheus's promtool: $IRONLB_PROMTOOL, else what
// hack/promtool.sh builds (or finds in its cache) from the Go module proxy.
func promtoolBin(t testing.TB) string {
	t.Helper()
	promtoolOnce.Do(func() {
		if p := os.Getenv("IRONLB_PROMTOOL"); p != "" {
			promtoolPath = p
			return
		}
		var out []byte
		out, promtoolErr = exec.Command(filepath.Join(repoRoot(t), "hack", "promtool.sh")).Output()
		promtoolPath = strings.TrimSpace(string(out))
	})
	if promtoolErr != nil {
		t.Fatalf("building promtool with hack/promtool.sh: %v", promtoolErr)
	}
	return promtoolPath
}

// runPromtool runs promtool in dir, so that the relative rule_files of a
// test file resolve there, and returns its combined output.
func runPromtool(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(promtoolBin(t), args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), errors.New("promtool " + strings.Join(args, " ") + ": " + err.Error())
	}
	return out.String(), nil
}

// writePromtoolFile writes v into dir/name as JSON, which promtool reads
// as the YAML it is.
func writePromtoolFile(t testing.TB, dir, name string, v any) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<" readable in expressions
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The shapes of promtool's rule files and unit-test files, as far as these
// tests use them.
type (
	ruleFile struct {
		Groups []ruleGroup `json:"groups"`
	}
	ruleGroup struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	}
	rule struct {
		Alert       string            `json:"alert,omitempty"`
		Record      string            `json:"record,omitempty"`
		Expr        string            `json:"expr"`
		For         string            `json:"for,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}

	ruleTestFile struct {
		RuleFiles          []string    `json:"rule_files"`
		EvaluationInterval string      `json:"evaluation_interval"`
		Tests              []ruleTests `json:"tests"`
	}
	ruleTests struct {
		Name           string          `json:"name,omitempty"`
		Interval       string          `json:"interval"`
		InputSeries    []inputSeries   `json:"input_series"`
		AlertRuleTests []alertRuleTest `json:"alert_rule_test"`
	}
	// inputSeries is one series and its samples in promtool's expanding
	// notation: "1x5 0x20" is 1 for six intervals, then 0 for 21.
	inputSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	alertRuleTest struct {
		EvalTime  string     `json:"eval_time"`
		Alertname string     `json:"alertname"`
		ExpAlerts []expAlert `json:"exp_alerts"`
	}
	expAlert struct {
		ExpLabels      map[string]string `json:"exp_labels"`
		ExpAnnotations map[string]string `json:"exp_annotations,omitempty"`
	}
)

var (
	// What the programs register: prometheus.*Opts{Name: "ironlb_..."}
	// and, for collectors, prometheus.NewDesc("ironlb_...").
	metricDefinition = regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(ironlb_[a-z0-9_]+)"`)
	// A metric name in a PromQL expression.
	metricReference = regexp.MustCompile(`\bironlb_[a-z0-9_]+\b`)
)

// exportedMetrics are the names of the metrics the controller and the
// speaker export, read from their source.
func exportedMetrics(t testing.TB) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, dir := range []string{"controllers", "speaker"} {
		err := filepath.WalkDir(filepath.Join(repoRoot(t), dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range metricDefinition.FindAllStringSubmatch(string(src), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A floor, so that a broken scan cannot pass every check vacuously.
	for _, known := range []string{"ironlb_pool_addresses_total", "ironlb_announced", "ironlb_bgp_session_up"} {
		if !names[known] {
			t.Fatalf("scanning controllers/ and speaker/ for metric definitions found no %s: the scan is broken", known)
		}
	}
	return names
}

// unknownMetrics are the ironlb_ metrics expr names that the programs do
// not export, sorted.
func unknownMetrics(expr string, exported map[string]bool) []string {
	var out []string
	for _, name := range metricReference.FindAllString(expr, -1) {
		if !exported[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

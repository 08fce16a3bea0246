//go:build lab

package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The Grafana dashboard the chart ships (charts/ironlb/dashboards), read
// as Grafana would: valid JSON, every panel on the data source variable,
// every query valid PromQL over metrics the programs export, returning
// data on the series a working cluster has.

// grafanaDashboard is the part of Grafana's dashboard JSON model read here.
type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

func dashboardPath(t testing.TB) string {
	return filepath.Join(chartDir(t), "dashboards", "ironlb.json")
}

func readDashboard(t testing.TB) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath(t))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath(t), err)
	}
	return d
}

// dashboardQuery is one panel query, with Grafana's variables replaced
// by what Grafana would put there.
type dashboardQuery struct {
	panel string // "<id> <title>/<refId>"
	expr  string
}

// grafanaVariables are the variables the queries may use, and a value
// Grafana could give each.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "4m",
	"$__interval", "1m",
	"$__range", "1h",
)

// panelsOf flattens rows: a collapsed row holds its panels.
func panelsOf(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, panelsOf(p.Panels)...)
	}
	return out
}

// TestDashboardPanels checks the dashboard's structure: what Grafana needs
// to show every panel from the data source the user picks.
func TestDashboardPanels(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want all set", d.UID, d.Title, d.SchemaVersion)
	}
	var hasDatasource bool
	for _, v := range d.Templating.List {
		hasDatasource = hasDatasource || (v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus")
	}
	if !hasDatasource {
		t.Error("no Prometheus data source variable named datasource: a dashboard loaded by the sidecar cannot ask for one")
	}
	ids := map[int]string{}
	queries := 0
	for _, p := range panelsOf(d.Panels) {
		if other, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q: id %d is zero or also %q's", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.GridPos.W < 1 || p.GridPos.H < 1 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v does not fit Grafana's 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want prometheus ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refs[q.RefID] || strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q: query %q with refId %q: want a query and a refId of its own", p.Title, q.Expr, q.RefID)
			}
			refs[q.RefID] = true
			queries++
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
}

func dashboardQueries(t testing.TB) []dashboardQuery {
	t.Helper()
	var out []dashboardQuery
	for _, p := range panelsOf(readDashboard(t).Panels) {
		for _, q := range p.Targets {
			expr := grafanaVariables.Replace(q.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q/%s uses a variable the dashboard test does not know: %s", p.Title, q.RefID, q.Expr)
			}
			out = append(out, dashboardQuery{panel: fmt.Sprintf("%d %s/%s", p.ID, p.Title, q.RefID), expr: expr})
		}
	}
	return out
}

// TestDashboardMetrics checks that the queries read only metrics the
// programs export, and that every metric they export is on some panel.
func TestDashboardMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	shown := map[string]bool{}
	for _, q := range dashboardQueries(t) {
		if unknown := unknownMetrics(q.expr, exported); len(unknown) > 0 {
			t.Errorf("panel %s reads %v, which neither program exports: %s", q.panel, unknown, q.expr)
		}
		for _, m := range metricReference.FindAllString(q.expr, -1) {
			shown[m] = true
		}
	}
	var missing []string
	for m := range exported {
		if !shown[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no panel shows %v: add them to charts/ironlb/dashboards/ironlb.json", missing)
	}
}

// TestDashboardQueries runs every query through Prometheus's own parser
// and engine (promtool): each parses, and each returns data on the series
// of a cluster where something happens (a pool fills, a Service fails, an
// address moves to another node, a BGP session drops).
func TestDashboardQueries(t *testing.T) {
	queries := dashboardQueries(t)
	dir := t.TempDir()

	// Parsing: one recording rule per query, for promtool check rules.
	// Data: one alert per query that fires when the query returned any
	// series in the last 30 minutes.
	var records, alerts []rule
	var checks []alertRuleTest
	for i, q := range queries {
		records = append(records, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: q.expr})
		name := fmt.Sprintf("Query%dHasData", i)
		alerts = append(alerts, rule{
			Alert:       name,
			Expr:        fmt.Sprintf("count(max_over_time((%s)[30m:1m])) > 0", q.expr),
			Annotations: map[string]string{"panel": q.panel},
		})
		checks = append(checks, alertRuleTest{EvalTime: "30m", Alertname: name, ExpAlerts: []expAlert{{
			ExpLabels: map[string]string{}, ExpAnnotations: map[string]string{"panel": q.panel},
		}}})
	}
	writePromtoolFile(t, dir, "records.json", ruleFile{Groups: []ruleGroup{{Name: "dashboard", Rules: records}}})
	if out, err := runPromtool(t, dir, "check", "rules", "records.json"); err != nil {
		t.Fatalf("the dashboard's queries are not all valid PromQL: %v\n%s", err, out)
	}
	writePromtoolFile(t, dir, "alerts.json", ruleFile{Groups: []ruleGroup{{Name: "dashboard-data", Rules: alerts}}})
	writePromtoolFile(t, dir, "alerts.test.json", ruleTestFile{
		RuleFiles:          []string{"alerts.json"},
		EvaluationInterval: "1m",
		Tests: []ruleTests{{
			Name: "a cluster at work", Interval: "1m", InputSeries: busyClusterSeries(), AlertRuleTests: checks,
		}},
	})
	if out, err := runPromtool(t, dir, "test", "rules", "alerts.test.json"); err != nil {
		t.Errorf("a panel query returns no data on a working cluster's series (the failing alert's panel annotation names it): %v\n%s", err, out)
	}
}

// busyClusterSeries are 30 minutes of every metric, as the chart's
// monitors scrape them: pools filling, failed and successful allocations,
// 203.0.113.10 moving from node-a to node-b at 10m, node-b's BGP and BFD
// sessions with tor-a down from 15m.
func busyClusterSeries() []inputSeries {
	c := func(metric, labels, values string) inputSeries {
		return inputSeries{controllerSeries(controllerTarget, metric, labels), values}
	}
	s := func(node, metric, labels, values string) inputSeries {
		return inputSeries{speakerSeries(node, metric, labels), values}
	}
	series := []inputSeries{
		c("ironlb_pool_addresses_total", `pool="lan",family="IPv4"`, "16x30"),
		c("ironlb_pool_addresses_used", `pool="lan",family="IPv4"`, "0+1x15 15x15"),
		c("ironlb_pool_addresses_total", `pool="lan",family="IPv6"`, "65536x30"),
		c("ironlb_pool_addresses_used", `pool="lan",family="IPv6"`, "0+1x30"),
		c("ironlb_allocations_total", `pool="lan",operation="assigned"`, "0+2x30"),
		c("ironlb_allocations_total", `pool="lan",operation="released"`, "0+1x30"),
		c("ironlb_allocation_failures_total", `reason="PoolExhausted"`, "0x15 1+1x15"),
		c("ironlb_allocation_failures_total", `reason="NoMatchingPool"`, "0+1x30"),
		c("ironlb_services_pending", `reason="PoolExhausted"`, "0x15 1x15"),
		// The address moves: node-a stops exporting it, node-b starts.
		s("node-a", "ironlb_announced", `ip="203.0.113.10",protocol="layer2"`, "1x9 _x21"),
		s("node-b", "ironlb_announced", `ip="203.0.113.10",protocol="layer2"`, "_x9 1x21"),
		s("node-a", "ironlb_announced", `ip="203.0.113.64",protocol="bgp"`, "1x30"),
		s("node-b", "ironlb_announced", `ip="203.0.113.64",protocol="bgp"`, "1x30"),
		s("node-a", "ironlb_layer2_address_interfaces", `ip="203.0.113.10"`, "1x9 _x21"),
		s("node-b", "ironlb_layer2_address_interfaces", `ip="203.0.113.10"`, "_x9 1x21"),
		s("node-a", "ironlb_layer2_gratuitous_sent_total", `protocol="arp",interface="eth0"`, "3x30"),
		s("node-b", "ironlb_layer2_gratuitous_sent_total", `protocol="arp",interface="eth0"`, "0x9 3x21"),
		s("node-a", "ironlb_bgp_session_up", `peer="tor-a"`, "1x30"),
		s("node-b", "ironlb_bgp_session_up", `peer="tor-a"`, "1x14 0x16"),
		s("node-a", "ironlb_bgp_announced_prefixes", `peer="tor-a"`, "1x30"),
		s("node-a", "ironlb_bgp_updates_total", `peer="tor-a"`, "0+1x30"),
		// node-b's BFD session with tor-a fails with its BGP session.
		s("node-b", "ironlb_bfd_session_state", `peer="198.51.100.1",interface="eth0"`, "3x14 1x16"),
		s("node-b", "ironlb_bfd_session_state_transitions_total", `peer="198.51.100.1",interface="eth0",state="Down"`, "0x14 1x16"),
		s("node-b", "ironlb_bfd_control_packets_sent_total", `peer="198.51.100.1",interface="eth0"`, "0+200x30"),
		s("node-b", "ironlb_bfd_control_packets_received_total", `peer="198.51.100.1",interface="eth0"`, "0+200x14 2800x16"),
		s("node-b", "ironlb_bfd_send_errors_total", `peer="198.51.100.1",interface="eth0"`, "0x14 0+5x16"),
		s("node-b", "ironlb_bfd_dropped_packets_total", `reason="ttl"`, "0+1x30"),
	}
	for _, node := range []string{"node-a", "node-b"} {
		series = append(series,
			s(node, "ironlb_layer2_requests_received_total", `protocol="arp",interface="eth0"`, "0+10x30"),
			s(node, "ironlb_layer2_responses_sent_total", `protocol="arp",interface="eth0"`, "0+10x30"),
			s(node, "ironlb_layer2_malformed_packets_total", `protocol="ndp",interface="eth0"`, "0+1x30"),
			s(node, "ironlb_speaker_live_members", "", "2x30"),
			s(node, "ironlb_speaker_expected_members", "", "2x30"),
			s(node, "ironlb_speaker_isolated", "", "0x30"),
			s(node, "ironlb_speaker_winner_version", "", "1x15 2x15"),
		)
	}
	return series
}

// TestDashboardConfigMap checks the ConfigMap that carries the dashboard
// to Grafana's sidecar.
func TestDashboardConfigMap(t *testing.T) {
	want, err := os.ReadFile(dashboardPath(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		args            []string
		namespace       string
		labels          map[string]string
		annotations     map[string]string
		wantNoConfigMap bool
	}{
		{name: "off by default", wantNoConfigMap: true},
		{
			name:      "enabled",
			args:      []string{"--set", "grafana.dashboard.enabled=true"},
			namespace: "ironlb-system",
			labels:    map[string]string{"grafana_dashboard": "1"},
		},
		{
			name: "in Grafana's namespace, in a folder",
			args: []string{"--set", "grafana.dashboard.enabled=true,grafana.dashboard.namespace=monitoring," +
				"grafana.dashboard.labels.team=network,grafana.dashboard.annotations.grafana_folder=IronLB"},
			namespace:   "monitoring",
			labels:      map[string]string{"grafana_dashboard": "1", "team": "network"},
			annotations: map[string]string{"grafana_folder": "IronLB"},
		},
		{
			name:      "a sidecar that watches another label value",
			args:      []string{"--set", "grafana.dashboard.enabled=true", "--set-string", "grafana.dashboard.labels.grafana_dashboard=true"},
			namespace: "ironlb-system",
			labels:    map[string]string{"grafana_dashboard": "true"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, tt.args...)
			if tt.wantNoConfigMap {
				for _, o := range objs {
					if o.GetKind() == "ConfigMap" {
						t.Errorf("ConfigMap %s rendered", o.GetName())
					}
				}
				return
			}
			obj := find(t, objs, "ConfigMap", "ironlb-grafana-dashboard")
			acceptedByAPIServer(t, obj)
			cm := convert[corev1.ConfigMap](t, obj)
			if cm.Namespace != tt.namespace {
				t.Errorf("namespace %q, want %q", cm.Namespace, tt.namespace)
			}
			for k, v := range tt.labels {
				if cm.Labels[k] != v {
					t.Errorf("label %s=%q, want %q (labels %v)", k, cm.Labels[k], v, cm.Labels)
				}
			}
			for k, v := range tt.annotations {
				if cm.Annotations[k] != v {
					t.Errorf("annotation %s=%q, want %q", k, cm.Annotations[k], v)
				}
			}
			if got := cm.Data["ironlb.json"]; got != strings.TrimRight(string(want), "\n") {
				t.Errorf("data ironlb.json is not charts/ironlb/dashboards/ironlb.json (%d bytes, want %d)", len(got), len(want))
			}
		})
	}
}

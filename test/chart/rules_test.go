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

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The chart's alerts, evaluated by Prometheus's own rule engine (promtool
// test rules) on the series the programs export, labelled as the chart's
// ServiceMonitors and PodMonitors scrape them: every alert fires on the
// series that should fire it once its `for` has passed, with the labels
// and annotations a person receives, and stays silent on healthy series
// and on trouble shorter than `for`.

// Scrape targets of the scenarios: a controller pod, and the speakers of
// node-a and node-b (host network, so the node's address).
const (
	controllerTarget = `instance="192.0.2.21:7472",job="controller",namespace="ironlb-system",pod="ironlb-controller-6f7d9c8b5-k2x4p"`
	standbyTarget    = `instance="192.0.2.22:7472",job="controller",namespace="ironlb-system",pod="ironlb-controller-6f7d9c8b5-q8w3n"`
)

var speakerNodes = map[string]struct{ ip, pod string }{
	"node-a": {"192.0.2.11", "ironlb-speaker-7xk2p"},
	"node-b": {"192.0.2.12", "ironlb-speaker-m4q9z"},
	"node-c": {"192.0.2.13", "ironlb-speaker-t6v8r"},
}

// controllerSeries is metric{labels} as scraped from target.
func controllerSeries(target, metric, labels string) string {
	return metric + "{" + joinLabels(labels, target) + "}"
}

// speakerSeries is metric{labels} as scraped from node's speaker,
// including the node label the monitors' relabeling adds.
func speakerSeries(node, metric, labels string) string {
	n := speakerNodes[node]
	target := fmt.Sprintf(`instance="%s:7472",job="speaker",namespace="ironlb-system",pod="%s",node="%s"`, n.ip, n.pod, node)
	return metric + "{" + joinLabels(labels, target) + "}"
}

func joinLabels(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// speakerAlertLabels are the labels of an alert on one speaker's series.
func speakerAlertLabels(node string, extra map[string]string) map[string]string {
	n := speakerNodes[node]
	out := map[string]string{
		"instance": n.ip + ":7472", "job": "speaker", "namespace": "ironlb-system", "pod": n.pod, "node": node,
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// alertScenario is one promtool test group: series over time, and the
// alerts expected at chosen times (none: an empty ExpAlerts).
type alertScenario struct {
	name   string
	series []inputSeries
	checks []alertRuleTest
}

func noAlert(at, alert string) alertRuleTest {
	return alertRuleTest{EvalTime: at, Alertname: alert, ExpAlerts: []expAlert{}}
}

// defaultAlertScenarios exercise every alert with the chart's default
// thresholds and durations.
func defaultAlertScenarios() []alertScenario {
	return []alertScenario{
		{
			// lan's IPv4 half goes from 8 to 15 of 16 addresses at 10m; both
			// controller replicas export it and agree, which makes one
			// alert. lan has no IPv6 addresses (0 of 0), spare has room,
			// and edge is at 90%, not above: none of them fires.
			name: "a pool family above 90% for 15m",
			series: []inputSeries{
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_total", `pool="lan",family="IPv4"`), "16x40"},
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_used", `pool="lan",family="IPv4"`), "8x9 15x30"},
				{controllerSeries(standbyTarget, "ironlb_pool_addresses_total", `pool="lan",family="IPv4"`), "16x40"},
				{controllerSeries(standbyTarget, "ironlb_pool_addresses_used", `pool="lan",family="IPv4"`), "8x9 15x30"},
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_total", `pool="lan",family="IPv6"`), "0x40"},
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_used", `pool="lan",family="IPv6"`), "0x40"},
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_total", `pool="spare",family="IPv6"`), "65536x40"},
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_used", `pool="spare",family="IPv6"`), "100x40"},
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_total", `pool="edge",family="IPv4"`), "10x40"},
				{controllerSeries(controllerTarget, "ironlb_pool_addresses_used", `pool="edge",family="IPv4"`), "9x40"},
			},
			checks: []alertRuleTest{
				noAlert("24m", "IronLBPoolNearlyExhausted"),
				{EvalTime: "25m", Alertname: "IronLBPoolNearlyExhausted", ExpAlerts: []expAlert{{
					ExpLabels: map[string]string{"severity": "warning", "pool": "lan", "family": "IPv4"},
					ExpAnnotations: map[string]string{
						"summary": "IronLB pool lan is nearly out of IPv4 addresses",
						"description": "93.75% of the IPv4 addresses of IPAddressPool lan are assigned. New LoadBalancer " +
							"Services will get PoolExhausted once none is left: add addresses to the pool or another pool.",
					},
				}}},
			},
		},
		{
			// From 5m two Services wait on a full pool and stay waiting;
			// the standby replica exports 0. A Service names a missing pool
			// for 4 minutes, shorter than `for`, and is then fixed.
			name: "Services pending for 10m",
			series: []inputSeries{
				{controllerSeries(controllerTarget, "ironlb_services_pending", `reason="PoolExhausted"`), "0x4 1 2x20"},
				{controllerSeries(standbyTarget, "ironlb_services_pending", `reason="PoolExhausted"`), "0x25"},
				{controllerSeries(controllerTarget, "ironlb_services_pending", `reason="NoMatchingPool"`), "0x4 1x3 0x17"},
				{controllerSeries(standbyTarget, "ironlb_services_pending", `reason="NoMatchingPool"`), "0x25"},
			},
			checks: []alertRuleTest{
				noAlert("14m", "IronLBServicesPending"),
				{EvalTime: "15m", Alertname: "IronLBServicesPending", ExpAlerts: []expAlert{{
					ExpLabels: map[string]string{"severity": "warning", "reason": "PoolExhausted"},
					ExpAnnotations: map[string]string{
						"summary": "IronLB has 2 LoadBalancer Services without the address they ask for (PoolExhausted)",
						"description": "For 10m some LoadBalancer Services have had their address request refused with " +
							"reason PoolExhausted; 2 are now. Most have no EXTERNAL-IP. `kubectl ironlb status` lists " +
							"them with the reason and message of their ironlb.io/IPAllocated condition. PoolExhausted " +
							"and NoMatchingPool call for addresses in a pool that admits these Services; IPUnavailable, " +
							"InvalidRequest and SharingConflict for a change of what they ask (annotations, " +
							"spec.loadBalancerIP) or of the Service holding the address they want.",
					},
				}}},
			},
		},
		{
			// node-a loses tor-a at 5m for good; node-b's session with tor-b
			// flaps for 4 minutes, shorter than `for`.
			name: "a BGP session down for 5m",
			series: []inputSeries{
				{speakerSeries("node-a", "ironlb_bgp_session_up", `peer="tor-a"`), "1x4 0x20"},
				{speakerSeries("node-a", "ironlb_bgp_session_up", `peer="tor-b"`), "1x25"},
				{speakerSeries("node-b", "ironlb_bgp_session_up", `peer="tor-a"`), "1x25"},
				{speakerSeries("node-b", "ironlb_bgp_session_up", `peer="tor-b"`), "1x4 0x3 1x17"},
			},
			checks: []alertRuleTest{
				noAlert("9m", "IronLBBGPSessionDown"),
				{EvalTime: "10m", Alertname: "IronLBBGPSessionDown", ExpAlerts: []expAlert{{
					ExpLabels: speakerAlertLabels("node-a", map[string]string{"severity": "critical", "peer": "tor-a"}),
					ExpAnnotations: map[string]string{
						"summary": "IronLB BGP session to tor-a is down on node-a",
						"description": "The speaker on node-a has had no established session with BGPPeer tor-a for 5m; " +
							"routers do not learn this node's routes. `kubectl get bgppeer tor-a -o yaml` shows the session state.",
					},
				}}},
			},
		},
		{
			// node-a owns 203.0.113.10 but loses its last interface for it
			// at 5m; node-b announces 203.0.113.11 on two.
			name: "an owned layer-2 address on no interface for 5m",
			series: []inputSeries{
				{speakerSeries("node-a", "ironlb_layer2_address_interfaces", `ip="203.0.113.10"`), "1x4 0x20"},
				{speakerSeries("node-b", "ironlb_layer2_address_interfaces", `ip="203.0.113.11"`), "2x25"},
			},
			checks: []alertRuleTest{
				noAlert("9m", "IronLBAddressNotAnnounced"),
				{EvalTime: "10m", Alertname: "IronLBAddressNotAnnounced", ExpAlerts: []expAlert{{
					ExpLabels: speakerAlertLabels("node-a", map[string]string{"severity": "critical", "ip": "203.0.113.10"}),
					ExpAnnotations: map[string]string{
						"summary": "IronLB announces 203.0.113.10 on no interface",
						"description": "The speaker 192.0.2.11:7472 owns 203.0.113.10 at layer 2 but no interface of its " +
							"node can carry it, so nobody answers ARP/NDP for it and its Service is unreachable. The " +
							`speaker's log line "No interface to announce address on" says why; most often the ` +
							"L2Advertisement must name the interface in spec.interfaces (a bridge or a veth is never " +
							"chosen unless named).",
					},
				}}},
			},
		},
		{
			name: "a speaker isolated for 2m",
			series: []inputSeries{
				{speakerSeries("node-a", "ironlb_speaker_isolated", ""), "0x4 1x20"},
				{speakerSeries("node-b", "ironlb_speaker_isolated", ""), "0x25"},
			},
			checks: []alertRuleTest{
				noAlert("6m", "IronLBSpeakerIsolated"),
				{EvalTime: "7m", Alertname: "IronLBSpeakerIsolated", ExpAlerts: []expAlert{{
					ExpLabels: speakerAlertLabels("node-a", map[string]string{"severity": "critical"}),
					ExpAnnotations: map[string]string{
						"summary": "IronLB speaker 192.0.2.11:7472 reaches no other speaker and announces nothing",
						"description": "The speaker 192.0.2.11:7472 cannot gossip with any of the speakers it expects on " +
							"other Ready nodes, so it claims no address (it would otherwise answer beside their owners) " +
							"and reports not Ready. Most often its memberlist key differs from the others' " +
							"(IRONLB_MEMBERLIST_KEY from the Secret; a key changed in one step rather than rotated " +
							"through oldKeys) or port 7946 TCP and UDP is blocked between the nodes. The Warning Event " +
							"SpeakerIsolated on its Node names the speakers and the cause.",
					},
				}}},
			},
		},
		{
			// node-a sees 2 of the 3 speakers it expects from 5m. node-c
			// sees more than it expects (a node just turned NotReady):
			// nothing is missing there.
			name: "a speaker missing others for 10m",
			series: []inputSeries{
				{speakerSeries("node-a", "ironlb_speaker_live_members", ""), "3x4 2x30"},
				{speakerSeries("node-a", "ironlb_speaker_expected_members", ""), "3x35"},
				{speakerSeries("node-b", "ironlb_speaker_live_members", ""), "3x35"},
				{speakerSeries("node-b", "ironlb_speaker_expected_members", ""), "3x35"},
				{speakerSeries("node-c", "ironlb_speaker_live_members", ""), "3x35"},
				{speakerSeries("node-c", "ironlb_speaker_expected_members", ""), "3x4 2x30"},
			},
			checks: []alertRuleTest{
				noAlert("14m", "IronLBSpeakersUnreachable"),
				{EvalTime: "15m", Alertname: "IronLBSpeakersUnreachable", ExpAlerts: []expAlert{{
					ExpLabels: speakerAlertLabels("node-a", map[string]string{"severity": "warning"}),
					ExpAnnotations: map[string]string{
						"summary": "IronLB speaker 192.0.2.11:7472 sees fewer speakers than it expects",
						"description": "The speaker 192.0.2.11:7472 sees 2 live speakers, fewer than the speakers it " +
							"expects on Ready nodes. Those it cannot reach are treated as down: addresses they own are " +
							"taken over, and if they still answer ARP on the same network two nodes answer for one " +
							"address. Check that every speaker has the same memberlist key and that port 7946 TCP and " +
							"UDP is open between all nodes.",
					},
				}}},
			},
		},
		healthyScenario(),
	}
}

// healthyScenario is a working cluster, every metric present and fine for
// an hour: no alert fires.
func healthyScenario() alertScenario {
	s := alertScenario{name: "a healthy cluster", series: []inputSeries{
		{controllerSeries(controllerTarget, "ironlb_pool_addresses_total", `pool="lan",family="IPv4"`), "16x60"},
		{controllerSeries(controllerTarget, "ironlb_pool_addresses_used", `pool="lan",family="IPv4"`), "14x60"},
		{controllerSeries(controllerTarget, "ironlb_services_pending", `reason="PoolExhausted"`), "0x60"},
		{controllerSeries(standbyTarget, "ironlb_services_pending", `reason="PoolExhausted"`), "0x60"},
	}}
	for node := range speakerNodes {
		s.series = append(s.series,
			inputSeries{speakerSeries(node, "ironlb_bgp_session_up", `peer="tor-a"`), "1x60"},
			inputSeries{speakerSeries(node, "ironlb_layer2_address_interfaces", `ip="203.0.113.10"`), "1x60"},
			inputSeries{speakerSeries(node, "ironlb_speaker_isolated", ""), "0x60"},
			inputSeries{speakerSeries(node, "ironlb_speaker_live_members", ""), "3x60"},
			inputSeries{speakerSeries(node, "ironlb_speaker_expected_members", ""), "3x60"},
		)
	}
	for _, alert := range chartAlerts {
		s.checks = append(s.checks, noAlert("60m", alert))
	}
	return s
}

// chartAlerts are the alerts the chart defines; the test fails when the
// chart has another one without scenarios here.
var chartAlerts = []string{
	"IronLBPoolNearlyExhausted",
	"IronLBServicesPending",
	"IronLBBGPSessionDown",
	"IronLBAddressNotAnnounced",
	"IronLBSpeakerIsolated",
	"IronLBSpeakersUnreachable",
}

func TestPrometheusRuleAlertsFire(t *testing.T) {
	dir := t.TempDir()
	rules := writeChartRules(t, dir, "--set", "prometheus.prometheusRule.enabled=true")

	var names []string
	exported := exportedMetrics(t)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			if unknown := unknownMetrics(r.Expr, exported); len(unknown) > 0 {
				t.Errorf("alert %s reads %v, which neither program exports: %s", r.Alert, unknown, r.Expr)
			}
		}
	}
	sort.Strings(names)
	want := append([]string(nil), chartAlerts...)
	sort.Strings(want)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("the chart's alerts are %v; the scenarios here cover %v: give every alert scenarios", names, want)
	}

	scenarios := defaultAlertScenarios()
	fired, silent := map[string]bool{}, map[string]bool{}
	for _, s := range scenarios {
		for _, c := range s.checks {
			if len(c.ExpAlerts) > 0 {
				fired[c.Alertname] = true
			} else {
				silent[c.Alertname] = true
			}
		}
	}
	for _, a := range chartAlerts {
		if !fired[a] || !silent[a] {
			t.Errorf("alert %s: a scenario must see it fire (%v) and one stay silent (%v)", a, fired[a], silent[a])
		}
	}

	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { runAlertScenarios(t, dir, s) })
	}
}

// The values under prometheus.prometheusRule reach the rules.
func TestPrometheusRuleValues(t *testing.T) {
	dir := t.TempDir()
	// A file, not --set: helm's --set turns 0.5 into a string.
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, []byte(`
prometheus:
  prometheusRule:
    enabled: true
    poolExhausted: {threshold: 0.5, for: 1m, severity: page}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	writeChartRules(t, dir, "-f", values)
	runAlertScenarios(t, dir, alertScenario{
		name: "a pool half full for 1m",
		series: []inputSeries{
			{controllerSeries(controllerTarget, "ironlb_pool_addresses_total", `pool="lan",family="IPv4"`), "16x10"},
			// 8 of 16 is not above 0.5; 9 of 16 is, from 3m.
			{controllerSeries(controllerTarget, "ironlb_pool_addresses_used", `pool="lan",family="IPv4"`), "8x2 9x8"},
		},
		checks: []alertRuleTest{
			noAlert("3m", "IronLBPoolNearlyExhausted"),
			{EvalTime: "4m", Alertname: "IronLBPoolNearlyExhausted", ExpAlerts: []expAlert{{
				ExpLabels: map[string]string{"severity": "page", "pool": "lan", "family": "IPv4"},
				ExpAnnotations: map[string]string{
					"summary": "IronLB pool lan is nearly out of IPv4 addresses",
					"description": "56.25% of the IPv4 addresses of IPAddressPool lan are assigned. New LoadBalancer " +
						"Services will get PoolExhausted once none is left: add addresses to the pool or another pool.",
				},
			}}},
		},
	})
}

// writeChartRules renders the chart's PrometheusRule with setArgs, writes
// its groups to dir/rules.json as a Prometheus rule file, and checks it
// with promtool check rules.
func writeChartRules(t *testing.T, dir string, setArgs ...string) ruleFile {
	t.Helper()
	obj := find(t, render(t, setArgs...), "PrometheusRule", "ironlb")
	groups, found, err := unstructured.NestedSlice(obj.Object, "spec", "groups")
	if err != nil || !found || len(groups) == 0 {
		t.Fatalf("PrometheusRule has no spec.groups (%v)", err)
	}
	// The groups as rendered, every field kept, are the rule file.
	writePromtoolFile(t, dir, "rules.json", map[string]any{"groups": groups})
	if out, err := runPromtool(t, dir, "check", "rules", "rules.json"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rules ruleFile
	b, err := json.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	return rules
}

// runAlertScenarios runs promtool test rules on dir/rules.json with s.
func runAlertScenarios(t *testing.T, dir string, s alertScenario) {
	t.Helper()
	name := strings.NewReplacer(" ", "-", "%", "").Replace(s.name) + ".test.json"
	writePromtoolFile(t, dir, name, ruleTestFile{
		RuleFiles:          []string{"rules.json"},
		EvaluationInterval: "1m",
		Tests: []ruleTests{{
			Name: s.name, Interval: "1m", InputSeries: s.series, AlertRuleTests: s.checks,
		}},
	})
	if out, err := runPromtool(t, dir, "test", "rules", name); err != nil {
		t.Errorf("%v\n%s", err, out)
	}
}

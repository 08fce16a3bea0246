package metallb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/cmd/kubectl-ironlb/internal/report"
)

// lines renders a report as "Object field: outcome" lines.
func lines(r *report.Report) []string {
	var out []string
	for _, e := range r.Sorted() {
		out = append(out, strings.TrimSpace(e.Object.String()+" "+e.Field)+": "+string(e.Outcome))
	}
	return out
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		counts [6]int // pools, l2, bgp, peers, communities, bfd
		svcs   int
		report []string
	}{
		{
			name: "YAML documents, empty ones skipped",
			input: `
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec: {addresses: [192.0.2.0/28]}
---
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: lan, namespace: metallb-system}
`,
			counts: [6]int{1, 1, 0, 0, 0, 0},
		},
		{
			name: "a List, as kubectl get -o yaml prints, with Services",
			input: `
apiVersion: v1
kind: List
items:
- apiVersion: metallb.io/v1beta2
  kind: BGPPeer
  metadata: {name: tor, namespace: metallb-system}
  spec: {myASN: 64513, peerASN: 64512, peerAddress: 198.51.100.1}
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: default}
  spec: {type: LoadBalancer}
`,
			counts: [6]int{0, 0, 0, 1, 0, 0},
			svcs:   1,
		},
		{
			name: "a JSON stream",
			input: `{"apiVersion": "metallb.io/v1beta1", "kind": "Community", "metadata": {"name": "c", "namespace": "m"}}
{"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile", "metadata": {"name": "b", "namespace": "m"}}`,
			counts: [6]int{0, 0, 0, 0, 1, 1},
		},
		{
			name: "fields this tool does not know are reported, empty ones not",
			input: `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec:
  myASN: 64513
  peerASN: 64512
  peerAddress: 198.51.100.1
  localASN: 64999
  futureEmpty: ""
  nodeSelectors: [{matchLabels: {a: b}, matchFields: [{key: x}]}]
status: {anything: 1}
`,
			counts: [6]int{0, 0, 0, 1, 0, 0},
			report: []string{
				"BGPPeer metallb-system/tor spec.localASN: not carried over",
				"BGPPeer metallb-system/tor spec.nodeSelectors[0].matchFields: not carried over",
			},
		},
		{
			name: "what is not MetalLB configuration",
			input: `
apiVersion: metallb.io/v1beta1
kind: AddressPool
metadata: {name: old, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: ServiceL2Status
metadata: {name: s, namespace: metallb-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config, namespace: metallb-system}
data: {config: "address-pools: []"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: controller, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bad, namespace: metallb-system}
spec: {addresses: "192.0.2.0/28"}
`,
			report: []string{
				"AddressPool metallb-system/old: not carried over",
				"ConfigMap metallb-system/config: not carried over",
				"Deployment metallb-system/controller: not carried over",
				"IPAddressPool metallb-system/bad: not carried over",
				"ServiceL2Status metallb-system/s: not carried over",
			},
		},
		{
			name: "one object twice: the last one wins",
			input: `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec: {addresses: [192.0.2.0/28]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec: {addresses: [198.51.100.0/28]}
`,
			counts: [6]int{1, 0, 0, 0, 0, 0},
			report: []string{"IPAddressPool metallb-system/lan: changed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Set
			var rep report.Report
			if err := s.Decode(strings.NewReader(tt.input), "test", &rep); err != nil {
				t.Fatal(err)
			}
			got := [6]int{len(s.Pools), len(s.L2Advertisements), len(s.BGPAdvertisements), len(s.Peers), len(s.Communities), len(s.BFDProfiles)}
			if got != tt.counts || len(s.Services) != tt.svcs {
				t.Errorf("counts = %v and %d Services, want %v and %d", got, len(s.Services), tt.counts, tt.svcs)
			}
			if diff := cmp.Diff(tt.report, lines(&rep)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeLastWins(t *testing.T) {
	var s Set
	var rep report.Report
	in := `{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "a", "namespace": "m"}, "spec": {"addresses": ["192.0.2.0/28"]}}
{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "a", "namespace": "m"}, "spec": {"addresses": ["198.51.100.0/28"]}}`
	if err := s.Decode(strings.NewReader(in), "test", &rep); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"198.51.100.0/28"}, s.Pools[0].Spec.Addresses); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
}

// A v1beta1 BGPPeer reads into the v1beta2 shape: same names, and its
// non-pointer timers become set pointers.
func TestDecodeV1beta1Peer(t *testing.T) {
	var s Set
	var rep report.Report
	in := `
apiVersion: metallb.io/v1beta1
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec:
  myASN: 64513
  peerASN: 64512
  peerAddress: 198.51.100.1
  holdTime: 90s
  password: s3cret
  nodeSelectors: [{matchExpressions: [{key: rack, operator: In, values: [r1]}]}]
`
	if err := s.Decode(strings.NewReader(in), "test", &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != 0 || len(s.Peers) != 1 {
		t.Fatalf("peers %v, report %v", s.Peers, rep.Entries)
	}
	p := s.Peers[0].Spec
	if p.HoldTime == nil || p.HoldTime.Duration != 90*time.Second || p.Password != "s3cret" ||
		len(p.NodeSelectors) != 1 || p.NodeSelectors[0].MatchExpressions[0].Values[0] != "r1" {
		t.Errorf("peer spec = %+v", p)
	}
}

func TestDecodeNotYAML(t *testing.T) {
	var s Set
	var rep report.Report
	if err := s.Decode(strings.NewReader("{not: [yaml"), "broken.yaml", &rep); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("Decode of broken input: %v, want an error naming the source", err)
	}
}

func TestDecodeFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pool := func(name string) string {
		return "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: " + name + ", namespace: m}\nspec: {addresses: [192.0.2.0/28]}\n"
	}
	write("a.yaml", pool("a"))
	write("b.json", `{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "b", "namespace": "m"}}`)
	write("notes.txt", "not read")
	write("sub/c.yml", pool("c"))

	for _, tt := range []struct {
		recursive bool
		want      []string
	}{{false, []string{"a", "b", "stdin"}}, {true, []string{"a", "b", "c", "stdin"}}} {
		var s Set
		var rep report.Report
		if err := s.DecodeFiles([]string{dir, "-"}, tt.recursive, strings.NewReader(pool("stdin")), &rep); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range s.Pools {
			got = append(got, p.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("recursive=%t: pools (-want +got):\n%s", tt.recursive, diff)
		}
	}
	var s Set
	if err := s.DecodeFiles([]string{filepath.Join(dir, "missing.yaml")}, false, nil, &report.Report{}); err == nil {
		t.Error("a missing file is no error")
	}
}

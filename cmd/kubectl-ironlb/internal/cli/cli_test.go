package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

const fixture = "../migrate/testdata/all-fields.yaml"

func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func kindsAndNames(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		md := o["metadata"].(map[string]any)
		out = append(out, o["kind"].(string)+"/"+md["name"].(string))
	}
	return out
}

var wantObjects = []string{
	"Secret/legacy-bgp-password",
	"IPAddressPool/full",
	"BFDProfile/fast",
	"BGPPeer/full", "BGPPeer/legacy", "BGPPeer/dynamic", "BGPPeer/in-vrf",
	"Community/aliases",
	"L2Advertisement/full",
	"BGPAdvertisement/full",
}

func TestMigrateYAML(t *testing.T) {
	stdout, stderr, err := run(t, "", "migrate", "-f", fixture)
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	for _, doc := range strings.Split(stdout, "---\n") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("output is not YAML documents: %v\n%s", err, stdout)
		}
		objs = append(objs, o)
	}
	if diff := cmp.Diff(wantObjects, kindsAndNames(objs)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		`BFDProfile metallb-system/fast: spec.echoMode = true: not carried over: IronLB's BFD has no echo function`,
		"4 not carried over, 4 changed, 1 needing action",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, stderr)
		}
	}
}

func TestMigrateJSONFromStdin(t *testing.T) {
	in := `{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "lan", "namespace": "metallb-system"}, "spec": {"addresses": ["192.0.2.0/28"]}}`
	stdout, _, err := run(t, in, "migrate", "-f", "-", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if list.Kind != "List" || !cmp.Equal(kindsAndNames(list.Items), []string{"IPAddressPool/lan"}) {
		t.Errorf("output = %s", stdout)
	}
}

func TestMigrateFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate"}, "give -f FILENAME or --from-cluster"},
		{[]string{"migrate", "-f", fixture, "-o", "wide"}, "--output must be yaml or json"},
		{[]string{"status", "-o", "name"}, "--output must be one of"},
	} {
		if _, _, err := run(t, "", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one saying %q", tt.args, err, tt.want)
		}
	}
}

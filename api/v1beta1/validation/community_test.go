package validation_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

func TestValidateCommunity(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: "64512:100"},
		{in: "65535:65535"},
		{in: "65536:1", wantErr: "part 1 65536 is out of range 0-65535"},
		{in: "1:2:3", wantErr: "want two numbers a:b (each 0-65535)"},
		{in: "+1:2", wantErr: `part 1 "+1" is not a decimal number`},
		{in: "large:64512:1:2"},
		{in: "large:4294967294:4294967295:4294967295"},
		{in: "large:1:2", wantErr: "want three numbers a:b:c (each 0-4294967295)"},
		{in: "large:1:2:4294967296", wantErr: "part 3 4294967296 is out of range 0-4294967295"},
		{in: "large:4294967295:1:2", wantErr: "global administrator 4294967295 is reserved (RFC 8092 section 5); IronLB uses it internally to steer routes to peers"},
		// Without the prefix it is read as a standard community.
		{in: "64512:1:2", wantErr: "want two numbers a:b (each 0-65535)"},
		// Well-known names, in any case.
		{in: "no-export"},
		{in: "NO-ADVERTISE"},
		{in: "Graceful-Shutdown"},
		{in: "llgr-stale"},
		{in: "no_export", wantErr: "want two numbers a:b (each 0-65535)"},
	}
	for _, tt := range tests {
		err := validation.ValidateCommunity(tt.in)
		if got := errString(err); got != tt.wantErr {
			t.Errorf("ValidateCommunity(%q) = %q, want %q", tt.in, got, tt.wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The well-known names stand for the values IANA registered.
func TestWellKnownCommunities(t *testing.T) {
	want := map[string]string{
		"no-export":           "65535:65281", // RFC 1997
		"no-advertise":        "65535:65282", // RFC 1997
		"no-export-subconfed": "65535:65283", // RFC 1997
		"no-peer":             "65535:65284", // RFC 3765
		"blackhole":           "65535:666",   // RFC 7999
		"graceful-shutdown":   "65535:0",     // RFC 8326
		"accept-own":          "65535:1",     // RFC 7611
		"llgr-stale":          "65535:6",     // RFC 9494
		"no-llgr":             "65535:7",     // RFC 9494
	}
	got := map[string]string{}
	for _, name := range validation.WellKnownCommunityNames() {
		v, err := validation.ParseCommunity(strings.ToUpper(name))
		if err != nil {
			t.Errorf("ParseCommunity(%q): %v", strings.ToUpper(name), err)
		}
		got[name] = validation.FormatCommunity(v)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("well-known communities (-want +got):\n%s", diff)
	}
}

// The schema refuses well-known names as Community alias names with a CEL
// rule that lists them (api/v1beta1/community_types.go): it must list
// exactly the names the Go rule knows.
func TestWellKnownNamesInSchema(t *testing.T) {
	crd, err := os.ReadFile("../../../config/crd/ironlb.io_communities.yaml")
	if err != nil {
		t.Fatalf("reading the generated CRD (make generate writes it): %v", err)
	}
	rule := regexp.MustCompile(`in \[([^\]]*)\]`).FindSubmatch(crd)
	if rule == nil {
		t.Fatal("no CEL rule listing the well-known names in the Community CRD")
	}
	var listed []string
	for _, n := range strings.Split(string(rule[1]), ",") {
		listed = append(listed, strings.Trim(strings.TrimSpace(n), "'"))
	}
	slices.Sort(listed)
	if diff := cmp.Diff(validation.WellKnownCommunityNames(), listed); diff != "" {
		t.Errorf("well-known names (-Go +schema):\n%s", diff)
	}
}

func TestResolveCommunities(t *testing.T) {
	aliases := map[string]string{"TRANSIT": "64512:300", "tagged": "large:64512:1:2", "broken": "70000:1"}
	tests := []struct {
		name    string
		entries []string
		want    []string
		errs    []string
	}{
		{name: "none"},
		{
			name:    "values, names and aliases, written one way",
			entries: []string{"64512:100", "large:064512:1:2", "No-Export", "TRANSIT", "tagged"},
			want:    []string{"64512:100", "large:64512:1:2", "65535:65281", "64512:300"},
		},
		{
			name:    "an alias and its value are one community",
			entries: []string{"TRANSIT", "64512:300", "no-export", "65535:65281"},
			want:    []string{"64512:300", "65535:65281"},
		},
		{
			name:    "unknown alias",
			entries: []string{"64512:1", "transit"},
			want:    []string{"64512:1"},
			errs: []string{`spec.communities[1]: Not found: "transit": no Community object defines this alias (or several define it with different values), ` +
				`and it is not a well-known community name (accept-own, blackhole, graceful-shutdown, llgr-stale, no-advertise, no-export, no-export-subconfed, no-llgr, no-peer)`},
		},
		{
			name:    "alias to a value out of range",
			entries: []string{"broken"},
			errs:    []string{`spec.communities[0]: Invalid value: "broken": the Community alias stands for "70000:1": part 1 70000 is out of range 0-65535`},
		},
		{
			name:    "value out of range",
			entries: []string{"64512:70000"},
			errs:    []string{`spec.communities[0]: Invalid value: "64512:70000": part 2 70000 is out of range 0-65535`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := validation.ResolveCommunities(tt.entries, aliases)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.errs, messages(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func community(name string, aliases ...string) v1beta1.Community {
	c := v1beta1.Community{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for i := 0; i+1 < len(aliases); i += 2 {
		c.Spec.Communities = append(c.Spec.Communities, v1beta1.CommunityAlias{Name: aliases[i], Value: aliases[i+1]})
	}
	return c
}

func TestValidateCommunityAliases(t *testing.T) {
	others := []v1beta1.Community{community("edge", "TRANSIT", "64512:300"), community("self", "OLD", "64512:1")}
	tests := []struct {
		name string
		c    v1beta1.Community
		want []string
	}{
		{name: "valid", c: community("self", "NO_ADVERTISE", "65535:65282", "tagged.1", "large:64512:1:2", "OLD", "64512:2")},
		{
			name: "well-known name",
			c:    community("self", "No-Export", "65535:65281"),
			want: []string{`spec.communities[0].name: Invalid value: "No-Export": is a well-known community name, whose value is fixed`},
		},
		{
			name: "name that could be a value, and an empty one",
			c:    community("self", "64512:1", "64512:1", "", "64512:2"),
			want: []string{
				`spec.communities[0].name: Invalid value: "64512:1": must consist of letters, digits, '-', '_' and '.', and start with a letter or digit`,
				`spec.communities[1].name: Invalid value: "": must not be empty`,
			},
		},
		{
			name: "name too long",
			c:    community("self", strings.Repeat("a", 64), "64512:1"),
			want: []string{`spec.communities[0].name: Invalid value: "` + strings.Repeat("a", 64) + `": must be at most 63 characters long`},
		},
		{
			name: "values: a name, out of range, reserved",
			c:    community("self", "A", "no-export", "B", "65536:1", "C", "large:4294967295:1:1"),
			want: []string{
				`spec.communities[0].value: Invalid value: "no-export": want a standard community "a:b" or a large one "large:a:b:c"`,
				`spec.communities[1].value: Invalid value: "65536:1": part 1 65536 is out of range 0-65535`,
				`spec.communities[2].value: Invalid value: "large:4294967295:1:1": global administrator 4294967295 is reserved (RFC 8092 section 5); IronLB uses it internally to steer routes to peers`,
			},
		},
		{
			name: "defined twice in the object",
			c:    community("self", "A", "64512:1", "A", "64512:1"),
			want: []string{`spec.communities[1].name: Duplicate value: "A"`},
		},
		{
			name: "defined by another object, even with the same value",
			c:    community("self", "TRANSIT", "64512:300"),
			want: []string{`spec.communities[0].name: Duplicate value: "TRANSIT": Community "edge" already defines this alias; an alias name is unique across all Community objects`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, messages(validation.ValidateCommunityAliases(&tt.c, others))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCommunityAliases(t *testing.T) {
	got := validation.CommunityAliases([]v1beta1.Community{
		community("a", "ONE", "64512:1", "TWICE", "64512:2", "SAME", "64512:3"),
		community("b", "TWICE", "64512:22", "SAME", "64512:3"),
	})
	// TWICE has two values: left out, so an advertisement naming it is
	// refused rather than announced with either.
	want := map[string]string{"ONE": "64512:1", "SAME": "64512:3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
}

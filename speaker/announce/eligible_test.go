package announce_test

import (
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/speaker/announce"
)

func TestEligibility(t *testing.T) {
	live := map[string]bool{"n1": true}
	excluded := node("n1", label(announce.ExcludeLabel, ""))
	tests := []struct {
		name string
		rule announce.Eligibility
		node announce.Node
		live map[string]bool
		want bool
	}{
		{name: "ready, live, unlabelled", node: node("n1"), live: live, want: true},
		{name: "exclude label, any value", node: excluded, live: live, want: false},
		{name: "exclude label ignored (--ignore-exclude-lb)", rule: announce.Eligibility{IgnoreExcludeLabel: true}, node: excluded, live: live, want: true},
		{name: "ignoring the label does not revive a not Ready node", rule: announce.Eligibility{IgnoreExcludeLabel: true},
			node: node("n1", notReady, label(announce.ExcludeLabel, "true")), live: live, want: false},
		{name: "ignoring the label does not revive a dead speaker", rule: announce.Eligibility{IgnoreExcludeLabel: true},
			node: excluded, live: map[string]bool{}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.Eligible(tt.node, tt.live); got != tt.want {
				t.Errorf("Eligible = %v, want %v", got, tt.want)
			}
		})
	}
	// The package-level rule is the default one.
	if announce.Eligible(excluded, live) {
		t.Error("Eligible ignores the exclude label by default")
	}
}

// A cluster made only of control-plane nodes, all carrying the exclude
// label: nobody announces by default; with --ignore-exclude-lb they do.
func TestComputeIgnoresExcludeLabelWhenAsked(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	in := baseInput()
	for i := range in.Nodes {
		label(announce.ExcludeLabel, "")(&in.Nodes[i])
	}
	in.Services = []announce.Service{svc("default/web", ip)}

	if got := owners(announce.Compute(in)); len(got) != 0 {
		t.Errorf("every node excluded by label, owners = %v, want none", got)
	}
	in.Eligibility = announce.Eligibility{IgnoreExcludeLabel: true}
	if got := owners(announce.Compute(in)); got[ip] == "" {
		t.Errorf("with the exclude label ignored, owners = %v, want one for %s", got, ip)
	}
}

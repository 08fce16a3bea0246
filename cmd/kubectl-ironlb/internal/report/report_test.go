package report

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteText(t *testing.T) {
	var r Report
	pool := Object{Kind: "IPAddressPool", Namespace: "metallb-system", Name: "lan"}
	r.Add(Object{Kind: "BGPPeer", Namespace: "metallb-system", Name: "tor"}, "spec.connectTime", (5 * time.Second).String(), Dropped, "not configurable")
	r.Add(pool, "spec.addresses[1]", "192.0.2.5/28", Changed, "written 192.0.2.0/28")
	r.Add(pool, "", nil, Action, "check it")
	r.Add(Object{Kind: "Service", Namespace: "shop", Name: "web"}, "status.loadBalancer.ingress", "", Action, "moves")
	r.Add(Object{Kind: "BFDProfile", Name: "fast"}, "spec.echoMode", true, Dropped, "no BFD")

	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := `BFDProfile fast: spec.echoMode = true: not carried over: no BFD
BGPPeer metallb-system/tor: spec.connectTime = "5s": not carried over: not configurable
IPAddressPool metallb-system/lan: action needed: check it
IPAddressPool metallb-system/lan: spec.addresses[1] = "192.0.2.5/28": changed: written 192.0.2.0/28
Service shop/web: status.loadBalancer.ingress: action needed: moves
2 not carried over, 1 changed, 2 needing action
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

package lab

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func macs(t *testing.T, ss ...string) []net.HardwareAddr {
	t.Helper()
	var out []net.HardwareAddr
	for _, s := range ss {
		m, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestParseArping(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []string
	}{{
		name: "one answer",
		out: `ARPING 203.0.113.10
42 bytes from 02:1b:01:00:00:11 (203.0.113.10): index=0 time=9.467 usec

--- 203.0.113.10 statistics ---
1 packets transmitted, 1 packets received,   0% unanswered (0 extra)
rtt min/avg/max/std-dev = 0.009/0.009/0.009/0.000 ms
`,
		want: []string{"02:1b:01:00:00:11"},
	}, {
		name: "two nodes answer",
		out: `ARPING 203.0.113.10
42 bytes from 02:1b:01:00:00:11 (203.0.113.10): index=0 time=9.467 usec
42 bytes from 02:1b:01:00:00:12 (203.0.113.10): index=1 time=12.1 usec
42 bytes from 02:1b:01:00:00:11 (203.0.113.10): index=2 time=9.1 usec
`,
		want: []string{"02:1b:01:00:00:11", "02:1b:01:00:00:12"},
	}, {
		name: "no answer",
		out: `ARPING 203.0.113.11
Timeout

--- 203.0.113.11 statistics ---
2 packets transmitted, 0 packets received, 100% unanswered (0 extra)
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseArping(tt.out)
			if diff := cmp.Diff(macs(t, tt.want...), got, cmp.Comparer(macEqual)); diff != "" {
				t.Errorf("parseArping (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNdisc(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []string
	}{{
		name: "one answer",
		out: `Soliciting 2001:db8:200::10 (2001:db8:200::10) on eth0...
Target link-layer address: 02:1B:01:00:00:11
 from 2001:db8:100::11
`,
		want: []string{"02:1b:01:00:00:11"},
	}, {
		name: "two answers with -m",
		out: `Soliciting 2001:db8:200::10 (2001:db8:200::10) on eth0...
Target link-layer address: 02:1B:01:00:00:11
 from fe80::1b:1ff:fe00:b
Target link-layer address: 02:1B:01:00:00:13
 from fe80::1b:1ff:fe00:d
`,
		want: []string{"02:1b:01:00:00:11", "02:1b:01:00:00:13"},
	}, {
		name: "timeout",
		out: `Soliciting 2001:db8:200::11 (2001:db8:200::11) on eth0...
Timed out.
No response.
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseNdisc(tt.out)
			if diff := cmp.Diff(macs(t, tt.want...), got, cmp.Comparer(macEqual)); diff != "" {
				t.Errorf("parseNdisc (-want +got):\n%s", diff)
			}
		})
	}
}

func macEqual(a, b net.HardwareAddr) bool { return a.String() == b.String() }

func TestParseMetrics(t *testing.T) {
	text := `# HELP ironlb_announced Addresses this node announces.
# TYPE ironlb_announced gauge
ironlb_announced{ip="203.0.113.10",node="node-a",protocol="layer2"} 1
ironlb_announced{ip="2001:db8:200::10",node="node-a",protocol="bgp"} 0
ironlb_layer2_responses_sent_total{interface="eth0",protocol="arp"} 12 1700000000000
go_goroutines 42
`
	got, err := parseMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{
		{Name: "ironlb_announced", Labels: map[string]string{"ip": "203.0.113.10", "node": "node-a", "protocol": "layer2"}, Value: 1},
		{Name: "ironlb_announced", Labels: map[string]string{"ip": "2001:db8:200::10", "node": "node-a", "protocol": "bgp"}, Value: 0},
		{Name: "ironlb_layer2_responses_sent_total", Labels: map[string]string{"interface": "eth0", "protocol": "arp"}, Value: 12},
		{Name: "go_goroutines", Labels: map[string]string{}, Value: 42},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseMetrics (-want +got):\n%s", diff)
	}
	if s := Sum(got, "ironlb_announced", map[string]string{"protocol": "layer2"}); s != 1 {
		t.Errorf("Sum of layer2 announcements = %v, want 1", s)
	}
}

func TestFRRConfig(t *testing.T) {
	cfg := RouterConfig{ASN: 64512, Neighbors: []Neighbor{
		{Address: netip.MustParseAddr("198.51.100.11"), ASN: 64513, Password: "s3cret", IPv6Unicast: true},
		{Address: netip.MustParseAddr("2001:db8:100::12"), ASN: 64513},
	}}
	want := `frr defaults datacenter
hostname lab-router
router bgp 64512
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 bgp bestpath as-path multipath-relax
 neighbor 198.51.100.11 remote-as 64513
 neighbor 198.51.100.11 timers connect 1
 neighbor 198.51.100.11 password s3cret
 neighbor 2001:db8:100::12 remote-as 64513
 neighbor 2001:db8:100::12 timers connect 1
 address-family ipv4 unicast
  maximum-paths 16
  maximum-paths ibgp 16
  neighbor 198.51.100.11 activate
 exit-address-family
 address-family ipv6 unicast
  maximum-paths 16
  maximum-paths ibgp 16
  neighbor 198.51.100.11 activate
  neighbor 2001:db8:100::12 activate
 exit-address-family
`
	if diff := cmp.Diff(want, frrConfig(netip.MustParseAddr("198.51.100.1"), cfg)); diff != "" {
		t.Errorf("frrConfig (-want +got):\n%s", diff)
	}
}

func TestHostAddressing(t *testing.T) {
	tests := []struct {
		name        string
		index       byte
		v4, v6, mac string
	}{
		{"node", 11, "198.51.100.11", "2001:db8:100::11", "02:1b:01:00:00:11"},
		{"client", 100, "198.51.100.100", "2001:db8:100::100", "02:1b:01:00:01:00"},
		{"root", 254, "198.51.100.254", "2001:db8:100::254", "02:1b:01:00:02:54"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []string{hostAddr(lan4, tt.index).String(), hostAddr(lan6, tt.index).String(), hostMAC(1, tt.index).String()}
			if diff := cmp.Diff([]string{tt.v4, tt.v6, tt.mac}, got); diff != "" {
				t.Errorf("addresses of host %d (-want +got):\n%s", tt.index, diff)
			}
		})
	}
}

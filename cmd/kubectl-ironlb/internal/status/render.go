package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"
)

// Output formats of Print, as kubectl names them; "" is the table.
const (
	FormatTable = ""
	FormatWide  = "wide"
	FormatYAML  = "yaml"
	FormatJSON  = "json"
)

// Formats lists the values -o takes.
var Formats = []string{FormatWide, FormatYAML, FormatJSON}

// Print writes st in format.
func Print(w io.Writer, st Status, format string) error {
	switch format {
	case FormatYAML:
		b, err := yaml.Marshal(st)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case FormatJSON:
		b, err := json.MarshalIndent(st, "", "    ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case FormatTable, FormatWide:
		return printTables(w, st, format == FormatWide)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// printTables writes one table per part, kubectl style: pools, Services,
// pending Services, BGP sessions. Wide adds the messages.
func printTables(w io.Writer, st Status, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	t := table{w: tw, wide: wide}
	t.pools(st.Pools)
	t.row()
	t.services(st.Services)
	t.pending(st.Services)
	if st.OtherClass > 0 {
		t.row()
		t.row(fmt.Sprintf("%d LoadBalancer Service(s) of another spec.loadBalancerClass not shown.", st.OtherClass))
	}
	t.peers(st.Peers)
	return tw.Flush()
}

// table writes tab-separated rows; wide rows have extra columns.
type table struct {
	w    io.Writer
	wide bool
}

func (t table) row(cols ...string) { fmt.Fprintln(t.w, strings.Join(cols, "\t")) }

// wideRow writes cols, and extra too when wide.
func (t table) wideRow(cols []string, extra ...string) { t.row(withWide(cols, t.wide, extra...)...) }

func (t table) pools(pools []Pool) {
	if len(pools) == 0 {
		t.row("No IPAddressPools.")
		return
	}
	t.wideRow([]string{"POOL", "READY", "ADDRESSES", "IPV4 USED", "IPV4 FREE", "IPV6 USED", "IPV6 FREE", "SERVICES", "ANNOUNCED BY"}, "MESSAGE")
	for _, p := range pools {
		t.wideRow([]string{p.Name, p.Ready, strings.Join(p.Addresses, ","),
			fmt.Sprint(p.IPv4.Used), p.IPv4.Free, fmt.Sprint(p.IPv6.Used), p.IPv6.Free,
			fmt.Sprint(len(p.Services)), advertisedBy(p)}, reasonMessage(p.Reason, p.Message))
	}
}

func (t table) services(svcs []Service) {
	if len(svcs) == 0 {
		t.row("No LoadBalancer Services of IronLB's class.")
		return
	}
	t.wideRow([]string{"SERVICE", "POOL", "IPS", "ALLOCATED", "ANNOUNCED BY"}, "PROBLEMS")
	for _, s := range svcs {
		t.wideRow([]string{s.Key(), dash(s.Pool), dash(strings.Join(s.IPs, ",")), dash(s.Allocated), announcedBy(s.Announcements)},
			dash(problems(s.Announcements)))
	}
}

func (t table) pending(svcs []Service) {
	pending := pendingOf(svcs)
	if len(pending) == 0 {
		return
	}
	t.row()
	t.row("PENDING SERVICE", "REASON", "MESSAGE")
	for _, s := range pending {
		t.row(s.Key(), s.Reason, s.Message)
	}
}

func (t table) peers(peers []Peer) {
	if len(peers) == 0 {
		return
	}
	t.row()
	t.wideRow([]string{"BGP PEER", "ADDRESS", "MY ASN", "PEER ASN", "NODE", "STATE", "MESSAGE"}, "SINCE")
	for _, p := range peers {
		base := []string{p.Name, p.Address, fmt.Sprint(p.MyASN), fmt.Sprint(p.PeerASN)}
		if len(p.Sessions) == 0 {
			t.wideRow(append(base, "-", "no session reported", "no speaker selected by the peer's nodeSelectors has reported yet"), "-")
		}
		for _, s := range p.Sessions {
			since := "-"
			if s.Since != nil {
				since = s.Since.UTC().Format(time.RFC3339)
			}
			t.wideRow(append(base, s.Node, s.State, dash(s.Message)), since)
		}
	}
}

func withWide(cols []string, wide bool, extra ...string) []string {
	if wide {
		return append(cols, extra...)
	}
	return cols
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func reasonMessage(reason, message string) string {
	switch {
	case reason == "" && message == "":
		return "-"
	case message == "":
		return reason
	}
	return reason + ": " + message
}

// advertisedBy is "l2:NAME,... bgp:NAME,..." for a pool.
func advertisedBy(p Pool) string {
	var parts []string
	if len(p.L2Advertisements) > 0 {
		parts = append(parts, "l2:"+strings.Join(p.L2Advertisements, ","))
	}
	if len(p.BGPAdvertisements) > 0 {
		parts = append(parts, "bgp:"+strings.Join(p.BGPAdvertisements, ","))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}

// announcedBy is "IP PROTO:NODES ..." per address: "?" when no ServiceAnnouncement says,
// "none" when no node does.
func announcedBy(as []Announcement) string {
	var parts []string
	lastIP := ""
	for _, a := range as {
		nodes := strings.Join(a.Nodes, ",")
		switch {
		case !a.Known:
			nodes = "?"
		case nodes == "":
			nodes = "none"
		}
		if a.IP != lastIP {
			parts = append(parts, a.IP)
			lastIP = a.IP
		}
		parts = append(parts, a.Protocol+":"+nodes)
	}
	return dash(strings.Join(parts, " "))
}

func problems(as []Announcement) string {
	var out []string
	for _, a := range as {
		for _, p := range a.Problems {
			out = append(out, a.IP+": "+p)
		}
	}
	return strings.Join(out, "; ")
}

func pendingOf(svcs []Service) []Service {
	var out []Service
	for _, s := range svcs {
		if s.Pending() {
			out = append(out, s)
		}
	}
	return out
}

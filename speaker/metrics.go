package speaker

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	announced *prometheus.GaugeVec
	members   prometheus.Gauge
	expected  prometheus.Gauge
	isolated  prometheus.Gauge
	winner    prometheus.Gauge
	set       map[[3]string]bool // label sets currently exported
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		announced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ironlb_announced",
			Help: "1 for each address this node announces, by protocol (layer2 or bgp).",
		}, []string{"ip", "node", "protocol"}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_speaker_live_members",
			Help: "Speakers this node counts as candidates for addresses (alive, past their join instant, not handing off), itself included.",
		}),
		// Compared with ironlb_speaker_live_members by the chart's alert:
		// fewer live than expected means a speaker this one should reach
		// does not gossip with it (key, firewall, partition).
		expected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_speaker_expected_members",
			Help: "Speakers this node expects alive, itself and every live one included: those of Ready Nodes " +
				"not excluded from load balancers, unless their memberlist port refuses connections (no speaker there).",
		}),
		isolated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_speaker_isolated",
			Help: "1 while this speaker reaches none of the speakers it expects and so announces nothing.",
		}),
		winner: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_speaker_winner_version",
			Help: "Version of the layer-2 owner election in use: the highest every live speaker supports (docs/scale.md).",
		}),
		set: map[[3]string]bool{},
	}
	for _, c := range []prometheus.Collector{m.announced, m.members, m.expected, m.isolated, m.winner} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("speaker: register metrics: %w", err)
		}
	}
	return m, nil
}

// setAnnounced exports this node's announcements, the nodes announcing
// each address by protocol (announcedBy), and drops the series of addresses
// it no longer announces. Only the addresses in changed are looked at,
// unless all is set.
func (m *metrics) setAnnounced(announced map[string]map[netip.Addr][]string, node string, changed []netip.Addr, all bool) {
	if all {
		now := map[[3]string]bool{}
		for protocol, byIP := range announced {
			for ip, nodes := range byIP {
				if slices.Contains(nodes, node) {
					now[[3]string{ip.String(), node, protocol}] = true
				}
			}
		}
		for l := range m.set {
			if !now[l] {
				m.announced.DeleteLabelValues(l[0], l[1], l[2])
			}
		}
		for l := range now {
			if !m.set[l] {
				m.announced.WithLabelValues(l[0], l[1], l[2]).Set(1)
			}
		}
		m.set = now
		return
	}
	for _, ip := range changed {
		for protocol, byIP := range announced {
			m.export(ip, node, protocol, slices.Contains(byIP[ip], node))
		}
	}
}

// export sets or drops the series of ip announced by protocol from node.
func (m *metrics) export(ip netip.Addr, node, protocol string, on bool) {
	l := [3]string{ip.String(), node, protocol}
	switch {
	case on && !m.set[l]:
		m.announced.WithLabelValues(l[0], l[1], l[2]).Set(1)
		m.set[l] = true
	case !on && m.set[l]:
		m.announced.DeleteLabelValues(l[0], l[1], l[2])
		delete(m.set, l)
	}
}

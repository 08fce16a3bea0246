package bgp

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the Speaker's metrics at scrape time: session states
// from the session table (kept live by GoBGP's peer-state watch), counters
// from GoBGP itself, so nothing can drift from what GoBGP really did.
type collector struct {
	s         *Speaker
	up        *prometheus.Desc
	updates   *prometheus.Desc
	announced *prometheus.Desc
}

func newCollector(s *Speaker) *collector {
	peer := []string{"peer"}
	return &collector{
		s:         s,
		up:        prometheus.NewDesc("ironlb_bgp_session_up", "1 when the BGP session with the peer is established, else 0.", peer, nil),
		updates:   prometheus.NewDesc("ironlb_bgp_updates_total", "BGP UPDATE messages sent to the peer (restarts from 0 when the peer is reconfigured).", peer, nil),
		announced: prometheus.NewDesc("ironlb_bgp_announced_prefixes", "Prefixes currently advertised to the peer.", peer, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.updates
	ch <- c.announced
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for name, st := range c.s.sessions.snapshot() {
		up := 0.0
		if st.State == StateEstablished {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, name)
	}
	ctx := context.Background()
	for _, inst := range c.s.running() {
		peers, err := inst.peerStates(ctx, true)
		if err != nil {
			continue
		}
		for _, p := range peers {
			name := c.s.sessions.nameOf(inst.routerID, p.GetConf().GetNeighborAddress())
			if name == "" {
				continue
			}
			var advertised uint64
			for _, af := range p.GetAfiSafis() {
				advertised += af.GetState().GetAdvertised()
			}
			sent := p.GetState().GetMessages().GetSent().GetUpdate()
			ch <- prometheus.MustNewConstMetric(c.updates, prometheus.CounterValue, float64(sent), name)
			ch <- prometheus.MustNewConstMetric(c.announced, prometheus.GaugeValue, float64(advertised), name)
		}
	}
}

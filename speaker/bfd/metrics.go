package bfd

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a Manager drops a packet besides those of DecodeError (the reason
// label of ironlb_bfd_dropped_packets_total).
const (
	// ReasonTTL: TTL or Hop Limit not 255 (RFC 5881 §5).
	ReasonTTL = "ttl"
	// ReasonNoSession: no session matches its discriminator, or its source
	// address and interface (RFC 5880 §6.8.6, RFC 5881 §3).
	ReasonNoSession = "no_session"
	// ReasonAuthentication: A bit set; no session uses authentication.
	ReasonAuthentication = "auth"
	// ReasonBacklog: the session had 16 packets waiting already.
	ReasonBacklog = "backlog"
)

type metrics struct {
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	sent        *prometheus.CounterVec
	received    *prometheus.CounterVec
	sendErrors  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	session := []string{"peer", "interface"}
	m := &metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ironlb_bfd_session_state",
			Help: "State of each BFD session, as on the wire: 0 AdminDown, 1 Down, 2 Init, 3 Up.",
		}, session),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_bfd_session_state_transitions_total",
			Help: "State changes of each BFD session, by the state entered.",
		}, append(session, "state")),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_bfd_dropped_packets_total",
			Help: "Received BFD control packets dropped, by reason: malformed (short, version, length, " +
				"detect_mult, multipoint, my_discriminator, your_discriminator), ttl (not 255), " +
				"no_session, auth (authentication is not supported), backlog.",
		}, []string{"reason"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_bfd_control_packets_sent_total",
			Help: "BFD control packets sent by each session.",
		}, session),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_bfd_control_packets_received_total",
			Help: "BFD control packets each session accepted.",
		}, session),
		sendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_bfd_send_errors_total",
			Help: "BFD control packets a session failed to send.",
		}, session),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.state, m.transitions, m.dropped, m.sent, m.received, m.sendErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("bfd: register metrics: %w", err)
		}
	}
	return m, nil
}

func labels(k SessionKey) []string { return []string{k.Addr.String(), k.Interface} }

// forget drops the series of a session that is gone.
func (m *metrics) forget(k SessionKey) {
	l := labels(k)
	for _, v := range []interface{ DeleteLabelValues(...string) bool }{m.state, m.sent, m.received, m.sendErrors} {
		v.DeleteLabelValues(l...)
	}
	m.transitions.DeletePartialMatch(prometheus.Labels{"peer": l[0], "interface": l[1]})
}

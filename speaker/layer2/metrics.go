package layer2

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the layer-2 counters, labelled by protocol ("arp" or "ndp")
// and interface, and the number of interfaces each owned address is
// announced on.
type metrics struct {
	requests   *prometheus.CounterVec
	responses  *prometheus.CounterVec
	gratuitous *prometheus.CounterVec
	malformed  *prometheus.CounterVec
	interfaces *prometheus.GaugeVec
}

// RegisterMetrics registers the layer-2 metrics on reg (the caller's, such
// as controller-runtime's metrics.Registry): the counters
// ironlb_layer2_{requests_received,responses_sent,gratuitous_sent,malformed_packets}_total
// labelled protocol ("arp" or "ndp") and interface, and the gauge
// ironlb_layer2_address_interfaces labelled ip, 0 for an owned address no
// interface can carry. An Announcer whose Options.Registerer is reg counts on
// these same collectors; registering twice on reg is not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	_, err := newMetrics(reg)
	return err
}

// newMetrics makes the collectors and, when reg is not nil, registers them
// or takes over the ones already there.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"protocol", "interface"}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_layer2_requests_received_total",
			Help: "ARP requests and IPv6 neighbor solicitations received for an address this node announces.",
		}, labels),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_layer2_responses_sent_total",
			Help: "ARP replies and IPv6 neighbor advertisements sent in answer to a request.",
		}, labels),
		gratuitous: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_layer2_gratuitous_sent_total",
			Help: "Gratuitous ARPs and unsolicited IPv6 neighbor advertisements sent, on takeover and re-announcement.",
		}, labels),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_layer2_malformed_packets_total",
			Help: "ARP and neighbor discovery packets dropped because they failed validation.",
		}, labels),
		// An owned address at 0 has nobody answering for it: alert on it.
		interfaces: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ironlb_layer2_address_interfaces",
			Help: "Interfaces an address this node owns is announced on; 0: it is owned but no interface can carry it, so nobody answers ARP/NDP for it.",
		}, []string{"ip"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.requests, &m.responses, &m.gratuitous, &m.malformed} {
		if err := registerOrReuse(reg, c); err != nil {
			return nil, err
		}
	}
	if err := registerOrReuse(reg, &m.interfaces); err != nil {
		return nil, err
	}
	return m, nil
}

// registerOrReuse registers *c, or, when it is there already (RegisterMetrics
// was called, or a second Announcer shares the registry: tests, a restart in
// process), points *c at the registered one.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	err := reg.Register(*c)
	var dup prometheus.AlreadyRegisteredError
	if err == nil || !errors.As(err, &dup) {
		return err
	}
	existing, ok := dup.ExistingCollector.(C)
	if !ok {
		return err
	}
	*c = existing
	return nil
}

// counters are one interface's counters for one protocol, bound once so the
// packet path does no label lookups.
type counters struct {
	requests, responses, gratuitous, malformed prometheus.Counter
}

func (m *metrics) bind(kind FrameKind, ifname string) counters {
	proto := string(kind)
	return counters{
		requests:   m.requests.WithLabelValues(proto, ifname),
		responses:  m.responses.WithLabelValues(proto, ifname),
		gratuitous: m.gratuitous.WithLabelValues(proto, ifname),
		malformed:  m.malformed.WithLabelValues(proto, ifname),
	}
}

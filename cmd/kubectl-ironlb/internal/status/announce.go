package status

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// service builds one Service's status.
func (s *Snapshot) service(svc *corev1.Service, pools poolIndex, announced announceIndex, unannounced map[string][]string) Service {
	out := Service{Namespace: svc.Namespace, Name: svc.Name}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			out.IPs = append(out.IPs, in.IP)
		}
	}
	out.Pool = pools.poolOf(svc, out.IPs)
	if c := meta.FindStatusCondition(svc.Status.Conditions, v1beta1.ConditionIPAllocated); c != nil {
		out.Allocated, out.Reason, out.Message = string(c.Status), c.Reason, c.Message
	} else {
		out.Reason = ReasonNotReconciled
		out.Message = "no " + v1beta1.ConditionIPAllocated + " condition yet: ironlb-controller has not handled it " +
			"(is it running, and does it handle this Service's spec.loadBalancerClass?)"
	}
	var l2, bgp []string
	if p := pools.byName[out.Pool]; p != nil {
		l2, bgp = s.advertising(p)
	}
	for _, ip := range out.IPs {
		out.Announcements = append(out.Announcements,
			announcementsOf(out.Key(), ip, out.Pool, len(l2) > 0, len(bgp) > 0, announced, unannounced[ip])...)
	}
	return out
}

// announcementsOf lists how one address is announced: by each protocol an
// advertisement of its pool asks for, and by any other its
// ServiceAnnouncement reports.
func announcementsOf(svc, ip, pool string, l2, bgp bool, announced announceIndex, unannounced []string) []Announcement {
	var out []Announcement
	reported := announced.reported[svc]
	for _, proto := range []string{Layer2, BGP} {
		nodes, seen := announced.nodes[announceKey{svc, canonicalIP(ip), proto}]
		expected := (proto == Layer2 && l2) || (proto == BGP && bgp)
		if !expected && !seen {
			continue
		}
		a := Announcement{IP: ip, Protocol: proto, Known: reported}
		if reported {
			a.Nodes = nodes
			if len(nodes) == 0 {
				a.Problems = append(a.Problems, "no eligible node: none is Ready with a live speaker and matching the advertisement's "+
					"nodeSelectors (under externalTrafficPolicy Local, none also has a ready endpoint)")
			}
		}
		if !expected {
			a.Problems = append(a.Problems, "no advertisement selects pool "+pool+" for "+proto+" any more")
		}
		if proto == Layer2 {
			a.Problems = append(a.Problems, unannounced...)
		}
		out = append(out, a)
	}
	if len(out) == 0 && pool != "" {
		out = append(out, Announcement{IP: ip, Protocol: "none", Known: true, Problems: []string{
			"no L2Advertisement or BGPAdvertisement selects pool " + pool + ": nothing announces it"}})
	}
	return out
}

// unannouncedByIP collects, from L2Advertisement status.nodes, why a node
// that owns an address cannot announce it.
func unannouncedByIP(advs []v1beta1.L2Advertisement) map[string][]string {
	out := map[string][]string{}
	for i := range advs {
		for _, n := range advs[i].Status.Nodes {
			for _, u := range n.Unannounced {
				note := fmt.Sprintf("node %s owns it but cannot announce it: %s", n.Node, u.Reason)
				if !slices.Contains(out[u.IP], note) {
					out[u.IP] = append(out[u.IP], note)
				}
			}
		}
	}
	return out
}

// announceKey is an address of a Service and a protocol.
type announceKey struct{ svc, ip, proto string }

// announceIndex holds what the ServiceAnnouncements say: per Service,
// address and protocol, the nodes announcing it, and which Services have
// an object at all (the speakers delete it when none of a Service's
// addresses is announced).
type announceIndex struct {
	nodes    map[announceKey][]string
	reported map[string]bool // "namespace/name"
}

func announcements(objs []v1beta1.ServiceAnnouncement) announceIndex {
	out := announceIndex{nodes: map[announceKey][]string{}, reported: map[string]bool{}}
	for i := range objs {
		sa := &objs[i]
		svc := sa.Namespace + "/" + sa.Name
		out.reported[svc] = true
		for _, a := range sa.Status.Layer2 {
			out.nodes[announceKey{svc, canonicalIP(a.IP), Layer2}] = []string{a.Node}
		}
		for _, a := range sa.Status.BGP {
			out.nodes[announceKey{svc, canonicalIP(a.IP), BGP}] = a.Nodes
		}
	}
	return out
}

// canonicalIP writes an address the way Service status does, so that an
// ServiceAnnouncement's address finds its Service.
func canonicalIP(s string) string {
	if ip, err := parseIP(s); err == nil {
		return ip.String()
	}
	return s
}

func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	return ip.Unmap(), err
}

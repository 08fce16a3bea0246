// Package status is `kubectl ironlb status`: IronLB's state as one report,
// pools → addresses → Services → announcing nodes, BGP sessions per node,
// and what is pending and why. Build is a plain function of the objects read
// (a Snapshot) so that every rule is table-tested without a cluster; the
// command only fetches and prints.
//
// Sources, all written by IronLB itself: IPAddressPool status (usage and
// Ready), Service status, the ironlb.io/IPAllocated condition and the
// ironlb.io/ip-allocated-from-pool annotation (the controller),
// L2Advertisement status.nodes (addresses a node owns but cannot announce),
// BGPPeer status.sessions, and the ServiceAnnouncements the speakers keep
// per announced Service (which node announces each address, by protocol).
package status

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/api/iprange"
	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
)

// Snapshot is what Build reads.
type Snapshot struct {
	Pools             []v1beta1.IPAddressPool
	Services          []corev1.Service
	L2Advertisements  []v1beta1.L2Advertisement
	BGPAdvertisements []v1beta1.BGPAdvertisement
	Peers             []v1beta1.BGPPeer
	// Announcements are the ServiceAnnouncements: who announces each
	// Service's addresses.
	Announcements []v1beta1.ServiceAnnouncement
	// Class is the controller's --load-balancer-class and --default-class:
	// which Services are IronLB's.
	Class v1beta1.ClassFilter
}

// Status is IronLB's state, as `kubectl ironlb status -o yaml` prints it.
type Status struct {
	Pools    []Pool    `json:"pools"`
	Services []Service `json:"services"`
	Peers    []Peer    `json:"bgpPeers"`
	// OtherClass counts the LoadBalancer Services of another class, which
	// IronLB leaves alone.
	OtherClass int `json:"otherClassServices,omitempty"`
}

// Pool is one IPAddressPool.
type Pool struct {
	Name      string   `json:"name"`
	Ready     string   `json:"ready"` // "True", "False" or "Unknown"
	Reason    string   `json:"reason,omitempty"`
	Message   string   `json:"message,omitempty"`
	Addresses []string `json:"addresses"`
	IPv4      Usage    `json:"ipv4"`
	IPv6      Usage    `json:"ipv6"`
	// Services are the Services holding addresses of the pool,
	// "namespace/name".
	Services []string `json:"services,omitempty"`
	// L2Advertisements and BGPAdvertisements announce the pool.
	L2Advertisements  []string `json:"l2Advertisements,omitempty"`
	BGPAdvertisements []string `json:"bgpAdvertisements,omitempty"`
}

// Usage counts a pool's addresses of one family. Free is an exact decimal
// string: an IPv6 pool may hold more than an int64 counts.
type Usage struct {
	Used int64  `json:"used"`
	Free string `json:"free"`
}

// Service is one LoadBalancer Service of IronLB's class.
type Service struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	IPs       []string `json:"ips,omitempty"`
	Pool      string   `json:"pool,omitempty"`
	// Allocated is the status of the ironlb.io/IPAllocated condition, ""
	// when the controller has not written it.
	Allocated string `json:"allocated"`
	// Reason and Message are the condition's, or say why it is missing.
	Reason        string         `json:"reason,omitempty"`
	Message       string         `json:"message,omitempty"`
	Announcements []Announcement `json:"announcements,omitempty"`
}

// Pending reports whether the Service waits for an address, or did not get
// what it asks for.
func (s *Service) Pending() bool { return s.Allocated != string(metav1.ConditionTrue) }

// Key is "namespace/name".
func (s *Service) Key() string { return s.Namespace + "/" + s.Name }

// Protocols of an Announcement.
const (
	Layer2 = "layer2"
	BGP    = "bgp"
)

// Announcement is how one address of a Service reaches the network by one
// protocol.
type Announcement struct {
	IP       string `json:"ip"`
	Protocol string `json:"protocol"`
	// Nodes announce the address; empty when none does, or when unknown
	// (see Known).
	Nodes []string `json:"nodes,omitempty"`
	// Known is false when the Service has no ServiceAnnouncement: no
	// speaker announces any of its addresses, or none is running.
	Known bool `json:"known"`
	// Since is unused: ServiceAnnouncements do not record when the nodes
	// took over. Kept so that `-o yaml` output keeps its shape.
	Since *metav1.Time `json:"since,omitempty"`
	// Problems say why the address is not (fully) announced.
	Problems []string `json:"problems,omitempty"`
}

// Peer is one BGPPeer and its session on each node.
type Peer struct {
	Name     string    `json:"name"`
	Address  string    `json:"address"`
	MyASN    uint32    `json:"myASN"`
	PeerASN  uint32    `json:"peerASN"`
	Sessions []Session `json:"sessions,omitempty"`
}

// Session is one node's BGP session to a peer.
type Session struct {
	Node    string       `json:"node"`
	State   string       `json:"state"`
	Message string       `json:"message,omitempty"`
	Since   *metav1.Time `json:"since,omitempty"`
}

// ReasonNotReconciled is the reason status gives a Service of IronLB's
// class without the ironlb.io/IPAllocated condition.
const ReasonNotReconciled = "NotReconciled"

// Build turns a snapshot into the status; namespace, when not empty, keeps
// only the Services of that namespace.
func Build(s Snapshot, namespace string) Status {
	var out Status
	pools := s.poolIndex()
	announced := announcements(s.Announcements)
	unannounced := unannouncedByIP(s.L2Advertisements)
	byPool := map[string][]string{}
	for i := range s.Services {
		svc := &s.Services[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || (namespace != "" && svc.Namespace != namespace) {
			continue
		}
		if !s.Class.Handles(svc) && meta.FindStatusCondition(svc.Status.Conditions, v1beta1.ConditionIPAllocated) == nil {
			out.OtherClass++
			continue
		}
		st := s.service(svc, pools, announced, unannounced)
		if st.Pool != "" {
			byPool[st.Pool] = append(byPool[st.Pool], st.Key())
		}
		out.Services = append(out.Services, st)
	}
	slices.SortFunc(out.Services, func(a, b Service) int { return strings.Compare(a.Key(), b.Key()) })
	for i := range s.Pools {
		out.Pools = append(out.Pools, s.pool(&s.Pools[i], byPool))
	}
	slices.SortFunc(out.Pools, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	for i := range s.Peers {
		out.Peers = append(out.Peers, peer(&s.Peers[i]))
	}
	slices.SortFunc(out.Peers, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Snapshot) pool(p *v1beta1.IPAddressPool, byPool map[string][]string) Pool {
	out := Pool{
		Name:      p.Name,
		Ready:     string(metav1.ConditionUnknown),
		Addresses: p.Spec.Addresses,
		IPv4:      Usage{Used: p.Status.AssignedIPv4, Free: strconv.FormatInt(p.Status.AvailableIPv4, 10)},
		IPv6:      Usage{Used: p.Status.AssignedIPv6, Free: cmp.Or(p.Status.AvailableIPv6, "0")},
		Services:  byPool[p.Name],
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionReady); c != nil {
		out.Ready, out.Reason, out.Message = string(c.Status), c.Reason, c.Message
	}
	slices.Sort(out.Services)
	out.L2Advertisements, out.BGPAdvertisements = s.advertising(p)
	return out
}

// advertising returns the advertisements that select p, by the rule the
// speaker applies (validation.SelectsPool).
func (s *Snapshot) advertising(p *v1beta1.IPAddressPool) (l2, bgp []string) {
	for i := range s.L2Advertisements {
		a := &s.L2Advertisements[i]
		if selects(a.Spec.IPAddressPools, a.Spec.IPAddressPoolSelectors, p) {
			l2 = append(l2, a.Name)
		}
	}
	for i := range s.BGPAdvertisements {
		a := &s.BGPAdvertisements[i]
		if selects(a.Spec.IPAddressPools, a.Spec.IPAddressPoolSelectors, p) {
			bgp = append(bgp, a.Name)
		}
	}
	slices.Sort(l2)
	slices.Sort(bgp)
	return l2, bgp
}

func selects(names []string, selectors []metav1.LabelSelector, p *v1beta1.IPAddressPool) bool {
	sels := make([]labels.Selector, 0, len(selectors))
	for i := range selectors {
		sel, err := metav1.LabelSelectorAsSelector(&selectors[i])
		if err != nil {
			sel = labels.Nothing() // the speaker refuses it the same way
		}
		sels = append(sels, sel)
	}
	return validation.SelectsPool(names, sels, p.Name, p.Labels)
}

// poolIndex holds each pool and its parsed entries, to find the pool of
// an address when a Service lacks the pool annotation.
type poolIndex struct {
	byName map[string]*v1beta1.IPAddressPool
	ranges []poolRange
}

type poolRange struct {
	pool string
	r    iprange.Range
}

func (s *Snapshot) poolIndex() poolIndex {
	idx := poolIndex{byName: map[string]*v1beta1.IPAddressPool{}}
	for i := range s.Pools {
		p := &s.Pools[i]
		idx.byName[p.Name] = p
		for _, a := range p.Spec.Addresses {
			if r, err := iprange.Parse(a); err == nil {
				idx.ranges = append(idx.ranges, poolRange{p.Name, r})
			}
		}
	}
	return idx
}

// poolOf is the pool a Service's addresses come from: the one the
// controller's annotation names, else the one containing its first address.
func (idx poolIndex) poolOf(svc *corev1.Service, ips []string) string {
	if p := svc.Annotations[v1beta1.AnnotationAllocatedFromPool]; p != "" {
		return p
	}
	for _, s := range ips {
		for _, r := range idx.ranges {
			if ip, err := parseIP(s); err == nil && r.r.Contains(ip) {
				return r.pool
			}
		}
	}
	return ""
}

func peer(p *v1beta1.BGPPeer) Peer {
	out := Peer{Name: p.Name, Address: p.Spec.PeerAddress, MyASN: p.Spec.MyASN, PeerASN: p.Spec.PeerASN}
	for _, s := range p.Status.Sessions {
		sess := Session{Node: s.Node, State: s.State, Message: s.Message}
		if !s.LastTransitionTime.IsZero() {
			sess.Since = s.LastTransitionTime.DeepCopy()
		}
		out.Sessions = append(out.Sessions, sess)
	}
	slices.SortFunc(out.Sessions, func(a, b Session) int { return strings.Compare(a.Node, b.Node) })
	return out
}

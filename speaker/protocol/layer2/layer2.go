// Package layer2 is layer-2 announcement as the speaker drives it: it reads
// L2Advertisements into the decision, hands this node's share (the addresses
// it won, with their interfaces) to the ARP/NDP responder of speaker/layer2,
// and writes L2Advertisement status: matchedPools and Ready (advertisement.go),
// this node's entry of status.nodes and the Announced condition that sums the
// entries up (nodes.go). The owner of each address is elected in
// speaker/announce (layer2.go there).
package layer2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/speaker/announce"
	"github.com/ironlb/ironlb/speaker/protocol"
)

// Name labels layer 2 in ironlb_announced{protocol}.
const Name = "layer2"

// Announcer answers ARP/NDP for the addresses it is given
// (*layer2.Announcer of speaker/layer2).
type Announcer interface {
	// SetOwned replaces the addresses this node answers for, each with the
	// interfaces to answer on (nil: automatic).
	SetOwned(owned map[netip.Addr][]string)
	// Unannounced returns the owned addresses no interface could carry at
	// the last interface scan, with why: for the status.nodes entry.
	Unannounced() map[netip.Addr]string
}

// OwnedUpdater is an Announcer that takes a change of some addresses
// without the whole set (*layer2.Announcer of speaker/layer2). An
// Announcer that is not one is handed the whole set at every change.
type OwnedUpdater interface {
	// UpdateOwned answers for the addresses of set, with their
	// interfaces, and no longer for those of drop, leaving the others as
	// they are.
	UpdateOwned(set map[netip.Addr][]string, drop []netip.Addr)
}

// Protocol announces this node's layer-2 share through an Announcer.
type Protocol struct {
	announcer Announcer
	env       protocol.Env
	reader    client.Reader // the informer cache
	writer    client.Client // status writes go straight to the API server
	log       logr.Logger

	// advertisements are the L2Advertisements of the decision being made:
	// written by Read, used by Apply (the decision goroutine).
	advertisements []advertisement
	// owned is what the announcer was last handed: the addresses this
	// node answers for, with their interfaces; nil before the first
	// Apply. Used by Apply only.
	owned map[netip.Addr][]string
	// applied is the decision of the last Apply, from which the status loop
	// looks up the advertisements of the few addresses it reports. A Result
	// is never modified, so it is shared as it is: no per-Apply copy of
	// this node's addresses.
	applied atomic.Pointer[appliedDecision]
}

// appliedDecision is a decision as applied by one node.
type appliedDecision struct {
	result announce.Result
	node   string
}

var _ protocol.Protocol = (*Protocol)(nil)

// New returns layer 2 driving a.
func New(a Announcer) *Protocol { return &Protocol{announcer: a} }

// Name implements protocol.Protocol.
func (*Protocol) Name() string { return Name }

// Setup implements protocol.Protocol: L2Advertisement spec changes
// recompute, and the status.nodes loop runs beside the manager.
func (p *Protocol) Setup(mgr manager.Manager, env protocol.Env) ([]protocol.Watch, error) {
	p.env, p.log = env, env.Log
	p.reader, p.writer = mgr.GetCache(), mgr.GetClient()
	if err := mgr.Add(manager.RunnableFunc(p.runNodeStatus)); err != nil {
		return nil, err
	}
	return []protocol.Watch{{
		Object:     &v1beta1.L2Advertisement{},
		Predicates: []predicate.Predicate{predicate.GenerationChangedPredicate{}},
	}}, nil
}

// Read implements protocol.Protocol. The objects are the cache's own (no
// deep copy): they are only read.
func (p *Protocol) Read(ctx context.Context, in *announce.Input) error {
	var list v1beta1.L2AdvertisementList
	if err := p.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing L2Advertisements from cache: %w", err)
	}
	p.advertisements = p.advertisements[:0]
	for i := range list.Items {
		a := parse(&list.Items[i])
		p.advertisements = append(p.advertisements, a)
		in.L2Advertisements = append(in.L2Advertisements, a.adv)
	}
	return nil
}

// Apply implements protocol.Protocol: the announcer answers for the
// addresses this node won, and nothing else. Unless d.All, only the
// addresses of d.Changed are looked at (see applyChanged).
func (p *Protocol) Apply(ctx context.Context, d protocol.Decision) error {
	if d.All || d.Isolated || p.owned == nil {
		p.applyAll(d)
	} else {
		p.applyChanged(d)
	}
	if !d.WritesShared {
		return nil
	}
	var errs []error
	for _, a := range p.advertisements {
		errs = append(errs, a.writeStatus(ctx, p.writer, d.Input.Pools))
	}
	return errors.Join(errs...)
}

// applyAll hands the announcer every address this node won. O(addresses
// of the cluster).
func (p *Protocol) applyAll(d protocol.Decision) {
	owned := d.Result.L2Owned(d.Node)
	p.announcer.SetOwned(owned)
	p.owned = maps.Clone(owned)
	p.applied.Store(&appliedDecision{result: d.Result, node: d.Node})
}

// applyChanged updates what this node answers for at the addresses of
// d.Changed only: those it won are set again (the announcer ignores an
// unchanged one), those it held and lost are dropped. It costs
// O(len(d.Changed)).
func (p *Protocol) applyChanged(d protocol.Decision) {
	p.applied.Store(&appliedDecision{result: d.Result, node: d.Node})
	set := map[netip.Addr][]string{}
	var drop []netip.Addr
	for _, ip := range d.Changed {
		if a, ok := d.Result.L2At(ip); ok && a.Node == d.Node {
			set[ip] = a.Interfaces
		} else if _, had := p.owned[ip]; had {
			drop = append(drop, ip)
		}
	}
	if len(set) == 0 && len(drop) == 0 {
		return
	}
	for _, ip := range drop {
		delete(p.owned, ip)
	}
	for ip, ifs := range set {
		p.owned[ip] = ifs
	}
	if u, ok := p.announcer.(OwnedUpdater); ok {
		u.UpdateOwned(set, drop)
	} else {
		p.announcer.SetOwned(maps.Clone(p.owned))
	}
}

// advertisementsOf names the L2Advertisements under which this node answers
// for ip in the last decision applied: those selecting this node and the
// address's pool, where a problem announcing ip shows. None when this node
// does not own ip, or before the first Apply.
func (p *Protocol) advertisementsOf(ip netip.Addr) []string {
	d := p.applied.Load()
	if d == nil {
		return nil
	}
	if a, ok := d.result.L2At(ip); !ok || a.Node != d.node {
		return nil
	}
	return d.result.L2Advertisements(ip)
}

// Announcers implements protocol.Protocol: each address has one owner.
func (*Protocol) Announcers(res announce.Result) map[netip.Addr][]string {
	out := make(map[netip.Addr][]string, res.LenL2())
	for ip, a := range res.AllL2() {
		out[ip] = []string{a.Node}
	}
	return out
}

// AnnouncersAt implements protocol.Protocol.
func (*Protocol) AnnouncersAt(res announce.Result, ip netip.Addr) []string {
	if a, ok := res.L2At(ip); ok {
		return []string{a.Node}
	}
	return nil
}

// EventNote implements protocol.Protocol.
func (*Protocol) EventNote(ip netip.Addr, was, now []string) string {
	if len(now) == 0 {
		return fmt.Sprintf("%s is no longer announced by layer 2 (was node %s): no eligible node", ip, strings.Join(was, ", "))
	}
	note := fmt.Sprintf("Announcing %s by layer 2 from node %s", ip, strings.Join(now, ", "))
	if len(was) > 0 {
		note += fmt.Sprintf(", taking over from node %s", strings.Join(was, ", "))
	}
	return note
}

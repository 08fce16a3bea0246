package speaker

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// changes collects what the watches saw change between two decisions: the
// Services to read again, and whether anything cluster-wide (a Node, a pool,
// an advertisement, a peer) changed. The watch handlers add to it; Reconcile
// takes it whole, so a burst of changes is read once.
type changes struct {
	mu       sync.Mutex
	cluster  bool
	services map[types.NamespacedName]struct{}
}

// pending is what Reconcile took: read it, and give it back when the read
// failed so that nothing is lost.
type pending struct {
	cluster  bool
	services map[types.NamespacedName]struct{}
}

func newChanges() *changes {
	// The first decision reads everything.
	return &changes{cluster: true, services: map[types.NamespacedName]struct{}{}}
}

// service marks one Service to be read again.
func (c *changes) service(key types.NamespacedName) {
	c.mu.Lock()
	c.services[key] = struct{}{}
	c.mu.Unlock()
}

// clusterWide marks the cluster-wide part to be read again.
func (c *changes) clusterWide() {
	c.mu.Lock()
	c.cluster = true
	c.mu.Unlock()
}

// take returns what changed and starts collecting anew.
func (c *changes) take() pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := pending{cluster: c.cluster, services: c.services}
	c.cluster, c.services = false, map[types.NamespacedName]struct{}{}
	return p
}

// giveBack merges p into what was collected since it was taken.
func (c *changes) giveBack(p pending) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cluster = c.cluster || p.cluster
	for k := range p.services {
		c.services[k] = struct{}{}
	}
}

//go:build lab

package bgp_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/ironlb/ironlb/speaker/bfd"
	"github.com/ironlb/ironlb/speaker/bgp"
	bgpprotocol "github.com/ironlb/ironlb/speaker/protocol/bgp"
)

// agentBFD runs BFD sessions beside the agent's BGP sessions, wired as
// ironlb-speaker wires them (speaker/protocol/bgp): a session that goes
// down resets the BGP session it guards.
type agentBFD struct {
	m *bfd.Manager

	mu     sync.Mutex
	guards map[bfd.SessionKey]string // BGP peer name by BFD session
}

func startAgentBFD(sp *bgp.Speaker, log logr.Logger) (*agentBFD, error) {
	if sp == nil {
		return nil, fmt.Errorf("start the speaker first")
	}
	a := &agentBFD{guards: map[bfd.SessionKey]string{}}
	m, err := bfd.New(bfd.Options{Logger: log.WithName("bfd"), OnStateChange: func(c bfd.StateChange) {
		log.Info("BFD state change", "session", c.Key.String(), "from", c.From.String(), "to", c.To.String(), "diag", c.Diag.String())
		if !bgpprotocol.ResetsBGP(c) {
			return
		}
		a.mu.Lock()
		name, ok := a.guards[c.Key]
		a.mu.Unlock()
		if ok {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = sp.ResetPeer(ctx, name, fmt.Sprintf("BFD session to %s went down (%s): BGP session reset", c.Key, c.Diag))
		}
	}})
	if err != nil {
		return nil, err
	}
	a.m = m
	return a, nil
}

// set adds the sessions of peers (by BGP peer name).
func (a *agentBFD) set(peers map[string]bfd.Peer) error {
	for name, p := range peers {
		a.mu.Lock()
		a.guards[p.Key()] = name
		a.mu.Unlock()
		if err := a.m.Add(p); err != nil {
			return err
		}
	}
	return nil
}

// states are the sessions' states by BGP peer name.
func (a *agentBFD) states() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]string{}
	for _, s := range a.m.Sessions() {
		if name, ok := a.guards[s.Peer.Key()]; ok {
			out[name] = s.State.String()
		}
	}
	return out
}

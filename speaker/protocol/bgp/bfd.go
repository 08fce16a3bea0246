package bgp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/api/v1beta1/validation"
	"github.com/ironlb/ironlb/speaker/bfd"
	bgpspeaker "github.com/ironlb/ironlb/speaker/bgp"
)

// BFD runs BFD sessions (*bfd.Manager of speaker/bfd).
type BFD interface {
	Add(p bfd.Peer) error
	Remove(key bfd.SessionKey) error
}

// resetTimeout bounds the BGP reset a BFD Down triggers.
const resetTimeout = 5 * time.Second

// UseBFD makes the BGPPeers with spec.bfdProfile run a BFD session beside
// their BGP session, on b. The Manager behind b must pass its state changes
// to BFDStateChanged. Call it before the manager starts; without it,
// spec.bfdProfile is ignored.
func (p *Protocol) UseBFD(b BFD) { p.bfd = b }

// bfdSessions are the BFD sessions the configured peers ask for: the
// session key, the peer it guards (by name) and how to run it. A peer whose
// profile is missing or invalid, or that runs in a VRF, gets none, and the
// reason is returned by peer name (its BGP session runs all the same: BFD
// only speeds up failure detection).
func bfdSessions(peers []bgpspeaker.Peer, specs map[string]*v1beta1.BGPPeerSpec, profiles []v1beta1.BFDProfile) (map[bfd.SessionKey]bfdSession, map[string]string) {
	byName := make(map[string]*v1beta1.BFDProfileSpec, len(profiles))
	for i := range profiles {
		byName[profiles[i].Name] = &profiles[i].Spec
	}
	out := map[bfd.SessionKey]bfdSession{}
	problems := map[string]string{}
	for _, peer := range peers {
		spec := specs[peer.Name]
		if spec == nil || spec.BFDProfile == "" {
			continue
		}
		prof, ok := byName[spec.BFDProfile]
		if !ok {
			problems[peer.Name] = fmt.Sprintf("BFDProfile %q not found: no BFD session runs", spec.BFDProfile)
			continue
		}
		settings, errs := validation.BFDProfileSettings(prof)
		if len(errs) > 0 {
			problems[peer.Name] = fmt.Sprintf("BFDProfile %q is invalid (%v): no BFD session runs", spec.BFDProfile, errs.ToAggregate())
			continue
		}
		if peer.VRF != "" {
			// speaker/bfd matches received packets by the interface they
			// arrive on, which is the VRF's member, not the VRF device.
			problems[peer.Name] = "BFD in a VRF is not supported: no BFD session runs"
			continue
		}
		bp := bfd.Peer{Addr: peer.Address, LocalAddr: peer.SourceAddress, Profile: bfd.Profile{
			ReceiveInterval:  settings.ReceiveInterval,
			TransmitInterval: settings.TransmitInterval,
			DetectMultiplier: settings.DetectMultiplier,
			PassiveMode:      settings.PassiveMode,
		}}
		out[bp.Key()] = bfdSession{peer: peer.Name, bfd: bp}
	}
	return out, problems
}

// bfdSession is one BFD session and the BGP peer it guards.
type bfdSession struct {
	peer string
	bfd  bfd.Peer
}

// applyBFD makes the running BFD sessions those the configured peers ask
// for: new and changed ones are added (a changed profile applies in
// place), the others removed (they say AdminDown first, so the router does
// not take it for a path failure).
func (p *Protocol) applyBFD(peers []bgpspeaker.Peer) error {
	if p.bfd == nil {
		return nil
	}
	specs := make(map[string]*v1beta1.BGPPeerSpec, len(p.peers))
	for i := range p.peers {
		specs[p.peers[i].Name] = &p.peers[i].Spec
	}
	wanted, problems := bfdSessions(peers, specs, p.bfdProfiles)
	p.mu.Lock()
	old := p.bfdRunning
	p.bfdRunning = wanted
	p.mu.Unlock()
	p.logBFDProblems(problems)
	var errs []error
	for _, key := range slices.SortedFunc(maps.Keys(old), compareKeys) {
		if _, keep := wanted[key]; !keep {
			if err := p.bfd.Remove(key); err != nil && !errors.Is(err, bfd.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	for _, key := range slices.SortedFunc(maps.Keys(wanted), compareKeys) {
		if prev, ok := old[key]; ok && prev == wanted[key] {
			continue
		}
		if err := p.bfd.Add(wanted[key].bfd); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func compareKeys(a, b bfd.SessionKey) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return strings.Compare(a.Interface, b.Interface)
}

// logBFDProblems logs the peers that run without BFD, once per change.
func (p *Protocol) logBFDProblems(now map[string]string) {
	for name, msg := range now {
		if p.lastBFDProblems[name] != msg {
			p.log.Error(errors.New(msg), "BGPPeer runs without BFD", "peer", name)
		}
	}
	p.lastBFDProblems = now
}

// BFDStateChanged is the bfd.Options.OnStateChange of the Manager given to
// UseBFD. When a session goes from Up to Down, the BGP session it guards is
// reset at once: our routes leave the router now, not when its hold timer
// expires (RFC 5882 section 4.3). A Down the router asked for with
// AdminDown is no path failure (RFC 5882 section 3.2) and is ignored, as
// are sessions coming up: BGP does not wait for BFD to start.
func (p *Protocol) BFDStateChanged(c bfd.StateChange) {
	if !ResetsBGP(c) {
		return
	}
	p.mu.Lock()
	s, ok := p.bfdRunning[c.Key]
	p.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
	defer cancel()
	reason := fmt.Sprintf("BFD session to %s went down (%s): BGP session reset", c.Key, c.Diag)
	if err := p.speaker.ResetPeer(ctx, s.peer, reason); err != nil {
		p.log.Error(err, "Resetting the BGP session after BFD went down", "peer", s.peer)
	}
}

// ResetsBGP reports whether a BFD state change means the path failed, so
// the BGP session it guards must be reset (see BFDStateChanged).
func ResetsBGP(c bfd.StateChange) bool {
	return c.From == bfd.StateUp && c.To == bfd.StateDown && c.RemoteDiag != bfd.DiagAdministrativelyDown
}

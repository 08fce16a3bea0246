package bgp

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// Peer is one BGP neighbour of this node, as the BGPPeer that selects it says.
type Peer struct {
	// Name is the BGPPeer object name; Route.Peers and Sessions use it.
	Name  string
	MyASN uint32
	// PeerASN is the router's ASN; 0 when DynamicASN says which ASNs to
	// accept instead.
	PeerASN uint32
	// DynamicASN, when set, accepts the router's ASN from its OPEN message:
	// DynamicInternal only MyASN, DynamicExternal any other.
	DynamicASN DynamicASN
	Address    netip.Addr
	// Port is the peer's TCP port; 0 means 179.
	Port uint16
	// SourceAddress is the local address the session is dialled from; the
	// zero value lets the kernel choose.
	SourceAddress netip.Addr
	// RouterID is the BGP identifier; the zero value means Options.RouterID.
	RouterID netip.Addr
	// HoldTime 0 means the default of 90 s: GoBGP's API cannot configure a
	// session without a hold timer (it turns a configured 0 into 90), so
	// the wiring refuses a BGPPeer asking for 0 rather than pass it here.
	// KeepaliveTime 0 means a third of the hold time.
	HoldTime, KeepaliveTime time.Duration
	// ConnectTime is the interval between dials to a peer that is down
	// (BGP's ConnectRetryTimer); 0 means 5 s.
	ConnectTime     time.Duration
	EBGPMultiHop    bool
	GracefulRestart bool
	// DisableMP negotiates only the address family of Address (one session
	// per family) instead of IPv4 and IPv6 unicast over one session.
	DisableMP bool
	// VRF is the Linux VRF device the session is dialled in (the socket is
	// bound to it, SO_BINDTODEVICE); "" is the default VRF.
	VRF string
	// Password is the TCP MD5 signature key (RFC 2385); "" means none.
	Password string
}

// DynamicASN is which router ASNs a peer without PeerASN accepts.
type DynamicASN string

// The values of DynamicASN.
const (
	// DynamicInternal accepts MyASN only: an iBGP session.
	DynamicInternal DynamicASN = "internal"
	// DynamicExternal accepts any ASN but MyASN: an eBGP session.
	DynamicExternal DynamicASN = "external"
)

// ErrInvalidPeer is wrapped by the errors SetPeers returns for peers it
// refuses to configure.
var ErrInvalidPeer = errors.New("invalid BGP peer")

const (
	// defaultConnectTime is the time between dials to a peer that is down
	// when Peer.ConnectTime is 0. GoBGP waits this long plus up to as much
	// again of random jitter, so speakers restarted together do not dial in
	// lockstep. GoBGP's default (120 s) would leave a node without routes
	// for minutes after a router reboot.
	defaultConnectTime = 5 * time.Second
	// restartTime is the graceful-restart time we advertise: how long the
	// router keeps our routes after the session is lost. 120 s is the
	// common router default, long enough for a speaker pod to restart.
	restartTime = 120
	// multihopTTL is the TTL of eBGP multihop sessions: any distance.
	multihopTTL = 255
	defaultPort = 179
	minHoldTime = 3 * time.Second // RFC 4271 4.2: 0 or at least 3 s
	maxBGPTimer = 65535 * time.Second
)

// peerConfig is a Peer after defaults and validation: the form two peers are
// compared in to decide whether a session must be reset. It is comparable.
type peerConfig struct {
	MyASN, PeerASN          uint32
	DynamicASN              DynamicASN
	Address                 netip.Addr
	Port                    uint16
	SourceAddress           netip.Addr
	RouterID                netip.Addr
	HoldTime, KeepaliveTime time.Duration
	ConnectTime             time.Duration
	EBGPMultiHop            bool
	GracefulRestart         bool
	DisableMP               bool
	VRF                     string
	Password                string
}

// normalizePeer validates p and fills in its defaults.
func normalizePeer(p Peer, defaultRouterID netip.Addr) (peerConfig, error) {
	c := peerConfig{
		MyASN:           p.MyASN,
		PeerASN:         p.PeerASN,
		DynamicASN:      p.DynamicASN,
		Address:         p.Address.Unmap(),
		Port:            p.Port,
		SourceAddress:   p.SourceAddress.Unmap(),
		RouterID:        p.RouterID.Unmap(),
		HoldTime:        p.HoldTime,
		KeepaliveTime:   p.KeepaliveTime,
		ConnectTime:     p.ConnectTime,
		EBGPMultiHop:    p.EBGPMultiHop,
		GracefulRestart: p.GracefulRestart,
		DisableMP:       p.DisableMP,
		VRF:             p.VRF,
		Password:        p.Password,
	}
	if c.Port == 0 {
		c.Port = defaultPort
	}

	if !c.RouterID.IsValid() {
		c.RouterID = defaultRouterID.Unmap()
	}
	if err := c.validate(); err != nil {
		return peerConfig{}, fmt.Errorf("%w %q: %w", ErrInvalidPeer, p.Name, err)
	}
	return c, nil
}

func (c peerConfig) validate() error {
	switch {
	case c.MyASN == 0:
		return errors.New("myASN must not be 0")
	case c.PeerASN == 0 && c.DynamicASN == "":
		return errors.New("peerASN must not be 0")
	case c.PeerASN != 0 && c.DynamicASN != "":
		return errors.New("peerASN and dynamicASN must not both be set")
	case c.DynamicASN != "" && c.DynamicASN != DynamicInternal && c.DynamicASN != DynamicExternal:
		return fmt.Errorf("dynamicASN %q is neither internal nor external", c.DynamicASN)
	case !c.Address.IsValid() || c.Address.IsUnspecified():
		return errors.New("peer address is missing")
	case c.SourceAddress.IsValid() && c.SourceAddress.Is4() != c.Address.Is4():
		return fmt.Errorf("source address %s and peer address %s are of different families", c.SourceAddress, c.Address)
	case !c.RouterID.Is4():
		// The BGP identifier is four octets (RFC 4271 4.2), also on IPv6-only nodes.
		return fmt.Errorf("router ID %v is not an IPv4 address", c.RouterID)
	case c.HoldTime < 0 || c.HoldTime%time.Second != 0:
		return fmt.Errorf("hold time %s is not a whole number of seconds", c.HoldTime)
	case c.HoldTime != 0 && c.HoldTime < minHoldTime:
		return fmt.Errorf("hold time %s is below 3s", c.HoldTime)
	case c.KeepaliveTime < 0 || c.KeepaliveTime%time.Second != 0:
		return fmt.Errorf("keepalive time %s is not a whole number of seconds", c.KeepaliveTime)
	case c.HoldTime != 0 && c.KeepaliveTime >= c.HoldTime:
		return fmt.Errorf("keepalive time %s is not below hold time %s", c.KeepaliveTime, c.HoldTime)
	case c.ConnectTime != 0 && (c.ConnectTime < time.Second || c.ConnectTime > maxBGPTimer || c.ConnectTime%time.Second != 0):
		return fmt.Errorf("connect time %s is not a whole number of seconds from 1s to 65535s", c.ConnectTime)
	case len(c.VRF) > 15 || strings.ContainsAny(c.VRF, "/: \t\n"):
		return fmt.Errorf("VRF %q is not a Linux interface name", c.VRF)
	}
	return nil
}

// isInternal reports whether the session is iBGP.
func (c peerConfig) isInternal() bool {
	if c.DynamicASN != "" {
		return c.DynamicASN == DynamicInternal
	}
	return c.MyASN == c.PeerASN
}

// apiPeerASN is the PeerAsn GoBGP is given. "internal" accepts exactly
// MyASN, which is what PeerAsn MyASN checks. "external" gives 0: GoBGP then
// accepts the router's ASN from its OPEN message, whatever it is, and the
// Speaker closes a session whose ASN turns out to be MyASN (see
// Speaker.peerEvent).
func (c peerConfig) apiPeerASN() uint32 {
	switch c.DynamicASN {
	case DynamicInternal:
		return c.MyASN
	case DynamicExternal:
		return 0
	}
	return c.PeerASN
}

// families are the address families the session negotiates: both unicast
// families (MP-BGP, RFC 4760), or with DisableMP that of the peer address.
func (c peerConfig) families() []*api.Family {
	switch {
	case !c.DisableMP:
		return []*api.Family{familyIPv4, familyIPv6}
	case c.Address.Is4():
		return []*api.Family{familyIPv4}
	}
	return []*api.Family{familyIPv6}
}

// normalizePeers validates every peer. Peers that are invalid, or that repeat
// the name or the address of a peer sorted before them, are left out and
// reported in rejected (by name, with the reason) and in the joined error;
// the others are returned by name.
func normalizePeers(peers []Peer, defaultRouterID netip.Addr) (map[string]peerConfig, map[string]string, error) {
	sorted := slices.Clone(peers)
	slices.SortStableFunc(sorted, func(a, b Peer) int { return cmp.Compare(a.Name, b.Name) })
	valid := make(map[string]peerConfig, len(sorted))
	rejected := map[string]string{}
	byAddr := map[netip.Addr]string{}
	names := map[string]int{}
	for _, p := range sorted {
		names[p.Name]++
	}
	var errs []error
	reject := func(name string, err error) {
		rejected[name] = err.Error()
		errs = append(errs, err)
	}
	for _, p := range sorted {
		if p.Name == "" {
			errs = append(errs, fmt.Errorf("%w: a peer has no name", ErrInvalidPeer))
			continue
		}
		if names[p.Name] > 1 {
			if _, done := rejected[p.Name]; !done {
				reject(p.Name, fmt.Errorf("%w %q: name given %d times", ErrInvalidPeer, p.Name, names[p.Name]))
			}
			continue
		}
		c, err := normalizePeer(p, defaultRouterID)
		if err != nil {
			reject(p.Name, err)
			continue
		}
		if other, dup := byAddr[c.Address]; dup {
			reject(p.Name, fmt.Errorf("%w %q: address %s is already used by peer %q", ErrInvalidPeer, p.Name, c.Address, other))
			continue
		}
		byAddr[c.Address] = p.Name
		valid[p.Name] = c
	}
	return valid, rejected, errors.Join(errs...)
}

// peerPlan is what SetPeers does to go from one peer set to the next.
type peerPlan struct {
	// Remove are the peers to delete, Add the peers to create. A changed
	// peer is in both: GoBGP resets a session on any change that matters
	// (timers, ASNs, password...), so a clean delete and add is as cheap
	// and leaves no half-applied configuration.
	Remove, Add []string
}

// diffPeers compares the applied peers with the wanted ones. Unchanged peers
// appear nowhere: their sessions are not touched.
func diffPeers(applied, wanted map[string]peerConfig) peerPlan {
	var plan peerPlan
	for name, old := range applied {
		if c, ok := wanted[name]; !ok || c != old {
			plan.Remove = append(plan.Remove, name)
		}
	}
	for name, c := range wanted {
		if old, ok := applied[name]; !ok || c != old {
			plan.Add = append(plan.Add, name)
		}
	}
	slices.Sort(plan.Remove)
	slices.Sort(plan.Add)
	return plan
}

var (
	familyIPv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	familyIPv6 = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

// apiPeer translates a peer into GoBGP's neighbour configuration.
func apiPeer(name string, c peerConfig) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: c.Address.String(),
			PeerAsn:         c.apiPeerASN(),
			LocalAsn:        c.MyASN,
			AuthPassword:    c.Password,
			Description:     name,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(cmp.Or(c.ConnectTime, defaultConnectTime) / time.Second),
			HoldTime:          uint64(c.HoldTime / time.Second),
			KeepaliveInterval: uint64(c.KeepaliveTime / time.Second),
		}},
		Transport: &api.Transport{RemotePort: uint32(c.Port), BindInterface: c.VRF},
	}
	if c.SourceAddress.IsValid() {
		p.Transport.LocalAddress = c.SourceAddress.String()
	}
	if c.EBGPMultiHop {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: multihopTTL}
	}
	if c.GracefulRestart {
		p.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: restartTime}
	}
	for _, f := range c.families() {
		af := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true}}
		if c.GracefulRestart {
			af.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
		}
		p.AfiSafis = append(p.AfiSafis, af)
	}
	return p
}

package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RouterConfig describes the FRR router's BGP setup.
type RouterConfig struct {
	// ASN of the router; default 64512.
	ASN uint32
	// Neighbors; default every node's IPv4 address in AS 64513 (eBGP).
	Neighbors []Neighbor
}

// Neighbor is one BGP neighbor of the router.
type Neighbor struct {
	Address netip.Addr
	ASN     uint32
	// Password enables TCP MD5 on the session.
	Password string
	// IPv6Unicast also activates the IPv6 unicast family on an IPv4 session
	// (IPv6 sessions always carry it, IPv4 sessions always carry IPv4).
	IPv6Unicast bool
}

// Default ASNs of the lab: the router, and the nodes in eBGP.
const (
	RouterASN = 64512
	NodeASN   = 64513
)

// Router is the FRR router namespace.
type Router struct {
	Host
	dir    string
	config string
}

// startRouter writes the FRR config and starts zebra and bgpd in the router
// namespace as user frr, each with its own state and vty socket directory.
func (l *Lab) startRouter(ctx context.Context) error {
	if l.Router == nil {
		return nil
	}
	r := l.Router
	cfg := *l.opts.Router
	if cfg.ASN == 0 {
		cfg.ASN = RouterASN
	}
	if len(cfg.Neighbors) == 0 {
		for _, n := range l.Nodes {
			cfg.Neighbors = append(cfg.Neighbors, Neighbor{Address: n.IPv4, ASN: NodeASN})
		}
	}
	r.dir = filepath.Join(l.Dir, "frr")
	r.config = filepath.Join(r.dir, "frr.conf")
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(r.config, []byte(frrConfig(r.IPv4, cfg)), 0o644); err != nil {
		return err
	}
	// Plain routes in the kernel, not nexthop objects: the next hops of a
	// route then come with the route itself (RouteWatcher reads them).
	zebraConfig := filepath.Join(r.dir, "zebra.conf")
	if err := os.WriteFile(zebraConfig, []byte("no zebra nexthop kernel enable\n"), 0o644); err != nil {
		return err
	}
	if err := chownFRR(r.dir, r.config, zebraConfig); err != nil {
		return err
	}
	daemons := []struct{ name, config string }{
		{"zebra", zebraConfig},
		{"bgpd", r.config},
	}
	for _, d := range daemons {
		// Foreground (no -d) so the daemons are our children and die with us.
		p, err := startProcess("frr "+d.name, filepath.Join(l.Dir, "frr-"+d.name+".log"), nil,
			"ip", "netns", "exec", r.Netns, "/usr/lib/frr/"+d.name,
			"-F", "datacenter", "-u", "frr", "-g", "frr", "--log", "stdout",
			"-i", filepath.Join(r.dir, d.name+".pid"),
			"--vty_socket", r.dir, "-z", filepath.Join(r.dir, "zserv.api"),
			"-f", d.config)
		if err != nil {
			return err
		}
		l.track(p)
		// bgpd connects to zebra's socket: start it once zebra answers.
		err = Poll(ctx, 30*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
			if p.exited() {
				return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, tail(p.logPath, 20))
			}
			_, err := r.vtysh(ctx, "-d", d.name, "-c", "show version")
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// chownFRR gives paths to user frr: FRR refuses to run as root.
func chownFRR(paths ...string) error {
	u, err := user.Lookup("frr")
	if err != nil {
		return fmt.Errorf("user frr (Debian package frr): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// frrConfig renders bgpd's configuration. The datacenter defaults give 3 s
// keepalives and immediate updates; multipath is on for ECMP across nodes.
func frrConfig(routerID netip.Addr, cfg RouterConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults datacenter\nhostname lab-router\n")
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n", cfg.ASN, routerID)
	b.WriteString(" no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n")
	b.WriteString(" bgp bestpath as-path multipath-relax\n")
	for _, n := range cfg.Neighbors {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n", n.Address, n.ASN)
		// Retry a failed connection every second, not every 10 s.
		fmt.Fprintf(&b, " neighbor %s timers connect 1\n", n.Address)
		if n.Password != "" {
			fmt.Fprintf(&b, " neighbor %s password %s\n", n.Address, n.Password)
		}
	}
	for _, af := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths 16\n  maximum-paths ibgp 16\n", af)
		for _, n := range cfg.Neighbors {
			if (af == "ipv4" && n.Address.Is4()) || (af == "ipv6" && (n.Address.Is6() || n.IPv6Unicast)) {
				fmt.Fprintf(&b, "  neighbor %s activate\n", n.Address)
			}
		}
		b.WriteString(" exit-address-family\n")
	}
	return b.String()
}

// vtysh runs vtysh against this router's daemons.
func (r *Router) vtysh(ctx context.Context, args ...string) (string, error) {
	return nsCommand(ctx, r.Netns, append([]string{"vtysh", "--vty_socket", r.dir}, args...)...)
}

// Vtysh runs vtysh commands ("show bgp summary", "configure terminal", ...)
// and returns their output.
func (r *Router) Vtysh(ctx context.Context, cmds ...string) (string, error) {
	args := make([]string, 0, 2*len(cmds))
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return r.vtysh(ctx, args...)
}

// VtyshJSON runs one "show ... json" command and decodes its output into v.
func (r *Router) VtyshJSON(ctx context.Context, cmd string, v any) error {
	out, err := r.Vtysh(ctx, cmd)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s: %w: %.300s", cmd, err, out)
	}
	return nil
}

// BGPRoute is what FRR holds for one prefix: the paths it learned and what
// zebra installed.
type BGPRoute struct {
	Prefix netip.Prefix
	Paths  []BGPPath
}

// BGPPath is one path of a prefix in FRR's BGP table.
type BGPPath struct {
	NextHop          string
	Best, Multipath  bool
	LocalPref        *uint32
	Communities      string // "64512:100 64512:200"
	LargeCommunities string // "64512:1:2"
	ASPath           string
}

// frrPath mirrors the fields of "show bgp ... <prefix> json" that tests use.
type frrPath struct {
	ASPath struct {
		String string `json:"string"`
	} `json:"aspath"`
	Multipath bool `json:"multipath"`
	Bestpath  *struct {
		Overall bool `json:"overall"`
	} `json:"bestpath"`
	LocPrf    *uint32 `json:"locPrf"`
	Community *struct {
		String string `json:"string"`
	} `json:"community"`
	LargeCommunity *struct {
		String string `json:"string"`
	} `json:"largeCommunity"`
	Nexthops []struct {
		IP string `json:"ip"`
	} `json:"nexthops"`
	Peer struct {
		PeerID string `json:"peerId"`
	} `json:"peer"`
}

// Route returns FRR's BGP paths for exactly prefix; no path means the router
// does not know it.
func (r *Router) Route(ctx context.Context, prefix netip.Prefix) (BGPRoute, error) {
	af := "ipv4"
	if prefix.Addr().Is6() {
		af = "ipv6"
	}
	var out struct {
		Paths []frrPath `json:"paths"`
	}
	if err := r.VtyshJSON(ctx, fmt.Sprintf("show bgp %s unicast %s json", af, prefix), &out); err != nil {
		return BGPRoute{}, err
	}
	route := BGPRoute{Prefix: prefix}
	for _, p := range out.Paths {
		path := BGPPath{
			Best: p.Bestpath != nil && p.Bestpath.Overall, Multipath: p.Multipath,
			LocalPref: p.LocPrf, ASPath: p.ASPath.String,
			NextHop: p.Peer.PeerID,
		}
		if len(p.Nexthops) > 0 {
			path.NextHop = p.Nexthops[0].IP
		}
		if p.Community != nil {
			path.Communities = p.Community.String
		}
		if p.LargeCommunity != nil {
			path.LargeCommunities = p.LargeCommunity.String
		}
		route.Paths = append(route.Paths, path)
	}
	return route, nil
}

// Prefixes returns every prefix in FRR's BGP table of family af ("ipv4" or
// "ipv6"), with the number of paths of each.
func (r *Router) Prefixes(ctx context.Context, af string) (map[netip.Prefix]int, error) {
	var out struct {
		Routes map[string][]json.RawMessage `json:"routes"`
	}
	if err := r.VtyshJSON(ctx, "show bgp "+af+" unicast json", &out); err != nil {
		return nil, err
	}
	prefixes := make(map[netip.Prefix]int, len(out.Routes))
	for s, paths := range out.Routes {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("prefix %q: %w", s, err)
		}
		prefixes[p] = len(paths)
	}
	return prefixes, nil
}

// PrefixesReceived returns how many prefixes of family af ("ipv4" or
// "ipv6") FRR accepted from neighbor.
func (r *Router) PrefixesReceived(ctx context.Context, af string, neighbor netip.Addr) (int, error) {
	var out struct {
		Peers map[string]struct {
			PfxRcd int `json:"pfxRcd"`
		} `json:"peers"`
	}
	if err := r.VtyshJSON(ctx, "show bgp "+af+" unicast summary json", &out); err != nil {
		return 0, err
	}
	return out.Peers[neighbor.String()].PfxRcd, nil
}

// InstalledNextHops returns the next hops zebra installed for prefix (the
// ECMP set in the router's forwarding table), sorted as zebra lists them.
func (r *Router) InstalledNextHops(ctx context.Context, prefix netip.Prefix) ([]string, error) {
	cmd := "show ip route " + prefix.String() + " json"
	if prefix.Addr().Is6() {
		cmd = "show ipv6 route " + prefix.String() + " json"
	}
	var out map[string][]struct {
		Protocol string `json:"protocol"`
		Selected bool   `json:"selected"`
		Nexthops []struct {
			IP     string `json:"ip"`
			Active bool   `json:"active"`
			FIB    bool   `json:"fib"`
		} `json:"nexthops"`
	}
	if err := r.VtyshJSON(ctx, cmd, &out); err != nil {
		return nil, err
	}
	var hops []string
	for _, route := range out[prefix.String()] {
		if route.Protocol != "bgp" || !route.Selected {
			continue
		}
		for _, nh := range route.Nexthops {
			if nh.FIB {
				hops = append(hops, nh.IP)
			}
		}
	}
	return hops, nil
}

// Session is FRR's view of one neighbor.
type Session struct {
	State string // "Established", "Active", "Connect", ...
	// Resets counts how often the session went down ("connectionsDropped").
	Resets int
	// Established counts how often it came up.
	Established int
}

// Sessions returns FRR's view of every neighbor, by address.
func (r *Router) Sessions(ctx context.Context) (map[string]Session, error) {
	var out map[string]struct {
		State       string `json:"bgpState"`
		Dropped     int    `json:"connectionsDropped"`
		Established int    `json:"connectionsEstablished"`
	}
	if err := r.VtyshJSON(ctx, "show bgp neighbors json", &out); err != nil {
		return nil, err
	}
	s := make(map[string]Session, len(out))
	for addr, n := range out {
		s[addr] = Session{State: n.State, Resets: n.Dropped, Established: n.Established}
	}
	return s, nil
}

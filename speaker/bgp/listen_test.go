package bgp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// freeTCPPort is a port nothing listens on at the moment, on any address.
func freeTCPPort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// accepts reports whether a TCP connection to ip:port is accepted; a refused
// one is false, anything else fails the test.
func accepts(t *testing.T, ip string, port int32) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))), 2*time.Second)
	if err == nil {
		_ = c.Close()
		return true
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialling %s: %v", ip, err)
	}
	return false
}

func startListening(t *testing.T, port int32, addrs ...netip.Addr) *Speaker {
	t.Helper()
	s, err := New(Options{RouterID: netip.MustParseAddr("127.0.0.1"), ListenPort: port, ListenAddresses: addrs})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// With a listen port, GoBGP binds only the addresses given: on the host's
// network every other address (127.0.0.2 here, pod bridges and other
// networks on a node) refuses BGP connections.
func TestListensOnlyOnListenAddresses(t *testing.T) {
	port := freeTCPPort(t)
	s := startListening(t, port, netip.MustParseAddr("127.0.0.1"))
	if !accepts(t, "127.0.0.1", port) {
		t.Error("no BGP listener on the listen address 127.0.0.1")
	}
	if accepts(t, "127.0.0.2", port) {
		t.Error("BGP accepts connections on 127.0.0.2, which is not a listen address")
	}
	resp, err := s.instances[s.opts.RouterID].bgp.GetBgp(context.Background(), &api.GetBgpRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetGlobal().GetListenAddresses()
	if len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("GoBGP's global listen addresses %v, want [127.0.0.1]", got)
	}
}

// Without listen addresses GoBGP binds every address (0.0.0.0 and ::): what
// the speaker did before it passed the node's InternalIPs.
func TestListensOnEveryAddressByDefault(t *testing.T) {
	port := freeTCPPort(t)
	startListening(t, port)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		if !accepts(t, ip, port) {
			t.Errorf("no BGP listener on %s", ip)
		}
	}
}

func TestListenAddressesAreChecked(t *testing.T) {
	for _, a := range []netip.Addr{{}, netip.MustParseAddr("fe80::1%eth0")} {
		if _, err := New(Options{RouterID: netip.MustParseAddr("127.0.0.1"), ListenPort: 1790, ListenAddresses: []netip.Addr{a}}); err == nil {
			t.Errorf("listen address %q accepted", a)
		}
	}
	// IPv4-mapped addresses are GoBGP's IPv4 listeners.
	s, err := New(Options{RouterID: netip.MustParseAddr("127.0.0.1"), ListenPort: 1790,
		ListenAddresses: []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := global(s.opts.RouterID, listenOn{port: 1790, addrs: s.opts.ListenAddresses}).GetListenAddresses(); len(got) != 1 || got[0] != "192.0.2.1" {
		t.Errorf("listen addresses %v, want [192.0.2.1]", got)
	}
}

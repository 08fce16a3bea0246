package member

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/hashicorp/memberlist"
)

var loopback4 = netip.MustParseAddr("127.0.0.1")

// startTransport binds a transport on a free loopback port and shuts it
// down when the test ends.
func startTransport(t *testing.T, ip netip.Addr) *transport {
	t.Helper()
	tr, err := newTransport(netip.AddrPortFrom(ip, 0), log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatalf("start transport: %v", err)
	}
	t.Cleanup(func() { _ = tr.Shutdown() })
	return tr
}

func nextPacket(t *testing.T, tr *transport) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		return p
	case <-time.After(10 * time.Second): // bounds a broken test only
		t.Fatal("no packet arrived")
		return nil
	}
}

func send(t *testing.T, from, to *transport, b []byte) {
	t.Helper()
	if _, err := from.WriteToAddress(b, memberlist.Address{Addr: to.bound.String()}); err != nil {
		t.Fatalf("send %d bytes: %v", len(b), err)
	}
}

// Every packet arrives whole and with its sender's address, from the
// smallest message to the largest UDP datagram, however large the buffer
// it was read into is kept.
func TestTransportDeliversPacketsWhole(t *testing.T) {
	a, b := startTransport(t, loopback4), startTransport(t, loopback4)
	for _, size := range []int{1, 1400, 9000, 65507} { // one byte, memberlist's UDPBufferSize, a jumbo frame, the IPv4 maximum
		want := bytes.Repeat([]byte{byte(size)}, size)
		want[size-1] = 0xee // the last byte too, not only the length
		send(t, a, b, want)
		got := nextPacket(t, b)
		if !bytes.Equal(got.Buf, want) {
			t.Errorf("a %d-byte packet arrived as %d bytes, or changed", size, len(got.Buf))
		}
		if got.From.String() != a.bound.String() {
			t.Errorf("packet from %s, want %s", got.From, a.bound)
		}
	}
}

// memberlist may hold a packet (a broadcast it queues to pass on) while
// the next ones are read: reading into a reused buffer must not change it.
func TestTransportPacketKeptAfterTheNextArrives(t *testing.T) {
	a, b := startTransport(t, loopback4), startTransport(t, loopback4)
	first, second := bytes.Repeat([]byte("a"), 200), bytes.Repeat([]byte("b"), 300)
	send(t, a, b, first)
	send(t, a, b, second)
	kept := nextPacket(t, b)
	if got := nextPacket(t, b); !bytes.Equal(got.Buf, second) {
		t.Fatalf("second packet: %q", got.Buf)
	}
	if !bytes.Equal(kept.Buf, first) {
		t.Errorf("the first packet changed once the second was read: %q", kept.Buf)
	}
}

// A stream dialled to a transport is handed to memberlist and carries
// bytes both ways.
func TestTransportStreams(t *testing.T) {
	a, b := startTransport(t, loopback4), startTransport(t, loopback4)
	out, err := a.DialAddressTimeout(memberlist.Address{Addr: b.bound.String()}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var in net.Conn
	select {
	case in = <-b.StreamCh():
	case <-time.After(10 * time.Second):
		t.Fatal("no stream accepted")
	}
	defer in.Close()
	if _, err := out.Write([]byte("push-pull")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("push-pull"))
	if _, err := io.ReadFull(in, got); err != nil || string(got) != "push-pull" {
		t.Errorf("read %q, %v", got, err)
	}
}

// A speaker restarted on its node binds the same port at once: Shutdown
// closes both sockets even with a packet and a stream nobody took yet.
func TestTransportShutdownFreesThePort(t *testing.T) {
	a, b := startTransport(t, loopback4), startTransport(t, loopback4)
	send(t, a, b, []byte("unread"))
	conn, err := a.DialAddressTimeout(memberlist.Address{Addr: b.bound.String()}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(50 * time.Millisecond) // both reach b's loops, which wait for a reader
	stopped := make(chan error, 1)
	go func() { stopped <- b.Shutdown() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return with a packet and a stream pending")
	}
	again, err := newTransport(b.bound, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatalf("bind %s again after Shutdown: %v", b.bound, err)
	}
	_ = again.Shutdown()
	if err := b.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// Speakers whose nodes have only IPv6 addresses advertise them, join over
// them and see each other die.
func TestMembersOverIPv6(t *testing.T) {
	ln, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	_ = ln.Close()
	startV6 := func(name string) *List {
		l, err := New(Options{Name: name, BindAddr: netip.IPv6Loopback(), Key: "k", Logger: logr.Discard()})
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { _ = l.Shutdown() })
		return l
	}
	a, b := startV6("node-a"), startV6("node-b")
	if got := a.ml.LocalNode().Addr; !got.Equal(net.IPv6loopback) {
		t.Errorf("node-a advertises %s, want ::1", got)
	}
	to := Addr(netip.IPv6Loopback(), b.LocalPort())
	if res := a.Join(t.Context(), []netip.AddrPort{to}); res[to] != Joined {
		t.Fatalf("join over IPv6: %v", res)
	}
	waitUntil(t, "both alive at node-b", func() bool { return len(b.Alive()) == 2 })
	_ = b.Shutdown()
	waitUntil(t, "node-b dead at node-a", func() bool { return !a.Alive()["node-b"] })
}

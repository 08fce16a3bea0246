package layer2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/prometheus/client_golang/prometheus"
)

// These tests run the Announcer's loops (reconcile, packet loops, bursts) on
// a fakeHost: no root, no namespace. What they check is the bytes the
// Announcer sends, decoded with mdlayher/arp and mdlayher/ndp. The same
// behaviour on real links is in netns_test.go (build tag lab).

var vip4b = netip.MustParseAddr("192.0.2.52")

// fakeEth0 is the node's interface on the test links, with the node's MAC.
func fakeEth0() iface {
	return with(testIface("eth0", "192.0.2.11/24", "2001:db8::11/64", "fe80::11/64"), func(i *iface) {
		i.index, i.mtu, i.hw = 1, 1500, nodeMAC
	})
}

// runAnnouncer starts an Announcer on h and returns it with its registry and
// a stop function that ends Run and checks it returned nil; the test's end
// stops it too.
func runAnnouncer(t *testing.T, h *fakeHost, opts Options) (*Announcer, *prometheus.Registry, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer, opts.Logger = reg, testr.New(t)
	opts.Listen, opts.interfaces = h.listen, h.interfaces
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var stopped bool
	stop := func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return a, reg, stop
}

// waitCounter polls a layer-2 counter until it reads want: the Announcer
// counts a frame just after sending it.
func waitCounter(t *testing.T, reg *prometheus.Registry, name string, kind FrameKind, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := counterValue(t, reg, name, kind, "eth0")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s,eth0} = %v, want %v", name, kind, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gratuitousView is the takeover ARP for ip from the node (RFC 5227 ARP
// Announcement).
func gratuitousView(ip netip.Addr) *arpView {
	return &arpView{
		EthDst: "ff:ff:ff:ff:ff:ff", EthSrc: nodeMAC.String(),
		Op:       arp.OperationRequest,
		SenderHW: nodeMAC.String(), SenderIP: ip.String(),
		TargetHW: "00:00:00:00:00:00", TargetIP: ip.String(),
		HWType: 1, ProtoType: 0x0800, HWLen: 6, ProtoLen: 4,
		ShortFramesArePadded: true,
	}
}

// checkARP decodes a sent frame and compares it with want, and checks that
// the socket was told to send it to the frame's destination.
func checkARP(t *testing.T, what string, got sentFrame, want *arpView) {
	t.Helper()
	if diff := cmp.Diff(want, viewARP(t, got.frame)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
	if got.to.String() != want.EthDst {
		t.Errorf("%s sent to %s, want %s", what, got.to, want.EthDst)
	}
}

// ownARP starts an Announcer owning vip4 on eth0, with a takeover burst of
// one frame, and returns the ARP socket after that frame.
func ownARP(t *testing.T) (*Announcer, *prometheus.Registry, *fakeHost, *fakeSocket) {
	t.Helper()
	h := newFakeHost(fakeEth0())
	a, reg, _ := runAnnouncer(t, h, Options{GratuitousCount: 1})
	a.SetOwned(map[netip.Addr][]string{vip4: nil})
	s := h.socket(t, "eth0", ARPFrames, nil)
	checkARP(t, "takeover frame", s.next(t), gratuitousView(vip4))
	return a, reg, h, s
}

func TestAnnouncerAnswersARPForOwnedAddress(t *testing.T) {
	_, reg, _, s := ownARP(t)
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4))
	checkARP(t, "reply", s.next(t), replyView(clientMAC, vip4, client4))
	waitCounter(t, reg, "ironlb_layer2_requests_received_total", ARPFrames, 1)
	waitCounter(t, reg, "ironlb_layer2_responses_sent_total", ARPFrames, 1)
}

// The loop handles frames in order, so the reply to the owned address coming
// first proves nothing was sent for the request before it.
func TestAnnouncerIgnoresARPForOtherAddresses(t *testing.T) {
	_, reg, _, s := ownARP(t)
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, notOwned4))
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4))
	checkARP(t, "first frame sent", s.next(t), replyView(clientMAC, vip4, client4))
	waitCounter(t, reg, "ironlb_layer2_requests_received_total", ARPFrames, 1)
}

func TestAnnouncerDropsAndCountsMalformedARP(t *testing.T) {
	_, reg, _, s := ownARP(t)
	s.receive(mutate(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4), func(b []byte) []byte {
		b[18] = 8 // hardware address length
		return b
	}))
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4))
	checkARP(t, "first frame sent", s.next(t), replyView(clientMAC, vip4, client4))
	waitCounter(t, reg, "ironlb_layer2_malformed_packets_total", ARPFrames, 1)
	waitCounter(t, reg, "ironlb_layer2_requests_received_total", ARPFrames, 1)
}

// Taking an address over sends GratuitousCount announcements; an address
// added later gets its own burst on the socket already open, and the one
// already announced is not announced again.
func TestAnnouncerSendsTakeoverBurst(t *testing.T) {
	h := newFakeHost(fakeEth0())
	a, reg, _ := runAnnouncer(t, h, Options{GratuitousCount: 3})
	a.SetOwned(map[netip.Addr][]string{vip4: nil})
	s := h.socket(t, "eth0", ARPFrames, nil)
	for i := range 3 {
		checkARP(t, fmt.Sprintf("takeover frame %d of %s", i+1, vip4), s.next(t), gratuitousView(vip4))
	}
	waitCounter(t, reg, "ironlb_layer2_gratuitous_sent_total", ARPFrames, 3)

	a.SetOwned(map[netip.Addr][]string{vip4: nil, vip4b: nil})
	for i := range 3 {
		checkARP(t, fmt.Sprintf("takeover frame %d of %s", i+1, vip4b), s.next(t), gratuitousView(vip4b))
	}
	waitCounter(t, reg, "ironlb_layer2_gratuitous_sent_total", ARPFrames, 6)
	if got := h.socket(t, "eth0", ARPFrames, nil); got != s {
		t.Error("the ARP socket was reopened for a second address")
	}
}

// An address dropped by SetOwned is not answered from the moment SetOwned
// returns; dropping the last one closes the socket.
func TestAnnouncerStopsAnsweringWithdrawnAddress(t *testing.T) {
	h := newFakeHost(fakeEth0())
	a, _, _ := runAnnouncer(t, h, Options{GratuitousCount: 1})
	a.SetOwned(map[netip.Addr][]string{vip4: nil, vip4b: nil})
	s := h.socket(t, "eth0", ARPFrames, nil)
	takeover := map[string]bool{}
	for range 2 {
		takeover[viewARP(t, s.next(t).frame).TargetIP] = true
	}
	if diff := cmp.Diff(map[string]bool{vip4.String(): true, vip4b.String(): true}, takeover); diff != "" {
		t.Fatalf("takeover frames for (-want +got):\n%s", diff)
	}

	a.SetOwned(map[netip.Addr][]string{vip4b: nil})
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4))
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4b))
	checkARP(t, "first frame sent after "+vip4.String()+" was withdrawn", s.next(t), replyView(clientMAC, vip4b, client4))

	a.SetOwned(nil)
	s.waitClosed(t)
}

// checkNA decodes a sent frame as a Neighbor Advertisement and compares it
// with want, and checks where the socket was told to send it.
func checkNA(t *testing.T, what string, got sentFrame, want *naView) {
	t.Helper()
	if diff := cmp.Diff(want, viewNA(t, got.frame)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
	if got.to.String() != want.EthDst {
		t.Errorf("%s sent to %s, want %s", what, got.to, want.EthDst)
	}
}

// IPv6 end to end through the loop: the group joined, the unsolicited
// advertisement, answers for the owned target only, malformed solicitations
// counted, and the group left and the socket closed on withdrawal.
func TestAnnouncerNDP(t *testing.T) {
	h := newFakeHost(fakeEth0())
	a, reg, _ := runAnnouncer(t, h, Options{GratuitousCount: 1})
	a.SetOwned(map[netip.Addr][]string{vip6: nil})
	s := h.socket(t, "eth0", NDPFrames, nil)
	unsolicited := &naView{
		EthDst: "33:33:00:00:00:01", EthSrc: nodeMAC.String(),
		IPSrc: vip6.String(), IPDst: "ff02::1",
		HopLimit: 255, ChecksumValid: true,
		Override: true,
		Target:   vip6.String(), TargetLinkLayer: nodeMAC.String(),
	}
	checkNA(t, "takeover frame", s.next(t), unsolicited)
	// The group is joined before the address is published, hence before
	// the takeover frame.
	if diff := cmp.Diff([]string{solicitedNode(t, vip6).String()}, s.joined()); diff != "" {
		t.Errorf("groups joined (-want +got):\n%s", diff)
	}

	s.receive(multicastNS(t, notOwned6))
	s.receive(mutate(multicastNS(t, vip6), func(b []byte) []byte {
		b[ethHeaderLen+7] = 64 // hop limit: not from this link
		return b
	}))
	s.receive(multicastNS(t, vip6))
	checkNA(t, "first frame sent", s.next(t), solicitedNA(clientMAC, client6))
	waitCounter(t, reg, "ironlb_layer2_requests_received_total", NDPFrames, 1)
	waitCounter(t, reg, "ironlb_layer2_responses_sent_total", NDPFrames, 1)
	waitCounter(t, reg, "ironlb_layer2_malformed_packets_total", NDPFrames, 1)

	a.SetOwned(map[netip.Addr][]string{vip4: nil})
	s.waitClosed(t)
	if got := s.joined(); len(got) != 0 {
		t.Errorf("groups still joined after %s was withdrawn: %v", vip6, got)
	}
}

// When Run's context ends every socket is closed and every group left.
func TestAnnouncerRunClosesEverythingWhenStopped(t *testing.T) {
	h := newFakeHost(fakeEth0())
	a, _, stop := runAnnouncer(t, h, Options{GratuitousCount: 1})
	a.SetOwned(map[netip.Addr][]string{vip4: nil, vip6: nil})
	arpSock, ndpSock := h.socket(t, "eth0", ARPFrames, nil), h.socket(t, "eth0", NDPFrames, nil)
	arpSock.next(t)
	ndpSock.next(t)
	stop()
	for _, s := range []*fakeSocket{arpSock, ndpSock} {
		if !s.isClosed() {
			t.Errorf("%s socket still open after Run returned", s.kind)
		}
	}
	if got := ndpSock.joined(); len(got) != 0 {
		t.Errorf("groups still joined after Run returned: %v", got)
	}
}

// A packet loop that dies on an unexpected read error gets a new socket
// (and a new takeover burst) on the next scan.
func TestAnnouncerReopensBrokenSocket(t *testing.T) {
	_, _, h, s := ownARP(t)
	s.fail <- errors.New("device gone mad")
	s.waitClosed(t)
	again := h.socket(t, "eth0", ARPFrames, s)
	checkARP(t, "takeover frame on the new socket", again.next(t), gratuitousView(vip4))
	again.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4))
	checkARP(t, "reply on the new socket", again.next(t), replyView(clientMAC, vip4, client4))
}

// ENETDOWN (the link went down) is not a broken socket: the loop goes on
// reading the same socket.
func TestAnnouncerKeepsSocketThroughENETDOWN(t *testing.T) {
	_, _, _, s := ownARP(t)
	s.fail <- &net.OpError{Op: "read", Net: "packet", Err: os.NewSyscallError("recvfrom", syscall.ENETDOWN)}
	s.receive(arpRequestFrame(t, arp.OperationRequest, clientMAC, client4, vip4))
	checkARP(t, "reply after ENETDOWN", s.next(t), replyView(clientMAC, vip4, client4))
}

// Without permission to open sockets Run fails, rather than announcing
// nothing in silence.
func TestAnnouncerRunFailsWithoutPermission(t *testing.T) {
	h := newFakeHost(fakeEth0())
	h.refuse = os.NewSyscallError("socket", syscall.EPERM)
	a, err := New(Options{Listen: h.listen, interfaces: h.interfaces, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.SetOwned(map[netip.Addr][]string{vip4: nil})
	err = a.Run(context.Background())
	if !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Run = %v, want a permission error", err)
	}
}

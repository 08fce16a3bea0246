package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProbeWait is how long Arping and Ndisc wait for answers. Speakers answer in
// well under a millisecond here; the rest is margin for a loaded CI machine.
var ProbeWait = 500 * time.Millisecond

// macPattern matches a MAC address as arping and ndisc6 print it.
var macPattern = regexp.MustCompile(`(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b`)

// Arping asks for ip with the arping tool from the client's interface ifname
// ("eth0" or "eth1") and returns every distinct MAC that answered, in order of
// arrival. No answer is an empty result, not an error.
func (l *Lab) Arping(ctx context.Context, ifname string, ip netip.Addr) ([]net.HardwareAddr, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("arping: %s is not IPv4", ip)
	}
	// Thomas Habets' arping (Debian package arping): -w is how long to wait
	// for a reply, in seconds.
	wait := strconv.FormatFloat(ProbeWait.Seconds(), 'f', 3, 64)
	out, err := nsCommand(ctx, l.Client.Netns, "arping", "-c", "1", "-w", wait, "-i", ifname, ip.String())
	// arping exits 1 when nothing answered.
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 1 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseArping(out), nil
}

// parseArping extracts the MACs from arping's reply lines
// ("42 bytes from 02:1b:01:00:00:0b (203.0.113.10): index=0 time=9 usec").
func parseArping(out string) []net.HardwareAddr {
	var macs []net.HardwareAddr
	for line := range strings.Lines(out) {
		if !strings.Contains(line, " bytes from ") {
			continue
		}
		macs = appendMAC(macs, macPattern.FindString(line))
	}
	return macs
}

// Ndisc solicits ip with ndisc6 from the client's interface ifname and returns
// every distinct link-layer address that answered. No answer is an empty
// result, not an error.
func (l *Lab) Ndisc(ctx context.Context, ifname string, ip netip.Addr) ([]net.HardwareAddr, error) {
	if !ip.Is6() || ip.Is4In6() {
		return nil, fmt.Errorf("ndisc6: %s is not IPv6", ip)
	}
	// -m: print every answer (to catch two nodes answering), -n: numeric,
	// -r 1: one solicitation, -w: how long to wait, in milliseconds.
	out, err := nsCommand(ctx, l.Client.Netns, "ndisc6", "-m", "-n", "-r", "1",
		"-w", strconv.FormatInt(ProbeWait.Milliseconds(), 10), ip.String(), ifname)
	// ndisc6 exits 2 when nothing answered.
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 2 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseNdisc(out), nil
}

// parseNdisc extracts the addresses from ndisc6's answer lines
// ("Target link-layer address: 02:1B:01:00:00:0B").
func parseNdisc(out string) []net.HardwareAddr {
	var macs []net.HardwareAddr
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "link-layer address:") {
			continue
		}
		macs = appendMAC(macs, macPattern.FindString(line))
	}
	return macs
}

// appendMAC adds the parsed MAC s to macs unless it is empty or already there.
func appendMAC(macs []net.HardwareAddr, s string) []net.HardwareAddr {
	mac, err := net.ParseMAC(s)
	if err != nil {
		return macs
	}
	if slices.ContainsFunc(macs, func(m net.HardwareAddr) bool { return m.String() == mac.String() }) {
		return macs
	}
	return append(macs, mac)
}

// Answerers asks for ip (arping for IPv4, ndisc6 for IPv6) on the client's
// ifname and names the lab nodes that answered, sorted; a MAC of no node is
// reported as the MAC itself.
func (l *Lab) Answerers(ctx context.Context, ifname string, ip netip.Addr) ([]string, error) {
	var macs []net.HardwareAddr
	var err error
	if ip.Is4() {
		macs, err = l.Arping(ctx, ifname, ip)
	} else {
		macs, err = l.Ndisc(ctx, ifname, ip)
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(macs))
	for _, m := range macs {
		if n := l.NodeByMAC(m); n != nil {
			names = append(names, n.Name)
		} else {
			names = append(names, m.String())
		}
	}
	slices.Sort(names)
	return names, nil
}

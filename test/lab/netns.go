package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// command runs name with args and returns its standard output. A failure is
// wrapped with the command line and whatever it printed on standard error.
func command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "),
			err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ip runs one iproute2 command.
func ip(ctx context.Context, args ...string) error {
	_, err := command(ctx, "ip", args...)
	return err
}

// nsCommand runs a command inside network namespace ns.
func nsCommand(ctx context.Context, ns string, args ...string) (string, error) {
	return command(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// InNetns runs fn on an OS thread that has entered network namespace ns, so
// sockets fn opens live in ns while the rest of the process stays where it
// was. The thread goes back to its own namespace afterwards; if that fails it
// stays locked and Go discards it when the goroutine ends.
func InNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering netns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// listNetns returns the names of the named network namespaces.
func listNetns(ctx context.Context) ([]string, error) {
	out, err := command(ctx, "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(out) {
		// Lines look like "name (id: 3)" or just "name".
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// NetnsPids are the processes in network namespace ns.
func NetnsPids(ctx context.Context, ns string) ([]int, error) {
	out, err := command(ctx, "ip", "netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	var pids []int
	for f := range strings.FieldsSeq(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// deleteNetns kills every process still inside ns, then deletes it.
func deleteNetns(ctx context.Context, ns string) error {
	out, err := command(ctx, "ip", "netns", "pids", ns)
	if err == nil {
		for pid := range strings.FieldsSeq(out) {
			_, _ = command(ctx, "kill", "-KILL", pid)
		}
	}
	return ip(ctx, "netns", "del", ns)
}

// addNetns creates ns with its loopback up and without IPv6 duplicate address
// detection, which would otherwise hold new addresses back for a second or two.
func addNetns(ctx context.Context, ns string) error {
	if err := ip(ctx, "netns", "add", ns); err != nil {
		return err
	}
	if err := ip(ctx, "-n", ns, "link", "set", "lo", "up"); err != nil {
		return err
	}
	return sysctl(ctx, ns, map[string]string{
		"net.ipv6.conf.all.accept_dad":     "0",
		"net.ipv6.conf.default.accept_dad": "0",
	})
}

// sysctl sets kernel parameters inside ns ("" = the root namespace).
func sysctl(ctx context.Context, ns string, kv map[string]string) error {
	var errs []error
	for k, v := range kv {
		args := []string{"sysctl", "-q", "-w", k + "=" + v}
		var err error
		if ns == "" {
			_, err = command(ctx, args[0], args[1:]...)
		} else {
			_, err = nsCommand(ctx, ns, args...)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

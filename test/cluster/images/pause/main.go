// Command pause is the lab cluster's pod sandbox image, built like the
// controller and speaker images (go run ./hack/images), because the lab's
// containerd has no registry to pull registry.k8s.io/pause from.
//
// The sandbox container only holds the pod's namespaces open, so the program
// does nothing until SIGTERM or SIGINT, then exits 0. It may be PID 1 of the
// pod's PID namespace (shareProcessNamespace): orphans are then re-parented
// to it, so it reaps every exited child on SIGCHLD, or they stay zombies.
// As PID 1 it would also ignore SIGTERM without a handler of its own; the
// signal.Notify below is that handler.
package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Signals coalesce and a full channel drops them; reap loops until no
	// child is left, so one SIGCHLD seen for several exits is enough.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has exited, without blocking on those
// still running.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: no children; 0: none exited yet
			return
		}
	}
}

package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestExitsOnSignal builds the program, starts it and checks that it stays
// up until SIGTERM or SIGINT, then exits 0, which is how containerd expects
// a sandbox to stop.
func TestExitsOnSignal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pause")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()

			// It must not exit on its own. Waiting a second also lets it
			// reach signal.Notify: before that the Go runtime would die of
			// the signal instead of exiting 0.
			select {
			case err := <-exited:
				t.Fatalf("exited before any signal: %v", err)
			case <-time.After(time.Second):
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("after %v: %v, want exit status 0", sig, err)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 10s after %v", sig)
			}
		})
	}
}

// TestReap: a child that has exited is collected by reap, so it does not
// linger as a zombie. Not parallel: reap collects any child of the test
// process.
func TestReap(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for {
		reap()
		// kill(pid, 0) succeeds for a zombie; ESRCH means it was reaped.
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d not reaped after 10s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Wait(); !errors.Is(err, syscall.ECHILD) {
		t.Errorf("Wait after reap: %v, want ECHILD (already collected)", err)
	}
}

//go:build lab

package bgp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/speaker/bfd"
	"github.com/ironlb/ironlb/speaker/bgp"
)

// The speaker must run inside the node namespace, and GoBGP opens its
// sockets from goroutines of its own, on any OS thread: switching one thread
// with setns would not do. So the test binary starts itself again under
// "ip netns exec" as an agent that owns a Speaker and takes requests, one
// JSON object a line, on stdin.

const agentEnv = "IRONLB_BGP_TEST_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(agentEnv) == "1" {
		os.Exit(runAgent(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

type agentOptions struct {
	RouterID, NextHopV4, NextHopV6 netip.Addr
	ListenPort                     int32
}

type agentRequest struct {
	Op      string // start, peers, routes, bfd, sessions, metrics, stop, exit
	Options agentOptions
	Peers   []bgp.Peer
	Routes  []bgp.Route
	// BFD are the BFD sessions of op bfd, by the BGP peer each guards.
	BFD map[string]bfd.Peer
}

type agentResponse struct {
	Error    string
	Sessions map[string]bgp.SessionState
	// BFD are the BFD sessions' states, by the BGP peer each guards.
	BFD map[string]string
	// Metrics are the speaker's samples, keyed "name/peer".
	Metrics map[string]float64
	// Elapsed is how long the call took inside the agent.
	Elapsed time.Duration
}

func runAgent(in io.Reader, out io.Writer) int {
	logger := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{Verbosity: 1})
	reg := prometheus.NewRegistry()
	dec, enc := json.NewDecoder(bufio.NewReader(in)), json.NewEncoder(out)
	ctx := context.Background()
	var sp *bgp.Speaker
	var bfds *agentBFD
	for {
		var req agentRequest
		if err := dec.Decode(&req); err != nil {
			return 0
		}
		var resp agentResponse
		start := time.Now()
		var err error
		switch req.Op {
		case "start":
			sp, err = bgp.New(bgp.Options{Logger: logger, Registerer: reg, RouterID: req.Options.RouterID,
				NextHopV4: req.Options.NextHopV4, NextHopV6: req.Options.NextHopV6, ListenPort: req.Options.ListenPort})
			if err == nil {
				err = sp.Start(ctx)
			}
		case "peers":
			err = sp.SetPeers(ctx, req.Peers)
		case "routes":
			err = sp.SetRoutes(ctx, req.Routes)
		case "bfd":
			if bfds == nil {
				bfds, err = startAgentBFD(sp, logger)
			}
			if err == nil {
				err = bfds.set(req.BFD)
			}
		case "sessions":
		case "metrics":
			resp.Metrics, err = gather(reg)
		case "stop":
			err = sp.Stop(ctx)
		case "exit":
			// Ends the process without Stop: sessions close without a NOTIFICATION.
			os.Exit(0)
		default:
			err = fmt.Errorf("unknown op %q", req.Op)
		}
		resp.Elapsed = time.Since(start)
		if err != nil {
			resp.Error = err.Error()
		}
		if sp != nil {
			resp.Sessions = sp.Sessions()
		}
		if bfds != nil {
			resp.BFD = bfds.states()
		}
		if err := enc.Encode(resp); err != nil {
			return 1
		}
	}
}

func gather(reg *prometheus.Registry) (map[string]float64, error) {
	families, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				key += "/" + l.GetValue()
			}
			switch {
			case s.GetGauge() != nil:
				m[key] = s.GetGauge().GetValue()
			case s.GetCounter() != nil:
				m[key] = s.GetCounter().GetValue()
			}
		}
	}
	return m, nil
}

// agent is the parent's handle on a speaker running in a namespace.
type agent struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	dec    *json.Decoder
	stderr string
}

// startAgent runs a speaker in namespace ns and starts it with opts.
func startAgent(t testing.TB, l *lab, opts agentOptions) *agent {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{t: t, stderr: filepath.Join(l.dir, "agent.log")}
	logFile, err := os.Create(a.stderr)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command("ip", "netns", "exec", l.node, self)
	a.cmd.Env = append(os.Environ(), agentEnv+"=1")
	a.cmd.Stderr = logFile
	if a.stdin, err = a.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a.dec = json.NewDecoder(stdout)
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = a.stdin.Close()
		done := make(chan struct{})
		go func() { _ = a.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			killAndWait(a.cmd.Process.Pid)
			<-done
		}
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(a.stderr); err == nil {
				t.Logf("speaker log:\n%s", tail(b, 80))
			}
		}
	})
	a.mustCall(agentRequest{Op: "start", Options: opts})
	return a
}

// call sends one request and waits for its answer.
func (a *agent) call(req agentRequest) agentResponse {
	a.t.Helper()
	if err := json.NewEncoder(a.stdin).Encode(req); err != nil {
		a.t.Fatalf("sending %s to the speaker: %v", req.Op, err)
	}
	var resp agentResponse
	if err := a.dec.Decode(&resp); err != nil {
		a.t.Fatalf("reading the speaker's answer to %s: %v", req.Op, err)
	}
	return resp
}

// mustCall is call for requests that must succeed.
func (a *agent) mustCall(req agentRequest) agentResponse {
	a.t.Helper()
	resp := a.call(req)
	if resp.Error != "" {
		a.t.Fatalf("%s: %s", req.Op, resp.Error)
	}
	return resp
}

// exit ends the speaker process without Stop.
func (a *agent) exit() {
	a.t.Helper()
	if err := json.NewEncoder(a.stdin).Encode(agentRequest{Op: "exit"}); err != nil {
		a.t.Fatal(err)
	}
	_ = a.cmd.Wait()
}

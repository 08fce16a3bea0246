package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/test/cluster/echo"
)

// TestReplyOverHTTP queries the handler through a real loopback connection:
// the reply names the env-provided pod and node and the client's address.
func TestReplyOverHTTP(t *testing.T) {
	t.Setenv("POD_NAME", "echo-7f9c")
	t.Setenv("NODE_NAME", "node-b")
	srv := httptest.NewServer(newHandler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/any/path")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !strings.HasSuffix(string(body), "}\n") {
		t.Errorf("body %q does not end with a newline after the object", body)
	}
	var got echo.Reply
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	want := echo.Reply{Pod: "echo-7f9c", Node: "node-b", Client: "127.0.0.1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

// TestClientAddress checks what the reply says for the remote addresses a
// dual-stack listener sees: the address only, IPv4-mapped ones unmapped.
func TestClientAddress(t *testing.T) {
	t.Setenv("POD_NAME", "echo-7f9c")
	t.Setenv("NODE_NAME", "node-b")
	h := newHandler()
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.10:40000", "192.0.2.10"},
		{"[::ffff:198.51.100.7]:40000", "198.51.100.7"},
		{"[2001:db8::7]:1234", "2001:db8::7"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var got echo.Reply
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: decoding %q: %v", tc.remote, w.Body, err)
		}
		if got.Client != tc.want {
			t.Errorf("RemoteAddr %s: client %q, want %q", tc.remote, got.Client, tc.want)
		}
	}
}

// TestPodFallsBackToHostname: without $POD_NAME the hostname, which
// Kubernetes sets to the pod name, names the pod.
func TestPodFallsBackToHostname(t *testing.T) {
	t.Setenv("POD_NAME", "")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	newHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	var got echo.Reply
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Pod != host {
		t.Errorf("pod %q, want hostname %q", got.Pod, host)
	}
}

func TestHealthz(t *testing.T) {
	w := httptest.NewRecorder()
	newHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Errorf("/healthz: %d %q, want 200 \"ok\"", w.Code, w.Body)
	}
}

// TestRunStops: run serves until its context ends (SIGTERM in main), then
// returns nil rather than http.ErrServerClosed.
func TestRunStops(t *testing.T) {
	// A free loopback port; run listens itself, as main does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr) }()

	// Wait until it answers, so the stop below hits a serving server.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

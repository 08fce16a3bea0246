// Command echo is the lab cluster's backend, built into an image like the
// controller and speaker (go run ./hack/images), since the lab has no
// registry. Every request gets a JSON echo.Reply naming the pod and node that
// answered and the client address the pod saw: that is what lab tests check
// to know which endpoint a LoadBalancer IP reached and whether the source
// address was preserved. /healthz answers "ok" for probes.
//
// The pod and node names come from $POD_NAME and $NODE_NAME (the downward
// API); without $POD_NAME the hostname, which is the pod name, is used.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ironlb/ironlb/test/cluster/echo"
)

func main() {
	listen := flag.String("listen", ":8080", "Address to serve HTTP on; the default takes both IPv4 and IPv6.")
	flag.Parse()
	log.SetFlags(0)
	// SIGTERM is how the kubelet stops the pod; answering it promptly keeps
	// pod deletion (and the lab) from waiting out the grace period.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *listen); err != nil {
		log.Fatalf("echo: %v", err)
	}
}

// run serves on addr until ctx is done, then lets requests in flight finish
// for a short while.
func run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler reads the pod and node names once: they do not change during
// the pod's life.
func newHandler() http.Handler {
	pod := os.Getenv("POD_NAME")
	if pod == "" {
		pod, _ = os.Hostname()
	}
	node := os.Getenv("NODE_NAME")

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// Encode appends the newline, which keeps curl output readable.
		json.NewEncoder(w).Encode(echo.Reply{Pod: pod, Node: node, Client: clientAddr(r.RemoteAddr)})
	})
	return mux
}

// clientAddr is the IP of a "host:port" remote address. It is unmapped so an
// IPv4 client reads 192.0.2.1 even when it reached the dual-stack listener
// as ::ffff:192.0.2.1.
func clientAddr(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote // not IP:port; show it rather than nothing
	}
	return ap.Addr().Unmap().String()
}

package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// HTTPGet sends one GET for path to target from inside h's namespace, on a
// new connection from source address src (invalid: the kernel picks), and
// returns the response body. Every request opens its own connection, so each
// one is routed, answered for and load-balanced afresh, as a new client's
// would be.
//
// The socket is made on a thread inside h's namespace; everything after
// that works on the socket, wherever the goroutine runs.
func (l *Lab) HTTPGet(ctx context.Context, h *Host, src netip.Addr, target netip.AddrPort, path string) (string, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	var conn net.Conn
	err := InNetns(h.Netns, func() error {
		d := net.Dialer{Deadline: deadline}
		if src.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
		var err error
		conn, err = d.DialContext(ctx, "tcp", target.String())
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target.String()+path, nil)
	if err != nil {
		return "", err
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s from %s: %s", req.URL, h.Name, resp.Status)
	}
	return string(body), nil
}

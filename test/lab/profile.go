package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"time"
)

// SaveSpeakerProfile writes one of the node speaker's /debug/pprof profiles
// ("heap", "allocs", or "profile" for CPU) to path. For "profile" the
// speaker samples for d before it answers; d is ignored otherwise.
func (n *Node) SaveSpeakerProfile(ctx context.Context, kind string, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/%s", netip.AddrPortFrom(n.IPv4, SpeakerPprofPort), kind)
	if kind == "profile" {
		url += fmt.Sprintf("?seconds=%d", int(d/time.Second))
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		os.Remove(path) // half a profile would only mislead
		return err
	}
	return f.Close()
}

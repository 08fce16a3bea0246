package lab

import (
	"context"
	"fmt"
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
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = httpGetTo(ctx, url, d+30*time.Second, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // half a profile would only mislead
	}
	return err
}

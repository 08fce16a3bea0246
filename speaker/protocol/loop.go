package protocol

import (
	"context"
	"time"
)

// Every calls sync every interval, and at once when kick fires (a nil kick
// never does), until ctx ends. It skips rounds until ready reports true
// (Env.Applied), so nothing is written from an empty state.
func Every(ctx context.Context, interval time.Duration, kick <-chan struct{}, ready func() bool, sync func(context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-kick:
		}
		if ready() {
			sync(ctx)
		}
	}
}

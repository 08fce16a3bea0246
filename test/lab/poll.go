package lab

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errStop, joined to a condition's error, ends Poll at once: waiting longer
// cannot help (a process it waits for has died).
var errStop = errors.New("giving up")

// Poll calls cond every interval until it returns nil, and returns cond's last
// error if that has not happened within timeout (or ctx ends), or at once if
// that error wraps errStop.
func Poll(ctx context.Context, timeout, interval time.Duration, cond func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, errStop) {
			return err
		}
		// A try cut short by the deadline says less than the one before.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still not true after %v: %w", timeout, last)
		case <-time.After(interval):
		}
	}
}

package cli

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends, and reports whether it waited the whole
// of d: the pause between an example's rounds, which Ctrl-C cuts short.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

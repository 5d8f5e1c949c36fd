package dialer

import (
	"context"
	"time"
)

// attemptCtx is the context one attempt hands to its attemptFunc: the
// dial's context, for its values and its cancellation, with the attempt's
// deadline added.
//
// It exists for the cost of the healthy path. net.Dialer bounds a connect
// by putting the context's deadline on the socket (the poller's write
// deadline), not by waiting for Done; a context.WithDeadline per attempt
// would add a timer, a cancelCtx and a registration with the parent that
// nothing needs. So Done here is the parent's and does not close at the
// deadline: this is not a general-purpose context, and it is given only to
// the attemptFunc, which must end by Deadline (net.Dialer does through the
// socket, the tests' fakes by a timer).
//
// net.Dialer applies the deadline only while Done is non-nil. When the
// dial's context can never be cancelled (context.Background), Done and the
// standard library's lookup of the nearest cancelCtx fall through to
// quiet, a context of the Dialer's that is never cancelled, so net's
// cancellation hook registers with an existing cancelCtx instead of
// starting a goroutine to watch a channel that never closes.
type attemptCtx struct {
	parent   context.Context
	quiet    context.Context // nil unless parent.Done() is nil
	deadline time.Time
}

// set points c at parent with deadline.
func (c *attemptCtx) set(parent, quiet context.Context, deadline time.Time) {
	c.parent, c.quiet, c.deadline = parent, nil, deadline
	if parent.Done() == nil {
		c.quiet = quiet
	}
}

// clear drops the references to the dial's context once the attempt is
// over, so a call kept for its scratch space does not keep it alive.
func (c *attemptCtx) clear() { c.parent, c.quiet = nil, nil }

func (c *attemptCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *attemptCtx) Done() <-chan struct{} {
	if c.quiet != nil {
		return c.quiet.Done()
	}
	return c.parent.Done()
}

func (c *attemptCtx) Err() error { return c.parent.Err() }

func (c *attemptCtx) Value(key any) any {
	v := c.parent.Value(key)
	if v == nil && c.quiet != nil {
		return c.quiet.Value(key)
	}
	return v
}

// newQuietContext returns the Dialer's never-cancelled context. Its cancel
// function is kept only to say so: cancelling it would not stop any dial,
// since it stands in only for contexts that cannot be cancelled.
func newQuietContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ctx.Done() // make the channel now: Done must return the same one to every attempt
	return ctx, cancel
}

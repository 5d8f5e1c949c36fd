package dialer

import (
	"context"
	"syscall"
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
// deadline: this is not a general-purpose context. It is given only to the
// attemptFunc, which must end by Deadline (net.Dialer does through the
// socket, the tests' fakes by a timer), and a user's ControlContext hook
// gets a real context built from its parent and deadline (boundedHook).
//
// net.Dialer applies the deadline only while Done is non-nil. When the
// dial's context can never be cancelled (context.Background), Done and the
// standard library's lookup of the nearest cancelCtx go to quiet, a context
// of the Dialer's that is never cancelled, so net's cancellation hook
// registers with an existing cancelCtx instead of starting a goroutine to
// watch a channel that never closes.
//
// Over a context the dial made itself, or quiet, the context package
// registers net's hook with a cancelCtx it finds through Value and removes
// it before the attempt returns, so nothing keeps the attemptCtx and the
// dialing goroutine may reuse one (call.actx). Over a caller's cancellable
// context that is not assured (over a Context type of the caller's own,
// even wrapped in context.WithValue, the context package watches it from a
// goroutine that may outlive the attempt): such an attempt gets an
// attemptCtx of its own, never reused (see race.single).
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

func (c *attemptCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *attemptCtx) Done() <-chan struct{} {
	if c.quiet != nil {
		return c.quiet.Done()
	}
	return c.parent.Done()
}

func (c *attemptCtx) Err() error { return c.parent.Err() }

// Value asks quiet first, when it stands in: it answers only the context
// package's own lookup of the nearest cancelCtx, which must find quiet
// even if the parent would answer it with a cancelCtx whose Done is not
// ours (context.WithoutCancel's children, for one).
func (c *attemptCtx) Value(key any) any {
	if c.quiet != nil {
		if v := c.quiet.Value(key); v != nil {
			return v
		}
	}
	return c.parent.Value(key)
}

// attemptContext returns the context for an attempt under parent until
// deadline, in reusable when it is not nil (the caller knows nothing will
// keep it: see attemptCtx), else in one of its own.
func (d *Dialer) attemptContext(parent context.Context, reusable *attemptCtx, deadline time.Time) (context.Context, context.CancelFunc) {
	if !socketDeadlines {
		return context.WithDeadline(parent, deadline)
	}
	a := reusable
	if a == nil {
		a = new(attemptCtx)
	}
	a.set(parent, d.quiet, deadline) // a reused one is cleared with its call
	return a, noCancel
}

func noCancel() {}

// newQuietContext returns the Dialer's never-cancelled context. Its cancel
// function is kept only to say so: cancelling it would not stop any dial,
// since it stands in only for contexts that cannot be cancelled.
func newQuietContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ctx.Done() // make the channel now: Done must return the same one to every attempt
	return ctx, cancel
}

// controlHook is the signature of net.Dialer's ControlContext.
type controlHook = func(ctx context.Context, network, address string, c syscall.RawConn) error

// boundedHook adapts the user's ControlContext to attemptCtx: the hook gets
// a context of the standard library's, with the caller's values and
// cancellation, whose Done closes at the attempt's deadline, and which it
// may keep. Only dials by a Dialer with such a hook pay for it.
func boundedHook(hook controlHook) controlHook {
	return func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if a, ok := ctx.(*attemptCtx); ok {
			hctx, cancel := context.WithDeadline(a.parent, a.deadline)
			defer cancel()
			ctx = hctx
		}
		return hook(ctx, network, address, c)
	}
}

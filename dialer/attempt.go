package dialer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// AttemptOutcome says how one connection attempt to one address ended.
type AttemptOutcome int8

const (
	// Connected: the handshake completed. If another attempt had already
	// won, the connection was closed.
	Connected AttemptOutcome = iota
	// Failed: the address answered with an error (refused, reset,
	// unreachable).
	Failed
	// Stalled: the attempt reached the attempt timeout unanswered.
	Stalled
	// LostSlow: a sibling won while this attempt had been unanswered for
	// longer than the attempt delay. Like a stall, it is remembered against
	// the address.
	LostSlow
	// Lost: a sibling won before the attempt delay ran out; neutral.
	Lost
	// Canceled: the caller's context ended (cancelled, or its deadline cut
	// the attempt short before the attempt timeout); neutral.
	Canceled
	// Skipped: the address's circuit breaker was open, so no attempt was
	// made.
	Skipped
)

var outcomeNames = [...]string{"connected", "failed", "stalled", "lost-slow", "lost", "canceled", "skipped"}

// String returns the outcome's name as it appears in logs.
func (o AttemptOutcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// AttemptInfo describes one finished connection attempt; see
// WithAttemptObserver.
type AttemptInfo struct {
	// Destination is the host:port being dialled, as asked.
	Destination string
	// Address is the ip:port this attempt connected to.
	Address netip.AddrPort
	// Try counts the dial's rounds: 1 for the first, 2 for the first
	// retry, and so on.
	Try int
	// DialStart is when the dial began; Start when this attempt began.
	DialStart, Start time.Time
	// Elapsed is how long the attempt took.
	Elapsed time.Duration
	// Outcome is how it ended; Err is its error, if any.
	Outcome AttemptOutcome
	Err     error
}

// attemptFunc makes one connection attempt to one address. The Dialer's
// default uses net.Dialer; tests inject fakes to drive the race's timing
// inside a testing/synctest bubble.
type attemptFunc func(ctx context.Context, network string, addr netip.AddrPort, key string) (net.Conn, error)

// errLostRace is the cancellation cause given to attempts that lost the
// race to a sibling.
var errLostRace = errors.New("dialguard: another address connected first")

// bounds is what an attempt needs to know of its dial: copied, so that the
// dial's own state stays on its goroutine's stack.
type bounds struct {
	network  string
	deadline time.Time
	expired  error
}

// attemptResult is what one attempt reports back to the race.
type attemptResult struct {
	addr    netip.AddrPort
	conn    net.Conn
	err     error
	start   time.Time
	elapsed time.Duration
	outcome AttemptOutcome
}

// attempt dials addr (key is its text) once, bounded by the attempt
// timeout and the dial's deadline, and classifies the result. ctx is the
// race's context: its cancellation cause tells a lost race from the
// caller's cancellation.
func (d *Dialer) attempt(ctx context.Context, b bounds, addr netip.AddrPort, key string) attemptResult {
	start := time.Now()
	limit, limitCause := start.Add(d.cfg.attemptTimeout), d.stallErr
	if !b.deadline.After(limit) {
		limit, limitCause = b.deadline, b.expired
	}
	actx, cancel := context.WithDeadlineCause(ctx, limit, limitCause)
	conn, err := d.dialAddr(actx, b.network, addr, key)
	cause := context.Cause(actx) // read before cancel, which would set one
	cancel()
	res := attemptResult{addr: addr, conn: conn, err: err, start: start, elapsed: time.Since(start)}
	if err == nil {
		res.outcome = Connected
		return res
	}
	if cause == nil && isTimeout(err) && !time.Now().Before(limit) {
		// net.Dialer puts the deadline on the socket, and the poller may
		// report it before the context's own timer fires.
		cause = limitCause
	}
	switch {
	case cause == nil:
		res.outcome = Failed
	case errors.Is(cause, ErrAttemptTimeout):
		res.outcome = Stalled
		res.err = cause
	case errors.Is(cause, errLostRace):
		res.outcome = Lost
		if res.elapsed >= d.cfg.attemptDelay {
			res.outcome = LostSlow
		}
	default:
		res.outcome = Canceled
		if !isTimeout(res.err) {
			res.err = cause
		}
	}
	return res
}

// dialNet is the default attemptFunc: the configured net.Dialer on an IP
// literal, so it never resolves and never races by itself.
func (d *Dialer) dialNet(ctx context.Context, network string, _ netip.AddrPort, key string) (net.Conn, error) {
	return d.cfg.netDialer.DialContext(ctx, network, key)
}

// isTimeout reports whether err is a timeout (net.Error's Timeout).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

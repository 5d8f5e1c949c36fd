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
type attemptFunc func(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error)

// errLostRace is the cancellation cause given to attempts that lost the
// race to a sibling.
var errLostRace = errors.New("dialguard: another address connected first")

// attemptResult is what one attempt reports back to the race.
type attemptResult struct {
	addr    netip.AddrPort
	conn    net.Conn
	err     error
	start   time.Time
	elapsed time.Duration
	outcome AttemptOutcome
}

// attempt dials addr once under the attempt timeout and classifies the
// result. ctx is the race's context: its cancellation cause tells a lost
// race from the caller's cancellation.
func (d *Dialer) attempt(ctx context.Context, network string, addr netip.AddrPort) attemptResult {
	start := time.Now()
	actx, cancel := context.WithTimeoutCause(ctx, d.cfg.attemptTimeout, stallError{d.cfg.attemptTimeout})
	conn, err := d.dialAddr(actx, network, addr)
	cause := context.Cause(actx) // read before cancel, which would set one
	cancel()
	res := attemptResult{addr: addr, conn: conn, err: err, start: start, elapsed: time.Since(start)}
	if err == nil {
		res.outcome = Connected
		return res
	}
	switch {
	case cause == nil:
		res.outcome = Failed
	case errors.Is(cause, ErrAttemptTimeout) && ctx.Err() == nil:
		res.outcome = Stalled
		res.err = cause
	case errors.Is(cause, errLostRace):
		res.outcome = Lost
		if res.elapsed >= d.cfg.attemptDelay {
			res.outcome = LostSlow
		}
	default:
		res.outcome = Canceled
		res.err = cause
	}
	return res
}

// dialNet is the default attemptFunc: the configured net.Dialer on an IP
// literal, so it never resolves and never races by itself.
func (d *Dialer) dialNet(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
	return d.cfg.netDialer.DialContext(ctx, network, addr.String())
}

package dialer

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"
)

// AttemptOutcome says how one connection attempt to one address ended.
type AttemptOutcome int8

const (
	// Connected: the handshake completed (in a TLS dial, TCP's and TLS's).
	// If another attempt had already won, the connection was closed.
	Connected AttemptOutcome = iota
	// Failed: the address answered with an error (refused, reset,
	// unreachable; in a TLS dial also a connection dropped during the TLS
	// handshake).
	Failed
	// Stalled: the attempt reached its stall bound unanswered (see
	// WithAttemptTimeout), or, in a TLS dial, the handshake reached the
	// handshake timeout (its error then matches ErrHandshakeTimeout as well
	// as ErrAttemptTimeout).
	Stalled
	// LostSlow: a sibling won while this attempt had been unanswered for
	// longer than its attempt delay (it was suspect). It is remembered
	// against the address, so the next dial starts elsewhere, but not
	// charged to any breaker: it was never confirmed as a stall.
	LostSlow
	// Lost: a sibling won before the attempt delay ran out; neutral.
	Lost
	// Canceled: the caller's context ended (cancelled, or its deadline cut
	// the attempt short before the attempt timeout); neutral.
	Canceled
	// Skipped: the address's circuit breaker was open, so no attempt was
	// made.
	Skipped
	// Rejected: in a TLS dial (DialTLSContext), the TCP connection was made
	// but the handshake failed on certificates or protocol (an unknown
	// authority, a wrong name, an alert from the server, a peer that does
	// not speak TLS). It is a configuration problem, not an outage: the
	// dial ends at once with the error, is not retried, and the breakers
	// count it as neutral.
	Rejected
)

var outcomeNames = [...]string{"connected", "failed", "stalled", "lost-slow", "lost", "canceled", "skipped", "rejected"}

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
	// Elapsed is how long the attempt took, the TLS handshake included.
	Elapsed time.Duration
	// Handshake is how much of Elapsed the TLS handshake took; zero for a
	// plain TCP dial or when the TCP connection was not made.
	Handshake time.Duration
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

// errRaceRejected is the cancellation cause given to the other attempts
// when one TLS handshake was rejected: the dial ends with that error, and
// the cancelled attempts are neutral.
var errRaceRejected = errors.New("dialguard: another address rejected the TLS handshake")

// bounds is what an attempt needs to know of its dial: copied, so that the
// dial's own state stays on its goroutine's stack.
type bounds struct {
	network  string
	deadline time.Time
	expired  error
	tls      *tls.Config // non-nil in a TLS dial: the handshake is part of the attempt
}

// attemptResult is what one attempt reports back to the race.
type attemptResult struct {
	addr      netip.AddrPort
	conn      net.Conn
	err       error
	start     time.Time
	elapsed   time.Duration
	handshake time.Duration // of elapsed, the TLS handshake
	outcome   AttemptOutcome
	timing    attemptTiming // how the attempt was timed
}

// attempt dials addr (key is its text) once, bounded by its stall bound
// (tm) and the dial's deadline, and classifies the result. In a TLS dial
// (b.tls set) the handshake is part of the attempt: the outcome recorded for
// the address and the destination is the outcome of TCP and TLS together,
// so a server that accepts and then stalls in TLS is a stall, not a
// success. ctx is the race's context: its cancellation cause tells a lost
// race from the caller's cancellation. reusable, when not nil, is space for
// the attempt's context that nothing keeps after the attempt (see
// attemptCtx); otherwise the attempt gets a context of its own.
func (d *Dialer) attempt(ctx context.Context, reusable *attemptCtx, b bounds, addr netip.AddrPort, key string, tm attemptTiming) attemptResult {
	start := tm.launched
	if start.IsZero() {
		start = time.Now()
	}
	limit, stalls := start.Add(tm.stallAfter), true
	if !b.deadline.After(limit) {
		limit, stalls = b.deadline, false
	}
	actx, cancel := d.attemptContext(ctx, reusable, limit)
	conn, err := d.dialAddr(actx, b.network, addr, key)
	cancel()
	res := attemptResult{addr: addr, conn: conn, err: err, start: start, elapsed: time.Since(start), timing: tm}
	if err == nil {
		if b.tls != nil {
			d.handshake(ctx, b, &res)
			return res
		}
		res.outcome = Connected
		return res
	}
	if errors.Is(err, ErrDenied) {
		// The policy's second check, in Control: no connect was made.
		res.outcome = Skipped
		return res
	}
	limitCause := b.expired
	if stalls {
		limitCause = d.stallErrFor(tm.stallAfter)
	}
	cause, ended := context.Cause(ctx), ctx.Err()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && (ended == nil || limit.Before(b.deadline)):
		// The limit is enforced on the socket. net reports the socket's
		// deadline only while Done is still open, so the limit came first,
		// whatever ctx has done since; unless the limit is the dial's own
		// deadline and ctx has ended too, when ctx's cause says more.
		cause, ended = limitCause, context.DeadlineExceeded
	case cause == nil && isTimeout(err) && !time.Now().Before(limit):
		// A context's timer (see socketDeadlines) reported as net's timeout.
		cause, ended = limitCause, context.DeadlineExceeded
	case cause == nil:
		res.outcome = Failed
		return res
	}
	d.classifyCut(&res, cause, ended)
	return res
}

// stallErrFor is the cause of an attempt that stalled after bound: the
// Dialer's own, boxed once, when the bound is fixed (WithAttemptTimeout).
func (d *Dialer) stallErrFor(bound time.Duration) error {
	if bound == d.cfg.attemptTimeout {
		return d.stallErr
	}
	return stallError{bound}
}

// classifyCut sets the outcome of an attempt that its context cut short,
// from the context's cause: a stall (the attempt or handshake timeout), a
// lost race, or the caller's cancellation or deadline.
func (d *Dialer) classifyCut(res *attemptResult, cause, ended error) {
	switch {
	case errors.Is(cause, ErrAttemptTimeout):
		res.outcome = Stalled
		res.err = cause
	case errors.Is(cause, errLostRace):
		res.outcome = Lost
		// Only a TCP connect that went unanswered past the attempt delay is
		// evidence against the address; a connected TLS attempt answered.
		if res.elapsed >= res.timing.delay && res.handshake == 0 {
			res.outcome = LostSlow
		}
	default:
		// The cause, not the socket's "i/o timeout": a deadline that cut
		// the attempt short must match context.DeadlineExceeded, and a
		// cancellation context.Canceled, whatever cause the caller gave.
		res.outcome = Canceled
		res.err = withCause(ended, cause)
	}
}

// dialNet is the default attemptFunc: the configured net.Dialer on an IP
// literal, so it never resolves and never races by itself.
func (d *Dialer) dialNet(ctx context.Context, network string, _ netip.AddrPort, key string) (net.Conn, error) {
	if la, ok := ctx.Value(localAddrKey{}).(*net.TCPAddr); ok {
		nd := d.cfg.netDialer // DialTCP's local address, for this dial only
		nd.LocalAddr = la
		return nd.DialContext(ctx, network, key)
	}
	return d.cfg.netDialer.DialContext(ctx, network, key)
}

// isTimeout reports whether err is a timeout (net.Error's Timeout).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

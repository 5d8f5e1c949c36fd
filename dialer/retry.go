package dialer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dialguard/dialguard/breaker"
)

// nextRound decides whether a failed round is retried, and waits for the
// retry. It returns nil to go on, or the error that ends the dial. Retries
// are made only for failures a retry can fix (retryable) and, for a round
// that every address answered with an error (refused, reset), only toward a
// destination that has connected within the memory's ttl and whose last
// refusedRunNoRetry dials did not all fail, never for a half-open probe,
// within
// WithMaxRetries, within the destination's retry budget, and never when the
// wait would cross the dial's deadline: then the round's own error is
// returned at once rather than a deadline error after a pointless sleep.
func (d *Dialer) nextRound(ctx context.Context, c *call, try int, cause error, schedule *backoff.BackOff) error {
	if ctx.Err() != nil || try > d.cfg.maxRetries || c.led.rejected || !retryable(cause) {
		return cause
	}
	if answered(cause) && (c.led.destProbe || !c.dst.retriesHelp(time.Now(), d.cfg.memoryTTL)) {
		// A destination that refuses and has not connected recently, or
		// whose last refusedRunNoRetry dials all failed, gives no sign
		// that a retry would find it up: fail at once, as net.Dialer does,
		// and let its breaker see the refusals. A half-open probe is not
		// retried either: its answer is the breaker's verdict, and a
		// retried probe is several probes.
		return cause
	}
	if *schedule == nil {
		*schedule = d.cfg.newBackOff()
	}
	wait := (*schedule).NextBackOff()
	if wait == backoff.Stop {
		return cause
	}
	if time.Until(c.deadline) <= wait {
		return cause
	}
	if d.destOpen(c.t.key) {
		return retryRefused(cause)
	}
	if !c.dst.spendRetry(time.Now(), d.cfg.retryRatio, d.cfg.retryFloor) {
		return cause
	}
	d.logRetry(c.t.key, try+1, wait, cause)
	if c.obs.on {
		c.obs.retry(RetryInfo{Destination: c.t.key, Try: try + 1, Wait: wait, Cause: cause})
	}
	timer := time.NewTimer(wait)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		return ctxError(ctx)
	}
	// A retry that would go to an open breaker is not made, whether this
	// dial still holds its ticket (its round only saw refusals) or not.
	if d.destOpen(c.t.key) || c.led.openDest() != nil {
		return retryRefused(cause)
	}
	return nil
}

// destOpen reports whether the destination's breaker is open.
func (d *Dialer) destOpen(key string) bool {
	return d.destBreakers != nil && d.destBreakers.State(key) == breaker.Open
}

// retryRefused is the error of a dial whose retry an open breaker stopped.
func retryRefused(cause error) error {
	return fmt.Errorf("%w; retry not made, last failure: %w", ErrCircuitOpen, cause)
}

// retryable reports whether a retry can fix the failure: a refusal, reset,
// unreachable network or host, a stall (of TCP or of the TLS handshake), a
// connection dropped during the TLS handshake, or a temporary DNS failure.
// It is false for bad addresses, names that do not exist, the caller's
// cancellation, open breakers and rejected TLS handshakes (certificate or
// protocol errors; nextRound also checks the ledger for those).
func retryable(err error) bool {
	if errors.Is(err, ErrCircuitOpen) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrAttemptTimeout) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true // only a TLS handshake reads: the server hung up on it
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return !dnsErr.IsNotFound && (dnsErr.IsTemporary || dnsErr.IsTimeout)
	}
	for _, errno := range retryableErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// answered reports whether err is a failure the destination answered with
// (refused, reset) rather than a stall or a failure of our own side.
func answered(err error) bool {
	return !errors.Is(err, ErrAttemptTimeout) && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET))
}

var retryableErrnos = []error{
	syscall.ECONNREFUSED,
	syscall.ECONNRESET,
	syscall.ECONNABORTED,
	syscall.ENETUNREACH,
	syscall.EHOSTUNREACH,
	syscall.ETIMEDOUT,
	syscall.EADDRNOTAVAIL, // local ports exhausted for a moment
}

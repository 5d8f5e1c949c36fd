package dialer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// ErrCircuitOpen is the cause of a dial refused because the destination's
// circuit breaker is open (or half-open with its one probe already out), or
// because every address of the destination has an open breaker. Test for it
// with errors.Is; it is the same value as breaker.ErrOpen.
var ErrCircuitOpen = breaker.ErrOpen

// ErrAttemptTimeout is the cause of an attempt that reached the attempt
// timeout: a stall. errors.Is(err, ErrAttemptTimeout) tells a stall from
// other timeouts; net.Error's Timeout reports true for it.
var ErrAttemptTimeout error = stallError{}

// ErrNilContext is the cause of a dial given a nil context, on which
// net.Dialer panics: every Dial method fails at once, before any I/O, with
// a *net.OpError (Op "dial") wrapping it. It is bad input, not a timeout
// or a temporary error, and is never retried. Test for it with errors.Is.
var ErrNilContext = errors.New("nil context")

// stallError is an attempt that reached the attempt timeout.
type stallError struct{ after time.Duration }

func (e stallError) Error() string {
	if e.after == 0 {
		return "handshake unanswered within the attempt timeout (stall)"
	}
	return fmt.Sprintf("handshake unanswered after %v (stall)", e.after)
}
func (stallError) Timeout() bool        { return true }
func (stallError) Temporary() bool      { return true }
func (stallError) Is(target error) bool { _, ok := target.(stallError); return ok }

// AddressesError is the cause of a dial in which more than one address was
// tried and all failed. It keeps the first failure, as net.Dialer does, and
// unwraps to it, so errors.Is(err, syscall.ECONNREFUSED) and friends still
// work.
type AddressesError struct {
	// Tried is how many connection attempts the last round made (retries
	// are rounds of their own; attempts cut short count too).
	Tried int
	// FirstAddr is the address whose failure came first.
	FirstAddr netip.AddrPort
	// First is the first failure's cause.
	First error
}

// Error says how many attempts failed and what the first failure was.
func (e *AddressesError) Error() string {
	return fmt.Sprintf("all %d attempts failed; first %v: %v", e.Tried, e.FirstAddr, e.First)
}

// Unwrap returns the first failure.
func (e *AddressesError) Unwrap() error { return e.First }

// Timeout reports whether the first failure was a timeout.
func (e *AddressesError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.First, &t) && t.Timeout()
}

// Temporary reports whether the first failure was temporary.
func (e *AddressesError) Temporary() bool {
	var t interface{ Temporary() bool }
	return errors.As(e.First, &t) && t.Temporary()
}

// destAddr is the net.Addr of a destination as the caller gave it, so that
// errors name what was asked for even when it is a host name.
type destAddr struct{ network, address string }

func (a destAddr) Network() string { return a.network }
func (a destAddr) String() string  { return a.address }

// opError wraps cause the way net.Dialer does: a *net.OpError with Op
// "dial". A cause that already is a dial *net.OpError is returned as it is.
func opError(network, address string, cause error) error {
	if oe, ok := cause.(*net.OpError); ok && oe.Op == "dial" {
		return cause
	}
	var addr net.Addr
	if address != "" {
		addr = destAddr{network, address}
	}
	return &net.OpError{Op: "dial", Net: network, Addr: addr, Err: cause}
}

// innerCause strips the *net.OpError that net.Dialer wraps around an
// attempt's failure, so that it can be re-wrapped once with the
// destination's name.
func innerCause(err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Err != nil {
		return oe.Err
	}
	return err
}

// errNoAddresses explains a round in which no attempt produced an error of
// its own (every attempt was cut short).
var errNoAddresses = &net.AddrError{Err: "no suitable address found"}

// ctxError is what a dial reports when its context ended: the context's
// error (so errors.Is(err, context.Canceled) holds, as with net.Dialer),
// joined with the caller's cause when the context was given one.
func ctxError(ctx context.Context) error {
	return withCause(ctx.Err(), context.Cause(ctx))
}

// withCause joins a context's error and its cause so that errors.Is finds
// both; a cause that already matches the error (or none) stands alone.
func withCause(err, cause error) error {
	if cause == nil || err == nil || errors.Is(cause, err) {
		return cmp.Or(cause, err)
	}
	return fmt.Errorf("%w: %w", err, cause)
}

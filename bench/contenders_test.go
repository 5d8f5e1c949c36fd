package bench

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
)

// A contender is one dialer under test, with one configuration used in
// every scenario. new builds a fresh one (fresh breakers, fresh memory) for
// a resolver (nil: the default resolver, for IP literals); nd, if not nil,
// is the net.Dialer to make the connections with (benchmarks pass one with
// a Control hook to count attempts).
type contender struct {
	name string
	new  func(b *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc

	// counting, where the contender has breakers, builds one like new
	// that adds one to opens whenever one of its breakers opens.
	counting func(b *testing.B, r *net.Resolver, opens *atomic.Int64) dialFunc
}

// newCounting builds the contender for a resolver, counting its breakers'
// openings in opens (net.Dialer has none to count).
func (c contender) newCounting(b *testing.B, r *net.Resolver, opens *atomic.Int64) dialFunc {
	if c.counting == nil {
		return c.new(b, r, nil)
	}
	return c.counting(b, r, opens)
}

// The contenders, in the order they run and are charted.
var (
	// stdlib is net.Dialer with defaults: no Timeout, FallbackDelay 300 ms.
	stdlib = contender{"net.Dialer", func(_ *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc {
		return netDialer(r, nd, 0).DialContext
	}, nil}

	// stdlibTimeout is net.Dialer bounded by its Timeout (30 s, as
	// http.DefaultTransport's dialer): what bounding a dial costs in the
	// standard library itself (a context with a deadline and its timer).
	// Healthy paths only.
	stdlibTimeout = contender{"net.Dialer-timeout", func(_ *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc {
		return netDialer(r, nd, 30*time.Second).DialContext
	}, nil}

	// failsafe300ms and failsafe2s compose failsafe-go policies around
	// net.Dialer.DialContext; see newFailsafe.
	failsafe300ms = contender{"failsafe-300ms", func(_ *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc {
		return newFailsafe(netDialer(r, nd, 0), 300*time.Millisecond, nil)
	}, func(_ *testing.B, r *net.Resolver, opens *atomic.Int64) dialFunc {
		return newFailsafe(netDialer(r, nil, 0), 300*time.Millisecond, opens)
	}}
	failsafe2s = contender{"failsafe-2s", func(_ *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc {
		return newFailsafe(netDialer(r, nd, 0), 2*time.Second, nil)
	}, func(_ *testing.B, r *net.Resolver, opens *atomic.Int64) dialFunc {
		return newFailsafe(netDialer(r, nil, 0), 2*time.Second, opens)
	}}

	// dg is dialguard with defaults (only the resolver, and the counting
	// net.Dialer where a benchmark counts attempts, are set). Counting, it
	// sets only the breakers' OnStateChange, which leaves every other
	// breaker setting at its default; it counts the openings of both
	// registries, destinations' and addresses'.
	dg = contender{"dialguard", func(b *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc {
		return newDialguard(b, dgOptions(r, nd)...).DialContext
	}, func(b *testing.B, r *net.Resolver, opens *atomic.Int64) dialFunc {
		return newDialguard(b, dgOptions(r, nil, dialer.WithBreaker(breaker.Settings{
			OnStateChange: func(_ string, _, to breaker.State) {
				if to == breaker.Open {
					opens.Add(1)
				}
			},
		}))...).DialContext
	}}
)

// contenders is the line-up of every scenario; healthyContenders adds
// net.Dialer-timeout on the healthy paths.
var (
	contenders        = []contender{stdlib, failsafe300ms, failsafe2s, dg}
	healthyContenders = []contender{stdlib, stdlibTimeout, failsafe300ms, failsafe2s, dg}
)

// dgOptions returns the options that point a dialguard Dialer at r and nd,
// for contenders and diagnostic variants alike.
func dgOptions(r *net.Resolver, nd *net.Dialer, more ...dialer.Option) []dialer.Option {
	var opts []dialer.Option
	if r != nil {
		opts = append(opts, dialer.WithResolver(r))
	}
	if nd != nil {
		opts = append(opts, dialer.WithNetDialer(nd))
	}
	return append(opts, more...)
}

// netDialer returns a copy of nd (or a zero net.Dialer) with r and timeout.
func netDialer(r *net.Resolver, nd *net.Dialer, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{}
	if nd != nil {
		*d = *nd
	}
	d.Resolver = r
	d.Timeout = timeout
	return d
}

// newFailsafe composes failsafe-go's three policies around nd.DialContext
// the way failsafe-go's documentation composes them
// (failsafe.With(retryPolicy, circuitBreaker, timeout), i.e.
// RetryPolicy(CircuitBreaker(Timeout(dial)))), with settings matched to
// dialguard's defaults where the two libraries have the same knob:
//
//   - timeout.New(limit): each attempt is bounded by limit (300 ms or 2 s:
//     failsafe-go has no race and no memory, so this one number decides
//     both how long a stalled attempt holds a caller and how long a slow
//     but working path may take);
//   - retrypolicy: 3 retries, exponential backoff 50 ms doubling to 2 s
//     with ±50 % jitter, returning the last failure (so errors keep
//     net.Dialer's shape), aborted on an open breaker or a cancelled
//     caller;
//   - circuitbreaker: opens after 3 failures in a row, half-opens after
//     5 s.
//
// The caller's context is passed through Executor.WithContext, and the
// attempt dials with the execution's context, which the timeout cancels.
// One executor (one breaker) serves all the dials of one contender
// instance; benchmarks make a fresh instance per scenario (and per storm),
// so no breaker state leaks from one scenario into the next. If opens is
// not nil, every opening of the breaker adds one to it.
func newFailsafe(nd *net.Dialer, limit time.Duration, opens *atomic.Int64) dialFunc {
	rp := retrypolicy.NewBuilder[net.Conn]().
		WithMaxRetries(3).
		WithBackoff(50*time.Millisecond, 2*time.Second).
		WithJitterFactor(0.5).
		AbortOnErrors(circuitbreaker.ErrOpen, context.Canceled).
		ReturnLastFailure().
		Build()
	cbb := circuitbreaker.NewBuilder[net.Conn]().
		WithFailureThreshold(3).
		WithDelay(5 * time.Second)
	if opens != nil {
		cbb = cbb.OnOpen(func(circuitbreaker.StateChangedEvent) { opens.Add(1) })
	}
	cb := cbb.Build()
	to := timeout.New[net.Conn](limit)
	exec := failsafe.With[net.Conn](rp, cb, to)
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		return exec.WithContext(ctx).GetWithExecution(func(e failsafe.Execution[net.Conn]) (net.Conn, error) {
			return nd.DialContext(e.Context(), network, address)
		})
	}
}

// isCircuitOpen reports whether err is a refusal by an open breaker, of
// dialguard or of failsafe-go.
func isCircuitOpen(err error) bool {
	return errors.Is(err, dialer.ErrCircuitOpen) || errors.Is(err, circuitbreaker.ErrOpen)
}

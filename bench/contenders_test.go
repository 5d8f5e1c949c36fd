package bench

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
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
	// that tells w whenever one of its breakers opens.
	counting func(b *testing.B, r *net.Resolver, nd *net.Dialer, w *breakerWatch) dialFunc
}

// newCounting builds the contender for a resolver (and nd, as new takes
// it), telling w of its breakers' openings (net.Dialer has none).
func (c contender) newCounting(b *testing.B, r *net.Resolver, nd *net.Dialer, w *breakerWatch) dialFunc {
	if c.counting == nil {
		return c.new(b, r, nd)
	}
	return c.counting(b, r, nd, w)
}

// breakerWatch counts a contender's breaker openings and notes when the
// first one came; for dialguard it also keeps when each attempt started,
// so that suspicion can be read off: how soon into a round a second
// address was started beside the first.
type breakerWatch struct {
	opens atomic.Int64

	mu      sync.Mutex
	openAts []time.Time // when each opening came
	starts  map[roundKey][]time.Time
}

// roundKey names one round of one dial.
type roundKey struct {
	dial time.Time
	try  int
}

func (w *breakerWatch) opened() {
	w.opens.Add(1)
	w.mu.Lock()
	w.openAts = append(w.openAts, time.Now())
	w.mu.Unlock()
}

// attempted keeps an attempt's start (attempts skipped by an open breaker
// were never started).
func (w *breakerWatch) attempted(ai dialer.AttemptInfo) {
	if ai.Outcome == dialer.Skipped {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.starts == nil {
		w.starts = make(map[roundKey][]time.Time)
	}
	k := roundKey{ai.DialStart, ai.Try}
	w.starts[k] = append(w.starts[k], ai.Start)
}

// forget drops the starts kept so far.
func (w *breakerWatch) forget() {
	w.mu.Lock()
	w.starts = nil
	w.mu.Unlock()
}

// suspectAfter returns the shortest time, over the rounds seen, from a
// round's first attempt to its second, and whether any round had two.
func (w *breakerWatch) suspectAfter() (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	best, ok := time.Duration(0), false
	for _, starts := range w.starts {
		if len(starts) < 2 {
			continue
		}
		slices.SortFunc(starts, time.Time.Compare)
		if gap := starts[1].Sub(starts[0]); !ok || gap < best {
			best, ok = gap, true
		}
	}
	return best, ok
}

// firstOpenSince returns how long after t0 the first breaker opening at
// or after t0 came, and whether one did.
func (w *breakerWatch) firstOpenSince(t0 time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.openAts {
		if !at.Before(t0) {
			return at.Sub(t0), true
		}
	}
	return 0, false
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
	}, func(_ *testing.B, r *net.Resolver, nd *net.Dialer, w *breakerWatch) dialFunc {
		return newFailsafe(netDialer(r, nd, 0), 300*time.Millisecond, w)
	}}
	failsafe2s = contender{"failsafe-2s", func(_ *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc {
		return newFailsafe(netDialer(r, nd, 0), 2*time.Second, nil)
	}, func(_ *testing.B, r *net.Resolver, nd *net.Dialer, w *breakerWatch) dialFunc {
		return newFailsafe(netDialer(r, nd, 0), 2*time.Second, w)
	}}

	// dg is dialguard with defaults (only the resolver, and the counting
	// net.Dialer where a benchmark counts attempts, are set). Counting, it
	// sets only the breakers' OnStateChange, which leaves every other
	// breaker setting at its default; it counts the openings of both
	// registries, destinations' and addresses'.
	dg = contender{"dialguard", func(b *testing.B, r *net.Resolver, nd *net.Dialer) dialFunc {
		return newDialguard(b, dgOptions(r, nd)...).DialContext
	}, func(b *testing.B, r *net.Resolver, nd *net.Dialer, w *breakerWatch) dialFunc {
		return newDialguard(b, dgOptions(r, nd, dialer.WithBreaker(breaker.Settings{
			OnStateChange: func(_ string, _, to breaker.State) {
				if to == breaker.Open {
					w.opened()
				}
			},
		}), dialer.WithAttemptObserver(w.attempted))...).DialContext
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
// so no breaker state leaks from one scenario into the next. If w is not
// nil, it is told of every opening of the breaker.
func newFailsafe(nd *net.Dialer, limit time.Duration, w *breakerWatch) dialFunc {
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
	if w != nil {
		cbb = cbb.OnOpen(func(circuitbreaker.StateChangedEvent) { w.opened() })
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

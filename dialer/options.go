package dialer

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/dialguard/dialguard/breaker"
)

// Defaults. The delays come from RFC 8305 (Happy Eyeballs Version 2); the
// whole-dial timeout matches http.DefaultTransport.
const (
	// DefaultTimeout bounds a whole dial, retries included, when the context
	// carries no earlier deadline (http.DefaultTransport uses 30 s).
	DefaultTimeout = 30 * time.Second

	// DefaultAttemptTimeout is the stall bound of an attempt to an address
	// the dialer knows nothing about: no handshake of its own, and not
	// loopback. An attempt unanswered by then is a stall, charged to the
	// breakers. Two seconds let the kernel's first SYN retransmission (at
	// 1 s) be answered over a path of up to a second's round trip, so a
	// healthy far host (700 ms) or a lost SYN is never taken for a dead
	// host. Once an address has answered, its own history times it: see
	// WithAttemptTimeout.
	DefaultAttemptTimeout = 2 * time.Second

	// DefaultAttemptDelay is RFC 8305's recommended Connection Attempt Delay
	// (section 5), used where the dialer has no round trip to go by: the
	// next address is tried when the running attempt has not answered
	// within it. With history the delay comes from the estimate; see
	// WithAttemptDelay.
	DefaultAttemptDelay = 250 * time.Millisecond

	// MinAttemptDelay and MaxAttemptDelay are RFC 8305's bounds on the
	// Connection Attempt Delay (section 5); a delay from history is kept
	// within them.
	MinAttemptDelay = 10 * time.Millisecond
	MaxAttemptDelay = 2 * time.Second

	// DefaultResolutionDelay is RFC 8305's Resolution Delay (section 3): how
	// long to wait for the AAAA answer once the A answer is in.
	DefaultResolutionDelay = 50 * time.Millisecond

	// DefaultMemoryTTL is how long a destination's last winning address and
	// its stalled addresses are remembered. After it, a recovered address
	// gets another chance.
	DefaultMemoryTTL = time.Minute

	// DefaultMemorySize bounds how many destinations are remembered. The
	// least recently dialled of those that are idle are forgotten first;
	// one with dials in flight, and one that has stalled since it last
	// connected or whose breaker is open, only when no healthier one is
	// left.
	DefaultMemorySize = 4096

	// DefaultMaxAddresses caps how many resolved addresses are raced in one
	// dial, so a name answering with hundreds of addresses cannot multiply
	// the connection attempts.
	DefaultMaxAddresses = 10

	// DefaultAdmissionLimit is how many dials may be in flight at once to a
	// destination that has no recent success or whose attempts stall.
	DefaultAdmissionLimit = 4

	// DefaultMaxRetries is how many times a failed dial is retried (after
	// the first try) when the failure is one a retry can fix.
	DefaultMaxRetries = 3

	// DefaultRetryRatio and DefaultRetryFloor form the retry budget of a
	// destination: over the last 10 to 20 s (this RetryBudgetWindow and the
	// one before), retries may be at most DefaultRetryRatio of the dials
	// plus DefaultRetryFloor. Half the dials: a connection attempt is cheap
	// next to a request, and the breaker, not the budget, is what cuts off
	// a dead destination (refusals of one that has not connected recently
	// are not retried at all). A server refusing half its callers is
	// reached by about 0.75 of them with it, 0.61 with a fifth
	// (BenchmarkRefusingHalf).
	DefaultRetryRatio = 0.5
	DefaultRetryFloor = 10

	// RetryBudgetWindow is the step in which the retry budget counts dials
	// and retries: it counts the current window and the one before, so
	// "recent" means the last 10 to 20 s.
	RetryBudgetWindow = 10 * time.Second
)

// Backoff defaults, sized for connection setup rather than for requests: the
// first wait is tens of milliseconds, the waits double with ±50 % jitter and
// are capped at two seconds.
const (
	DefaultBackoffInitial    = 50 * time.Millisecond
	DefaultBackoffMultiplier = 2.0
	DefaultBackoffJitter     = 0.5
	DefaultBackoffMax        = 2 * time.Second
)

// Option configures a Dialer. Options are applied by New in order and
// validated there, so a Dialer that New returned never fails on its
// configuration.
type Option func(*config) error

// config holds every setting of a Dialer, with the defaults set in one place
// (defaultConfig).
type config struct {
	resolver        Resolver
	logger          *zap.Logger
	netDialer       net.Dialer
	timeout         time.Duration
	attemptTimeout  time.Duration // zero: learnt per destination (timing.go)
	attemptDelay    time.Duration // zero: learnt per destination
	resolutionDelay time.Duration
	memoryTTL       time.Duration
	memorySize      int
	maxAddresses    int

	breakerOn       bool
	breakerSettings breaker.Settings
	admissionLimit  int

	maxRetries int
	newBackOff func() backoff.BackOff
	retryRatio float64
	retryFloor int
	onAttempt  func(AttemptInfo)
	hooks      []Hooks     // WithHooks, in order (hooks.go)
	shared     SharedState // WithSharedState (shared.go)
	policy     *Policy

	tls tlsOptions // DialTLSContext's settings (tls_options.go)
}

func defaultConfig() config {
	return config{
		resolver:        net.DefaultResolver,
		logger:          zap.NewNop(),
		timeout:         DefaultTimeout,
		resolutionDelay: DefaultResolutionDelay,
		memoryTTL:       DefaultMemoryTTL,
		memorySize:      DefaultMemorySize,
		maxAddresses:    DefaultMaxAddresses,
		breakerOn:       true,
		admissionLimit:  DefaultAdmissionLimit,
		maxRetries:      DefaultMaxRetries,
		newBackOff:      defaultBackOff,
		retryRatio:      DefaultRetryRatio,
		retryFloor:      DefaultRetryFloor,
	}
}

// defaultBackOff is the retry schedule used unless WithBackoff replaces it.
func defaultBackOff() backoff.BackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     DefaultBackoffInitial,
		RandomizationFactor: DefaultBackoffJitter,
		Multiplier:          DefaultBackoffMultiplier,
		MaxInterval:         DefaultBackoffMax,
		// The dial's deadline, not the schedule, ends the retries.
		MaxElapsedTime: 0,
		Stop:           backoff.Stop,
		Clock:          backoff.SystemClock,
	}
	b.Reset()
	return b
}

// optionError names the option that was given a bad value.
func optionError(option, format string, args ...any) error {
	return fmt.Errorf("dialguard: %s: %s", option, fmt.Sprintf(format, args...))
}

// WithResolver sets the resolver used for host names (and for service
// names' ports, if it has LookupPort as *net.Resolver does). The default
// is net.DefaultResolver. A nil resolver is an error, and so is a nil
// pointer of any other type in the interface (it would crash the first
// dial), except a nil *net.Resolver, which is net's default resolver, as
// it is for net.Dialer.
//
// The dial does not depend on the resolver behaving, on any network:
//
//   - It is bounded by the dial's deadline. A resolver other than
//     *net.Resolver is called from a goroutine of its own, which the dial
//     stops waiting for when its deadline passes or its context ends; one
//     that ignores its context keeps only that goroutine, until it
//     returns.
//   - A panic in it is recovered in the goroutine that called it and
//     fails that lookup with a *net.DNSError that unwraps to a
//     *ResolverPanicError (the resolver's type, the method, the panic value
//     and the stack), logged at Error and not retried. Like any failed
//     lookup it fails the dial (a *net.OpError wrapping it), except on
//     "tcp" when the other family's lookup has addresses: they are raced. (A *net.Resolver runs its
//     queries in goroutines of its own, where a panic in its Dial function
//     is beyond reach, as it is for net.Dialer.)
//   - Its answers are taken by the rules of the Resolver interface.
func WithResolver(r Resolver) Option {
	return func(c *config) error {
		if r == nil {
			return optionError("WithResolver", "nil resolver")
		}
		if nr, ok := r.(*net.Resolver); ok && nr == nil {
			r = net.DefaultResolver // a nil *net.Resolver is net's default, as in net.Dialer
		} else if v := reflect.ValueOf(r); v.Kind() == reflect.Pointer && v.IsNil() {
			// A nil pointer in the interface: it would crash the first dial.
			return optionError("WithResolver", "nil resolver (a nil %T)", r)
		}
		c.resolver = r
		return nil
	}
}

// WithLogger sets the logger. The default logs nothing (zap.NewNop). The
// dialer names it "dialguard". Attempts are logged at Debug, breaker state
// changes at Info (closing) and Warn (opening), a resolver's panic
// (WithResolver) at Error. A nil logger is an error.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optionError("WithLogger", "nil logger (use zap.NewNop() to log nothing)")
		}
		c.logger = l
		return nil
	}
}

// WithTimeout bounds a whole dial, resolution, race and retries included,
// when the context has no earlier deadline. The default is DefaultTimeout
// (30 s). It must be positive: a dial without a bound is what this package
// exists to prevent.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithTimeout", "must be positive, got %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithAttemptTimeout fixes the bound of one handshake to one address, for
// every address; an attempt that reaches it is a stall and counts against
// the address and the destination. It must be positive.
//
// By default the bound is learnt per destination (timing.go): ten times
// the retransmission timeout its handshakes have shown (RFC 6298's srtt +
// 4 rttvar), at least 100 ms, and at least the kernel's SYN retransmission
// (1 s) plus two timeouts where ten times would come near it or the path
// has lost a SYN recently; at most 15 s. Loopback without history: 100 ms.
// Any other address without history: DefaultAttemptTimeout (2 s). So a
// LAN host answering in a millisecond is given up on after 100 ms, and a
// host 700 ms away after seconds, not at its first handshake.
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return optionError("WithAttemptTimeout", "must be positive, got %v", d)
		}
		c.attemptTimeout = d
		return nil
	}
}

// WithAttemptDelay fixes RFC 8305's Connection Attempt Delay: how long an
// attempt may go unanswered before the next address is tried alongside it.
// Values below MinAttemptDelay (10 ms) are an error, as the RFC sets that
// floor.
//
// By default the delay comes from history, as RFC 8305 section 5
// recommends: the retransmission timeout of the address's (or its
// destination's) handshakes, within MinAttemptDelay and MaxAttemptDelay;
// 10 ms for loopback without history; for other addresses without history,
// that of what the process has seen of their family and class (private and
// link-local, public), or DefaultAttemptDelay (250 ms) before it has seen
// any. An attempt past its delay is suspect: the next address starts
// beside it and the destination's admission limit engages.
func WithAttemptDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < MinAttemptDelay {
			return optionError("WithAttemptDelay", "must be at least %v (RFC 8305 section 5), got %v", MinAttemptDelay, d)
		}
		c.attemptDelay = d
		return nil
	}
}

// WithResolutionDelay sets RFC 8305's Resolution Delay: how long to wait for
// the AAAA answer when the A answer came first. The default is
// DefaultResolutionDelay (50 ms). Zero starts at once with the IPv4
// addresses; negative is an error.
//
// It also decides when a destination may be resolved in one lookup of both
// families (network "ip"), which the standard resolver answers for less
// than two lookups of one family each: after its name resolved within the
// delay to addresses of one family only (the other answering "none"), for
// as long as the memory keeps it (WithStallMemory), and with the delay as
// that lookup's bound. A name with addresses of both families is always
// resolved per family, so that the first answer starts the race. When the
// bound runs out the dial asks per family and starts on the first answer
// with addresses, and the destination is resolved per family for the
// memory's ttl: a resolver that was prompt and turns slow costs up to one
// delay more than RFC 8305 would, on one dial. Zero never takes the
// shortcut.
func WithResolutionDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return optionError("WithResolutionDelay", "must not be negative, got %v", d)
		}
		c.resolutionDelay = d
		return nil
	}
}

// WithNetDialer sets the net.Dialer that makes each connection attempt.
// The dialer is copied. Every field is honoured or refused here, naming
// it:
//
//   - LocalAddr, KeepAlive, KeepAliveConfig, Control, ControlContext and
//     multipath TCP (SetMultipathTCP) apply to every attempt, as in net. A
//     LocalAddr of one family leaves out the other family's addresses, as
//     net.Dialer does.
//   - Resolver, if set, resolves names, as WithResolver would (a later
//     WithResolver replaces it).
//   - FallbackDelay, if positive, fixes the attempt delay, as
//     WithAttemptDelay would (at least MinAttemptDelay); negative (no fast
//     fallback) is refused: dialguard always races.
//   - DualStack is deprecated and ignored, as net.Dialer ignores it.
//   - Timeout, Deadline and Cancel are refused: dialguard owns deadlines
//     and cancellation (WithTimeout, WithAttemptTimeout, the context).
//
// A nil dialer is an error. The context ControlContext receives carries the
// caller's values and cancellation, and its Done closes at the attempt's
// deadline.
func WithNetDialer(nd *net.Dialer) Option {
	return func(c *config) error {
		if nd == nil {
			return optionError("WithNetDialer", "nil *net.Dialer")
		}
		if nd.Timeout != 0 || !nd.Deadline.IsZero() {
			return optionError("WithNetDialer", "Timeout and Deadline are not used; set WithTimeout and WithAttemptTimeout instead")
		}
		if nd.Cancel != nil {
			// net would wrap each attempt's context in one of its own,
			// hiding the attempt's deadline from ControlContext.
			return optionError("WithNetDialer", "Cancel (deprecated) is not used; cancel the context given to DialContext instead")
		}
		switch {
		case nd.FallbackDelay < 0:
			return optionError("WithNetDialer", "FallbackDelay %v (no fast fallback) is not supported: dialguard always races the addresses (RFC 8305)", nd.FallbackDelay)
		case nd.FallbackDelay > 0 && nd.FallbackDelay < MinAttemptDelay:
			return optionError("WithNetDialer", "FallbackDelay must be at least %v (RFC 8305 section 5), got %v", MinAttemptDelay, nd.FallbackDelay)
		case nd.FallbackDelay > 0:
			c.attemptDelay = nd.FallbackDelay
		}
		if nd.Resolver != nil {
			c.resolver = nd.Resolver
		}
		c.netDialer = *nd
		c.netDialer.Resolver = nil // the race dials IP literals; nothing to resolve there
		c.netDialer.FallbackDelay = 0
		c.netDialer.DualStack = false //nolint:staticcheck // deprecated, ignored by net too
		return nil
	}
}

// WithStallMemory sets how long (ttl) and for how many destinations (size)
// the dialer remembers which address won, which stalled and whether the
// name resolved promptly to one family (see WithResolutionDelay). The defaults are
// DefaultMemoryTTL (1 min) and DefaultMemorySize (4096). Both must be
// positive.
func WithStallMemory(ttl time.Duration, size int) Option {
	return func(c *config) error {
		if ttl <= 0 {
			return optionError("WithStallMemory", "ttl must be positive, got %v", ttl)
		}
		if size <= 0 {
			return optionError("WithStallMemory", "size must be positive, got %d", size)
		}
		c.memoryTTL, c.memorySize = ttl, size
		return nil
	}
}

// WithMaxAddresses caps how many resolved addresses one dial races. The
// default is DefaultMaxAddresses (10). It must be positive.
func WithMaxAddresses(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return optionError("WithMaxAddresses", "must be positive, got %d", n)
		}
		c.maxAddresses = n
		return nil
	}
}

// WithBreaker sets the circuit breakers' settings. Breakers are on by
// default with breaker.Settings{}, whose zero values mean the documented
// defaults: trip after 3 stalls in a row, or when 90 % of at least 10
// dials within 10 s failed (refusals count only here, so a destination
// that still serves some of its callers is not cut off); stay open 1 to
// 1.25 s, then let one probe through, however long the destination has
// been away; at most 10,000 breakers. The settings are used for both the
// per-destination and the per-address breakers. Invalid settings are an
// error.
func WithBreaker(s breaker.Settings) Option {
	return func(c *config) error {
		if err := s.Validate(); err != nil {
			return optionError("WithBreaker", "%v", err)
		}
		c.breakerOn = true
		c.breakerSettings = s
		return nil
	}
}

// WithoutBreaker turns the circuit breakers off: no destination or address
// is ever failed fast. Stall memory and admission still work.
func WithoutBreaker() Option {
	return func(c *config) error {
		c.breakerOn = false
		return nil
	}
}

// WithAdmissionLimit sets how many dials may be in flight at once to a
// destination that has had no success within the stall memory's ttl, or
// whose attempts have stalled since its last success. Further callers wait
// (until their context ends, a slot frees, the destination answers, or its
// breaker opens, which fails them with ErrCircuitOpen). A destination that
// answers is never throttled. The default is DefaultAdmissionLimit (4); zero
// turns admission control off; negative is an error.
func WithAdmissionLimit(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return optionError("WithAdmissionLimit", "must not be negative, got %d", n)
		}
		c.admissionLimit = n
		return nil
	}
}

// WithMaxRetries sets how many times a dial is retried after a failure a
// retry can fix (refused, reset, unreachable, stall, temporary DNS failure).
// The default is DefaultMaxRetries (3); zero disables retries; negative is an
// error. Retries never outlast the dial's deadline and are limited by the
// destination's retry budget (see WithRetryBudget).
func WithMaxRetries(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return optionError("WithMaxRetries", "must not be negative, got %d", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithBackoff sets the retry schedule: newBackOff is called once per dial
// that retries, and the schedule's NextBackOff gives each wait (backoff.Stop
// ends the retries). The default is exponential with jitter: 50 ms initial,
// doubling, ±50 %, capped at 2 s. A nil function is an error.
func WithBackoff(newBackOff func() backoff.BackOff) Option {
	return func(c *config) error {
		if newBackOff == nil {
			return optionError("WithBackoff", "nil function")
		}
		c.newBackOff = newBackOff
		return nil
	}
}

// WithRetryBudget sets the retry budget of each destination: over the last
// 10 to 20 s (the current RetryBudgetWindow and the one before), retries
// may be at most ratio times the number of dials plus floor. The defaults
// are DefaultRetryRatio (0.5) and DefaultRetryFloor (10): a destination
// failing under load sees at most about 1.5 attempts per dial instead of
// 1+MaxRetries. ratio must be in [0, 1] and floor must not be negative.
func WithRetryBudget(ratio float64, floor int) Option {
	return func(c *config) error {
		if !(ratio >= 0 && ratio <= 1) {
			return optionError("WithRetryBudget", "ratio must be in [0, 1], got %v", ratio)
		}
		if floor < 0 {
			return optionError("WithRetryBudget", "floor must not be negative, got %d", floor)
		}
		c.retryRatio, c.retryFloor = ratio, floor
		return nil
	}
}

// WithAttemptObserver registers a function called once for every finished
// (or skipped) connection attempt, with what happened. It is called from the
// dialing goroutine, in the order the attempts finished, and every attempt
// of a dial has been observed before DialContext returns. It is how tracers
// and metrics see the race. It must not block. A nil function is an error.
func WithAttemptObserver(fn func(AttemptInfo)) Option {
	return func(c *config) error {
		if fn == nil {
			return optionError("WithAttemptObserver", "nil function")
		}
		c.onAttempt = fn
		return nil
	}
}

// errNilOption is returned by New for a nil Option.
var errNilOption = errors.New("dialguard: nil Option")

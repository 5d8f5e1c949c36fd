package breaker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"
)

// Defaults used for zero fields of [Settings].
//
// A breaker is meant to cut off a destination that is dead, not one that is
// flaky: expensive failures (a stalled handshake holds a socket and a
// caller for the whole attempt timeout) trip it after a few in a row, while
// cheap ones (a refusal costs one round trip) trip it only when nearly
// everything fails: 90 % of at least 10 outcomes within 10 s, or 20 in a
// row (a destination that served and now refuses everything). A server
// refusing half its callers still serves the other half, and a retry
// reaches it; one refusing 9 in 10 of a steady flow is, for its callers,
// down. Recovery follows the destination rather than the outage's length:
// an open breaker lets one probe through after 1 to 1.25 s (jittered, so
// that a fleet of processes does not probe in step), however long the
// destination has been away.
const (
	DefaultConsecutiveFailures = 3
	DefaultFailureRatio        = 0.9
	DefaultMinRequests         = 10
	DefaultConsecutiveRefusals = 20
	DefaultWindow              = 10 * time.Second
	DefaultOpenTimeout         = time.Second
	DefaultOpenJitter          = 0.25
	DefaultMaxBreakers         = 10000
)

// windowBuckets is the number of buckets of the rolling window: counts age
// out in steps of Window/windowBuckets.
const windowBuckets = 10

// Settings configures a [Registry]. The zero value is valid and gives the
// defaults documented on each field. Settings are validated once, by
// [NewRegistry].
type Settings struct {
	// ConsecutiveFailures trips a closed breaker after this many Failure
	// outcomes in a row within Window: the expensive failures. Neutral and
	// Refused outcomes neither count nor break the run; a Success does. If
	// zero, a default of 3 is used.
	ConsecutiveFailures uint32

	// FailureRatio also trips a closed breaker when, within Window,
	// (Failures + Refusals) / (Successes + Failures + Refusals) >=
	// FailureRatio and that sum is at least MinRequests. Neutral outcomes
	// and requests still in flight are not counted. It must be at most 1.
	// If zero, DefaultFailureRatio (0.9) is used; negative disables the
	// rule, and then Refused outcomes never trip the breaker.
	FailureRatio float64

	// MinRequests is the number of outcomes a breaker needs in Window before
	// FailureRatio applies. If zero, a default of 10 is used. It has no
	// effect when FailureRatio is negative.
	MinRequests uint32

	// ConsecutiveRefusals also trips a closed breaker after this many
	// failures in a row of either kind (Refused and Failure; a Success
	// breaks the run, Neutral does not): a destination that served for a
	// while and then refuses every request is dead now, though its
	// earlier successes keep the Window's ratio below FailureRatio for
	// most of a Window. Twenty: a destination that fails half its
	// requests does that about once in a million runs. If zero, a default
	// of 20 is used. It has no effect when FailureRatio is negative.
	ConsecutiveRefusals uint32

	// Window is how long a closed breaker remembers outcomes. Counts are
	// kept in a rolling window of 10 buckets of Window/10 each, so an outcome
	// ages out between 0.9 and 1 Window after it was reported (outcomes
	// are filed under the time of Done, not of Allow). If zero, a default
	// of 10s is used. Negative is invalid.
	Window time.Duration

	// OpenTimeout is how long a breaker stays open after it trips, before it
	// lets one probe through. If zero, a default of 1s is used. Negative is
	// invalid.
	OpenTimeout time.Duration

	// MaxOpenTimeout, if longer than OpenTimeout, makes failed probes
	// escalate the open time: each failed probe reopens the breaker for
	// twice as long as the time before (OpenTimeout, 2*OpenTimeout, ...)
	// up to MaxOpenTimeout, and a successful probe starts over at
	// OpenTimeout. If zero, OpenTimeout is used: no escalation, so a
	// destination is found again within OpenTimeout of its return however
	// long it was away. Negative is invalid, and so is a value less than
	// OpenTimeout.
	MaxOpenTimeout time.Duration

	// OpenJitter lengthens each open time by a random fraction of it, up to
	// OpenJitter (0.25: open for 1 to 1.25 times the open time), so that
	// breakers that opened together do not probe together. It must be at
	// most 1. If zero, DefaultOpenJitter (0.25) is used; negative means no
	// jitter.
	OpenJitter float64

	// MaxBreakers bounds the number of breakers kept in memory. When a new
	// key would exceed it, the least recently used closed breaker that has
	// seen no failure since its last success is forgotten; if there is
	// none, the least recently used closed one; and only if every breaker
	// is open or half-open, the least recently used of those. So fresh keys
	// churn through healthy breakers and leave the ones cutting off dead
	// keys in place. If zero, a default of 10000 is used. Negative is
	// invalid.
	MaxBreakers int

	// OnStateChange, if not nil, is called after a breaker changes state,
	// with no lock of the Registry held: it may call the Registry, including
	// for the same key. Calls for one key are made one at a time and in the
	// order of the changes, though not necessarily from the goroutine that
	// caused the change; calls for different keys may run concurrently. It
	// must not block or panic: it runs on the caller's dial path.
	OnStateChange func(key string, from, to State)

	// ProbeGate, if not nil, is asked whether a half-open breaker may let
	// its probe through now, with the breaker's key, once the breaker
	// would otherwise let it: only then, never for a closed or open
	// breaker, so a healthy key never calls it. False refuses the request
	// with ErrOpen, as if another probe were out, and the next Allow asks
	// again. It lets processes that share what their breakers learn send
	// one probe for all of them. It runs on the caller's path with no lock
	// of the Registry held; it must return quickly and not panic.
	ProbeGate func(key string) bool

	// Logger receives one entry per state change: Warn when a breaker opens,
	// Info when it becomes half-open or closes, with the fields "key",
	// "from", "state", "trips" and, when opening, "open_for". If nil, logs
	// are discarded.
	Logger *zap.Logger
}

// Validate reports the first invalid field of s, or nil. Zero fields are
// valid: they stand for the defaults.
func (s Settings) Validate() error {
	_, err := s.effective()
	return err
}

// effective returns s with its defaults applied, or the first validation
// error.
func (s Settings) effective() (Settings, error) {
	if math.IsNaN(s.FailureRatio) || s.FailureRatio > 1 {
		return s, fmt.Errorf("breaker: Settings.FailureRatio must be at most 1 (negative disables it), got %v", s.FailureRatio)
	}
	if math.IsNaN(s.OpenJitter) || s.OpenJitter > 1 {
		return s, fmt.Errorf("breaker: Settings.OpenJitter must be at most 1 (negative disables it), got %v", s.OpenJitter)
	}
	if s.Window < 0 {
		return s, fmt.Errorf("breaker: Settings.Window must not be negative, got %v", s.Window)
	}
	if s.OpenTimeout < 0 {
		return s, fmt.Errorf("breaker: Settings.OpenTimeout must not be negative, got %v", s.OpenTimeout)
	}
	if s.MaxOpenTimeout < 0 {
		return s, fmt.Errorf("breaker: Settings.MaxOpenTimeout must not be negative, got %v", s.MaxOpenTimeout)
	}
	if s.MaxBreakers < 0 {
		return s, fmt.Errorf("breaker: Settings.MaxBreakers must not be negative, got %d", s.MaxBreakers)
	}

	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	switch {
	case s.FailureRatio == 0:
		s.FailureRatio = DefaultFailureRatio
	case s.FailureRatio < 0:
		s.FailureRatio = -1
	}
	switch {
	case s.OpenJitter == 0:
		s.OpenJitter = DefaultOpenJitter
	case s.OpenJitter < 0:
		s.OpenJitter = -1
	}
	if s.MinRequests == 0 {
		s.MinRequests = DefaultMinRequests
	}
	if s.ConsecutiveRefusals == 0 {
		s.ConsecutiveRefusals = DefaultConsecutiveRefusals
	}
	if s.Window == 0 {
		s.Window = DefaultWindow
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = DefaultOpenTimeout
	}
	if s.MaxOpenTimeout == 0 {
		s.MaxOpenTimeout = s.OpenTimeout
	}
	if s.MaxOpenTimeout < s.OpenTimeout {
		return s, fmt.Errorf("breaker: Settings.MaxOpenTimeout must be at least OpenTimeout (%v), got %v",
			s.OpenTimeout, s.MaxOpenTimeout)
	}
	if s.MaxBreakers == 0 {
		s.MaxBreakers = DefaultMaxBreakers
	}
	if s.Logger == nil {
		s.Logger = zap.NewNop()
	}
	return s, nil
}

// mayProbe reports whether the ProbeGate, if any, lets key's probe go.
func (s *Settings) mayProbe(key string) bool {
	return s.ProbeGate == nil || s.ProbeGate(key)
}

// openFor returns how long a breaker stays open on its trips-th consecutive
// trip: OpenTimeout doubled trips-1 times, capped at MaxOpenTimeout.
func (s *Settings) openFor(trips int) time.Duration {
	d := s.OpenTimeout
	for i := 1; i < trips && d < s.MaxOpenTimeout; i++ {
		if d > s.MaxOpenTimeout/2 {
			return s.MaxOpenTimeout
		}
		d *= 2
	}
	return min(d, s.MaxOpenTimeout)
}

// jitter lengthens d by a random fraction of it, up to OpenJitter.
func (s *Settings) jitter(d time.Duration) time.Duration {
	if s.OpenJitter <= 0 {
		return d
	}
	return d + time.Duration(rand.Float64()*s.OpenJitter*float64(d))
}

// readyToTrip is gobreaker's ReadyToTrip for these (effective) settings,
// given the breaker's counts and its run of Failure outcomes (expensive
// failures; c.ConsecutiveFailures counts refusals too).
func (s *Settings) readyToTrip(c Counts, expensiveRun uint32) bool {
	if expensiveRun >= s.ConsecutiveFailures {
		return true
	}
	if s.FailureRatio < 0 {
		return false
	}
	if c.ConsecutiveFailures >= s.ConsecutiveRefusals {
		return true
	}
	n := uint64(c.Successes) + uint64(c.Failures)
	return n >= uint64(s.MinRequests) && float64(c.Failures) >= s.FailureRatio*float64(n)
}

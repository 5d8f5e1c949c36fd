package breaker

import (
	"errors"
	"strconv"
	"time"
)

// ErrOpen is returned by [Registry.Allow] when the key's breaker is open, or
// half-open with its single probe already in flight. Callers test for it
// with errors.Is.
var ErrOpen = errors.New("dialguard: circuit open")

// State is the state of one breaker.
type State int8

// The states of a breaker. The zero value is Closed.
const (
	// Closed lets every request through and counts outcomes.
	Closed State = iota
	// HalfOpen lets one probe through; its outcome closes or reopens the
	// breaker.
	HalfOpen
	// Open refuses every request with ErrOpen.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Outcome is what a caller reports through the done function returned by
// [Registry.Allow].
type Outcome int8

// The outcomes of a request.
const (
	// Success counts for the key and, for a probe, closes the breaker.
	Success Outcome = iota
	// Failure is an expensive failure (a stall, a timeout): it counts
	// against the key, toward both trip rules (Settings.ConsecutiveFailures
	// and Settings.FailureRatio), and, for a probe, reopens the breaker.
	// Values other than the four outcomes are treated as Failure.
	Failure
	// Neutral is neither success nor failure: it does not count and does not
	// reset the run of consecutive failures. Use it for the caller's own
	// cancellation. A neutral probe lets the next request probe instead.
	Neutral
	// Refused is a cheap failure, answered at once (a connection refused or
	// reset): it counts toward Settings.FailureRatio only, so a key that
	// still serves some of its requests is not cut off, and neither breaks
	// nor extends a run of Failure outcomes. For a probe it reopens the
	// breaker, like Failure.
	Refused
)

// String returns "success", "failure", "neutral" or "refused".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Neutral:
		return "neutral"
	case Refused:
		return "refused"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Counts are the outcomes a breaker has seen in its current period: the
// rolling [Settings.Window] while closed, since the last state change
// otherwise. Counts are cleared on every state change.
type Counts struct {
	Requests             uint32 // requests whose outcome was reported
	Successes            uint32 // outcomes reported as Success
	Failures             uint32 // outcomes reported as Failure or Refused
	Exclusions           uint32 // outcomes reported as Neutral
	ConsecutiveSuccesses uint32 // successes since the last failure
	ConsecutiveFailures  uint32 // Failure and Refused outcomes since the last success
}

// Snapshot is a point-in-time view of one breaker, from [Registry.Snapshot].
type Snapshot struct {
	// Key is the breaker's key.
	Key string
	// State is the breaker's state.
	State State
	// Counts are the outcomes seen in the current period.
	Counts Counts
	// Trips is the number of times the breaker has opened since it was last
	// closed: 0 while closed, 1 after the first trip, one more for each
	// failed probe.
	Trips int
	// OpenUntil is when the breaker lets its next probe through. It is zero
	// unless State is Open.
	OpenUntil time.Time
}

// Package breaker keeps a bounded set of circuit breakers keyed by string.
//
// A dialer asks the [Registry] before every attempt: [Registry.Allow] returns
// either [ErrOpen], so the caller fails in microseconds instead of queueing
// behind a destination that does not answer, or a [Ticket] through which the
// caller later reports the attempt's [Outcome]: [Success]; [Failure] for
// an expensive failure (a stall, a timeout); [Refused] for a cheap one,
// answered at once (refused, reset); or [Neutral] for results that say
// nothing about the peer (the caller's own cancellation, a race loser
// cancelled because a sibling won). Neither Allow nor the report allocates,
// because every healthy dial makes both.
//
// Each key has its own breaker, a [github.com/sony/gobreaker/v2]
// CircuitBreaker to which each outcome is reported whole when the ticket is
// done. It starts [Closed] and counts outcomes in a rolling window. It
// trips to [Open] after [Settings.ConsecutiveFailures] Failure outcomes in
// a row (stalls are expensive: a few are enough), or when failures of
// either kind make up [Settings.FailureRatio] of at least
// [Settings.MinRequests] outcomes in the window (refusals are cheap: only a
// key that is essentially dead is cut off, not one that is flaky). While
// open every Allow fails fast. Once the open time has passed (by default
// 1 s, lengthened by up to a quarter at random so that breakers that opened
// together do not probe together) the breaker is [HalfOpen] and lets
// exactly one probe through; every other Allow still fails fast. A
// successful probe closes the breaker; a failed one opens it again, for as
// long as before, or, if [Settings.MaxOpenTimeout] asks for it, for twice
// as long up to that cap.
//
// Memory is bounded: the registry keeps at most [Settings.MaxBreakers]
// breakers. To make room it evicts the least recently used idle closed
// breaker, and breakers with requests in flight, with failures, or open
// or half-open only when there is nothing healthier to evict (see
// [Settings.MaxBreakers]), so that traffic to fresh keys cannot push out
// the breaker that cuts a dead key off. An evicted breaker is forgotten;
// the key starts Closed the next time it is used.
//
// No goroutine or timer runs in the background. Time is read with
// [time.Now] when the registry is used, so the move from Open to HalfOpen is
// noticed by the first Allow, State or Snapshot after
// [Snapshot.OpenUntil], and tests can drive the whole state machine with the
// fake clock of [testing/synctest].
package breaker

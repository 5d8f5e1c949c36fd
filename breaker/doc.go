// Package breaker keeps a bounded set of circuit breakers keyed by string.
//
// A dialer asks the [Registry] before every attempt: [Registry.Allow] returns
// either [ErrOpen], so the caller fails in microseconds instead of queueing
// behind a destination that does not answer, or a [Ticket] through which the
// caller later reports the attempt's [Outcome]: [Success], [Failure], or
// [Neutral] for results that say nothing about the peer (the caller's own
// cancellation, a race loser cancelled because a sibling won). Neither
// Allow nor the report allocates, because every healthy dial makes both.
//
// Each key has its own breaker, a [github.com/sony/gobreaker/v2]
// CircuitBreaker to which each outcome is reported whole when the ticket is
// done. It starts [Closed] and counts outcomes in a rolling window. It trips to [Open] after [Settings.ConsecutiveFailures] failures
// in a row, or when the share of failures in the window reaches
// [Settings.FailureRatio]. While open every Allow fails fast. Once
// [Settings.OpenTimeout] has passed the breaker is [HalfOpen] and lets
// exactly one probe through; every other Allow still fails fast. A
// successful probe closes the breaker; a failed one opens it again for twice
// as long as the time before, up to [Settings.MaxOpenTimeout], so a
// destination that stays dead is probed less and less often.
//
// Memory is bounded: the registry keeps at most [Settings.MaxBreakers]
// breakers and evicts the least recently used one to make room. An evicted
// breaker is forgotten, whatever its state; the key starts Closed the next
// time it is used.
//
// No goroutine or timer runs in the background. Time is read with
// [time.Now] when the registry is used, so the move from Open to HalfOpen is
// noticed by the first Allow, State or Snapshot after
// [Snapshot.OpenUntil], and tests can drive the whole state machine with the
// fake clock of [testing/synctest].
package breaker

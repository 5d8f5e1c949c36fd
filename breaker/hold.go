package breaker

import "time"

// What a registry learns from outside: another process sharing its
// breakers' verdicts (see Settings.ProbeGate for the probe it may send for
// all of them). None of these calls is made on a request's path.

// Hold opens key's breaker until until, as if it had tripped with that
// open time: Allow fails with ErrOpen until then, and the breaker is
// half-open afterwards (one probe, through the ProbeGate if there is one).
// A breaker already open until later stays open until later; an until in
// the past does nothing. The change is reported like any other (the
// Logger, OnStateChange), and counts as a trip for MaxOpenTimeout's
// escalation. Hold creates a breaker for a key it has not seen, and marks
// key as recently used.
func (r *Registry) Hold(key string, until time.Time) {
	if !until.After(time.Now()) {
		return
	}
	e := r.lookUpOrCreate(key)
	e.hold(until)
	r.retier(e) // open now: kept past healthy breakers (Registry)
}

// Release closes key's breaker if it is open or half-open: another
// process's probe found the key answering. A probe in flight is then a
// request of an earlier state, and its outcome is ignored. Release does
// nothing for a closed breaker or a key the registry does not hold.
func (r *Registry) Release(key string) {
	if e, ok := r.cache.Peek(key); ok {
		e.release()
		r.retier(e)
	}
}

// Charge counts an outcome seen elsewhere (another process's stall of the
// same key, say) against key's closed breaker, as a Ticket's Done would,
// so that it may trip: o counts as Done(o) counts it. An open or half-open
// breaker is left alone, since its own probe decides. Charge creates a
// breaker for a key it has not seen.
func (r *Registry) Charge(key string, o Outcome) {
	e := r.lookUpOrCreate(key)
	if stamp := e.stamp.Load(); stampState(stamp) == Closed {
		e.inFlight.Add(1) // as Allow counts it: Done uncounts it
		Ticket{e: e, stamp: stamp}.Done(o)
	}
}

// lookUpOrCreate returns key's breaker, marked recently used, creating a
// closed one for a key the registry does not hold.
func (r *Registry) lookUpOrCreate(key string) *entry {
	if e, ok := r.cache.Get(key); ok {
		return e
	}
	e, _ := r.cache.GetOrAdd(key, newEntry(key, r))
	return e
}

// maxHoldTries bounds hold's retries when the breaker changes state under
// it: each retry follows a change someone else made.
const maxHoldTries = 4

func (e *entry) hold(until time.Time) {
	for range maxHoldTries {
		stamp := e.stamp.Load()
		if stampState(stamp) == Open {
			// Lengthen the open time if until is later. Nothing else
			// writes heldUntil while the breaker stays open.
			if u := e.heldUntil.Load(); u != nil && !u.Before(until) {
				return
			}
			e.heldUntil.Store(&until)
			if e.stamp.Load() == stamp {
				return
			}
			continue // it moved to half-open meanwhile: trip it again
		}
		// Closed or half-open: one forced failure trips it, under
		// reporting so that no ticket's report comes between.
		e.reporting.Lock()
		if e.stamp.Load() == stamp {
			e.holdUntil.Store(&until)
			e.forced.Store(true)
			_, _ = e.cb.Execute(reports[Failure])
			e.forced.Store(false)
			e.holdUntil.Store(nil)
		}
		e.reporting.Unlock()
		e.flush()
		if stampState(e.stamp.Load()) == Open {
			return
		}
	}
}

func (e *entry) release() {
	for range maxHoldTries {
		stamp := e.stamp.Load()
		switch stampState(stamp) {
		case Closed:
			return
		case Open:
			// The open time is over now: gobreaker (whose own timeout is
			// a nanosecond) moves to half-open when asked, once its clock
			// has passed that nanosecond; the sleep makes sure it has
			// (a fake clock too does not move by itself).
			past := time.Now().Add(-time.Nanosecond)
			e.heldUntil.Store(&past)
			time.Sleep(time.Nanosecond)
			e.cb.State()
			e.flush()
			continue
		}
		// Half-open: one success closes it, as a probe's would.
		e.reporting.Lock()
		if e.stamp.Load() == stamp {
			_, _ = e.cb.Execute(reports[Success])
		}
		e.reporting.Unlock()
		e.flush()
	}
}

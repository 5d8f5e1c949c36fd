package breaker

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"
)

// Outcomes are reported to gobreaker as errors: nil is a success, errNeutral
// is excluded (see gobreaker.Settings.IsExcluded), anything else a failure.
var (
	errFailure = errors.New("breaker: failure")
	errNeutral = errors.New("breaker: neutral")
)

func isNeutral(err error) bool { return err == errNeutral }

func outcomeErr(o Outcome) error {
	switch o {
	case Success:
		return nil
	case Neutral:
		return errNeutral
	}
	return errFailure
}

// reports are the requests handed to gobreaker's Execute when a ticket
// reports its outcome: functions without captures, so a report allocates
// nothing.
var reports = [...]func() (struct{}, error){
	Success: func() (struct{}, error) { return struct{}{}, nil },
	Failure: func() (struct{}, error) { return struct{}{}, errFailure },
	Neutral: func() (struct{}, error) { return struct{}{}, errNeutral },
}

func reportOf(o Outcome) func() (struct{}, error) {
	if o == Success || o == Neutral {
		return reports[o]
	}
	return reports[Failure]
}

// entry is the breaker of one key: a gobreaker CircuitBreaker, plus the
// escalating open time gobreaker does not have, and tickets that cost no
// allocation.
//
// gobreaker's two-step breaker allocates a closure per request. Here a
// request is reported to gobreaker whole, by Execute, when its ticket is
// done; Allow itself reads one atomic while the breaker is closed. What
// gobreaker's generations did for a request in flight, stamp does: a
// ticket carries the stamp of its Allow, and its outcome is reported only
// if the breaker has not changed state since. The half-open probe is let
// out by probing, one at a time, as gobreaker's MaxRequests of 1 did.
//
// Lock order: reporting, then gobreaker's mutex, then mu. gobreaker calls
// onChange with its mutex held, so nothing here calls gobreaker while
// holding mu, and the user's hook and the logger run with no lock held
// (see flush).
type entry struct {
	key string
	r   *Registry
	cb  *gobreaker.CircuitBreaker[struct{}]

	// stamp is the breaker's state (low 2 bits) and the number of state
	// changes so far (the rest), set by onChange: one word, so a ticket
	// reads state and generation together.
	stamp atomic.Uint64

	// reporting makes a ticket's check of its stamp and its report to
	// gobreaker one step: only a report can trip a closed breaker, so no
	// state change can come between the two.
	reporting sync.Mutex

	// probing is whether the half-open breaker's probe is out.
	probing atomic.Bool

	// expensiveRun is the run of Failure outcomes since the last Success
	// or state change: gobreaker's own run counts refusals too. Written
	// under reporting, before the report it counts; cleared by onChange.
	expensiveRun atomic.Uint32

	// failing is whether a Failure or Refused outcome was counted since
	// the last Success or state change: it ranks the breaker for eviction
	// (Registry), so one that is on its way to tripping outlives healthy
	// ones. Written under reporting; cleared by onChange.
	failing atomic.Bool

	// inFlight counts the tickets out (and Allow calls under way): a
	// breaker whose requests have not reported yet outlives idle ones,
	// or fresh keys would push it out before its first failure counts.
	inFlight atomic.Int32

	// heldUntil is when the breaker may leave Open, set on every trip. Until
	// then nothing calls gobreaker, whose own timeout is a nanosecond
	// and whose move to half-open happens when it is called. Nil while not
	// open.
	heldUntil atomic.Pointer[time.Time]

	// pending is the number of events not yet taken by flush: a lock-free
	// check for the hot path.
	pending atomic.Int32

	// forced and holdUntil carry a Hold into gobreaker (hold.go): forced
	// makes readyToTrip say yes, holdUntil is the open time onChange sets.
	forced    atomic.Bool
	holdUntil atomic.Pointer[time.Time]

	mu     sync.Mutex
	trips  int     // trips since the breaker was last closed
	events []event // state changes not yet reported
	firing bool    // a goroutine is reporting events
}

// event is one state change, recorded under gobreaker's lock and reported
// after it is released.
type event struct {
	from, to State
	trips    int
	openFor  time.Duration
}

func newEntry(key string, r *Registry) *entry {
	e := &entry{key: key, r: r}
	e.stamp.Store(uint64(Closed))
	e.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         key,
		MaxRequests:  1,
		Interval:     r.s.Window,
		BucketPeriod: r.s.Window / windowBuckets,
		// heldUntil decides when an open breaker may probe: gobreaker's
		// own timeout only has to be over by then, and a Release must be
		// able to move it on at once (hold.go).
		Timeout:       time.Nanosecond,
		ReadyToTrip:   e.readyToTrip,
		OnStateChange: e.onChange,
		IsExcluded:    isNeutral,
	})
	return e
}

func stampState(stamp uint64) State { return State(stamp & 3) }

// readyToTrip is the breaker's gobreaker ReadyToTrip. gobreaker calls it
// inside Execute, so from Done, after Done has counted the outcome in
// expensiveRun.
func (e *entry) readyToTrip(c gobreaker.Counts) bool {
	if e.forced.Load() {
		return true
	}
	return e.r.s.readyToTrip(countsOf(c), e.expensiveRun.Load())
}

// held reports whether the breaker is open by its own (escalated) clock.
func (e *entry) held() bool {
	u := e.heldUntil.Load()
	return u != nil && !time.Now().After(*u)
}

func (e *entry) allow() (Ticket, error) {
	stamp := e.stamp.Load()
	if stampState(stamp) == Open {
		if e.held() {
			return Ticket{}, ErrOpen
		}
		// The open time is over: asking gobreaker moves it to half-open
		// (onChange runs inside), unless another caller already has.
		e.cb.State()
		e.flush()
		stamp = e.stamp.Load()
	}
	switch stampState(stamp) {
	case Closed: // a probe may have closed it meanwhile
		return Ticket{e: e, stamp: stamp}, nil
	case Open:
		return Ticket{}, ErrOpen
	}
	if !e.probing.CompareAndSwap(false, true) {
		return Ticket{}, ErrOpen
	}
	// The probe was let out for this half-open period only if the breaker
	// is still in it, and, with a ProbeGate, if the gate lets it.
	if e.stamp.Load() != stamp || !e.r.s.mayProbe(e.key) {
		e.probing.Store(false)
		return Ticket{}, ErrOpen
	}
	return Ticket{e: e, stamp: stamp, probe: true}, nil
}

// Ticket is one request that Allow let through. Report its outcome with
// Done, exactly once. The zero Ticket's Done does nothing. A Ticket is a
// small value, and neither Allow nor Done allocates.
type Ticket struct {
	e     *entry
	stamp uint64
	probe bool
}

// Probe reports whether the request is the half-open breaker's one probe,
// whose outcome decides whether the breaker closes or opens again.
func (t Ticket) Probe() bool { return t.probe }

// Done reports the request's outcome. Call it once: a second call would be
// counted again. An outcome reported after the breaker has changed state
// since Allow is ignored, as gobreaker ignores outcomes from an earlier
// generation.
func (t Ticket) Done(o Outcome) {
	e := t.e
	if e == nil {
		return
	}
	e.reporting.Lock()
	changed := false // whether this report changed the tier's inputs
	if e.stamp.Load() == t.stamp {
		switch o {
		case Success:
			e.expensiveRun.Store(0)
			changed = e.failing.Swap(false)
		case Neutral:
		case Refused:
			changed = !e.failing.Swap(true)
		default:
			e.expensiveRun.Add(1)
			changed = !e.failing.Swap(true)
		}
		// Execute counts the request and its outcome; its error (the
		// breaker would not take a request) cannot occur in the state the
		// stamp shows.
		_, _ = e.cb.Execute(reportOf(o))
		changed = changed || e.stamp.Load() != t.stamp
	}
	e.reporting.Unlock()
	if t.probe {
		e.probing.Store(false)
	}
	e.flush()
	if e.inFlight.Add(-1) == 0 || changed {
		// The breaker may belong to another tier now (Registry); the
		// healthy path, with other requests still in flight, skips this.
		e.r.retier(e)
	}
}

// enter counts a request in flight and returns the tier that calls for.
// It is the registry's Use function, called with the cache's lock held.
func (e *entry) enter() int {
	e.inFlight.Add(1)
	return e.tier()
}

// leave uncounts a request that Allow refused.
func (e *entry) leave() {
	// The count drops before the state is read: a change to Closed made
	// after this read is followed by its own retier, which sees the count.
	if e.inFlight.Add(-1) == 0 && stampState(e.stamp.Load()) == Closed {
		e.r.retier(e)
	}
}

// tier is the registry tier the breaker's state calls for.
func (e *entry) tier() int {
	switch {
	case stampState(e.stamp.Load()) != Closed:
		return tierTripped
	case e.failing.Load():
		return tierFailing
	case e.inFlight.Load() > 0:
		return tierBusy
	}
	return tierHealthy
}

// refuses reports whether allow would return ErrOpen now. Closed and
// half-open are read from the stamp, without gobreaker's lock: only a
// report (Execute) leaves either state, and the hot path of a closed
// breaker must not take a lock for this. Open asks gobreaker once its
// open time is over, as allow does.
func (e *entry) refuses() bool {
	for range 2 {
		switch stampState(e.stamp.Load()) {
		case Closed:
			return false
		case HalfOpen:
			return e.probing.Load()
		}
		if e.held() {
			return true
		}
		// The open time is over: asking gobreaker moves it to half-open
		// (onChange runs inside), unless another caller already has.
		e.cb.State()
		e.flush()
	}
	return stampState(e.stamp.Load()) == Open
}

func (e *entry) state() State {
	if e.held() {
		return Open
	}
	s := stateOf(e.cb.State())
	e.flush()
	return s
}

func (e *entry) snapshot() Snapshot {
	s := Snapshot{Key: e.key, State: e.state(), Counts: countsOf(e.cb.Counts())}
	e.mu.Lock()
	s.Trips = e.trips
	e.mu.Unlock()
	if s.State == Open {
		if u := e.heldUntil.Load(); u != nil {
			s.OpenUntil = *u
		}
	}
	return s
}

// onChange is gobreaker's OnStateChange. It runs with gobreaker's mutex
// held: it records the change and leaves reporting it to flush.
func (e *entry) onChange(_ string, from, to gobreaker.State) {
	ev := event{from: stateOf(from), to: stateOf(to)}
	t := time.Now()
	e.mu.Lock()
	switch ev.to {
	case Open:
		e.trips++
		ev.openFor = e.r.s.jitter(e.r.s.openFor(e.trips))
		until := t.Add(ev.openFor)
		if h := e.holdUntil.Load(); h != nil { // a Hold: its time, not ours
			until, ev.openFor = *h, h.Sub(t)
		}
		e.heldUntil.Store(&until)
	case Closed:
		e.trips = 0
		e.heldUntil.Store(nil)
	default:
		e.heldUntil.Store(nil)
	}
	e.expensiveRun.Store(0)
	e.failing.Store(false)
	// Changes are serialized by gobreaker's mutex: a plain add is enough.
	e.stamp.Store((e.stamp.Load()&^3 + 4) | uint64(ev.to))
	ev.trips = e.trips
	e.events = append(e.events, ev)
	e.pending.Add(1)
	e.mu.Unlock()
}

// flush reports recorded state changes with no lock held. One goroutine at
// a time reports, in order; one that finds another reporting leaves its
// events to it. Every path that calls gobreaker calls flush afterwards, so
// no event is left behind.
func (e *entry) flush() {
	if e.pending.Load() == 0 {
		return
	}
	e.mu.Lock()
	if e.firing {
		e.mu.Unlock()
		return
	}
	e.firing = true
	for len(e.events) > 0 {
		evs := e.events
		e.events = nil
		e.pending.Store(0)
		e.mu.Unlock()
		for _, ev := range evs {
			e.report(ev)
		}
		e.mu.Lock()
	}
	e.firing = false
	e.mu.Unlock()
}

func (e *entry) report(ev event) {
	log := e.r.s.Logger
	fields := []zap.Field{
		zap.String("key", e.key),
		zap.String("from", ev.from.String()),
		zap.String("state", ev.to.String()),
		zap.Int("trips", ev.trips),
	}
	switch ev.to {
	case Open:
		log.Warn("circuit breaker opened", append(fields, zap.Duration("open_for", ev.openFor))...)
	case HalfOpen:
		log.Info("circuit breaker half-open, probing", fields...)
	default:
		log.Info("circuit breaker closed", fields...)
	}
	if h := e.r.s.OnStateChange; h != nil {
		h(e.key, ev.from, ev.to)
	}
}

func stateOf(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return HalfOpen
	case gobreaker.StateOpen:
		return Open
	}
	return Closed
}

func countsOf(c gobreaker.Counts) Counts {
	return Counts{
		Requests:             c.Requests,
		Successes:            c.TotalSuccesses,
		Failures:             c.TotalFailures,
		Exclusions:           c.TotalExclusions,
		ConsecutiveSuccesses: c.ConsecutiveSuccesses,
		ConsecutiveFailures:  c.ConsecutiveFailures,
	}
}

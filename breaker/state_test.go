package breaker

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

const key = "db.internal:5432"

// newTestRegistry returns a registry with s, whose zero open times and
// jitter stand for a fixed, escalating schedule (open 5 s, doubling up to
// 60 s, no jitter) and whose zero FailureRatio disables the ratio rule, so
// that the tests of the state machine read exact times and trip only on
// the rule they test. The defaults themselves are tested on their own.
func newTestRegistry(t *testing.T, s Settings) *Registry {
	t.Helper()
	if s.OpenTimeout == 0 {
		s.OpenTimeout = 5 * time.Second
	}
	if s.MaxOpenTimeout == 0 {
		s.MaxOpenTimeout = max(60*time.Second, s.OpenTimeout)
	}
	if s.OpenJitter == 0 {
		s.OpenJitter = -1
	}
	if s.FailureRatio == 0 {
		s.FailureRatio = -1
	}
	r, err := NewRegistry(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// report lets one request through for key and reports o.
func report(t *testing.T, r *Registry, o Outcome) {
	t.Helper()
	done, err := r.Allow(key)
	if err != nil {
		t.Fatalf("Allow() = %v, want a request let through", err)
	}
	done.Done(o)
}

func wantState(t *testing.T, r *Registry, want State) {
	t.Helper()
	if got := r.State(key); got != want {
		t.Fatalf("State() = %v, want %v", got, want)
	}
}

func wantRefused(t *testing.T, r *Registry) {
	t.Helper()
	done, err := r.Allow(key)
	if !errors.Is(err, ErrOpen) || done != (Ticket{}) {
		t.Fatalf("Allow() = (%v, %v), want (zero Ticket, ErrOpen)", done, err)
	}
}

func TestTripsAfterConsecutiveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{})
		report(t, r, Failure)
		report(t, r, Failure)
		wantState(t, r, Closed)
		report(t, r, Failure)
		wantState(t, r, Open)
		wantRefused(t, r)

		snap, ok := r.Snapshot(key)
		if !ok || snap.State != Open || snap.Trips != 1 || !snap.OpenUntil.Equal(time.Now().Add(5*time.Second)) {
			t.Fatalf("Snapshot() = %+v, %v", snap, ok)
		}
	})
}

func TestNeutralNeitherCountsNorResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{})
		report(t, r, Failure)
		report(t, r, Failure)
		report(t, r, Neutral)
		report(t, r, Neutral)
		snap, _ := r.Snapshot(key)
		want := Counts{Requests: 4, Failures: 2, Exclusions: 2, ConsecutiveFailures: 2}
		if snap.State != Closed || snap.Counts != want {
			t.Fatalf("Snapshot() = %+v, want closed with counts %+v", snap, want)
		}
		report(t, r, Failure)
		wantState(t, r, Open)
	})
}

func TestSuccessResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{})
		report(t, r, Failure)
		report(t, r, Failure)
		report(t, r, Success)
		report(t, r, Failure)
		report(t, r, Failure)
		wantState(t, r, Closed)
		report(t, r, Failure)
		wantState(t, r, Open)
	})
}

func TestHalfOpenLetsOneProbeThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1})
		report(t, r, Failure)

		time.Sleep(5 * time.Second) // exactly OpenTimeout: not yet passed
		wantState(t, r, Open)
		wantRefused(t, r)

		time.Sleep(time.Millisecond)
		wantState(t, r, HalfOpen)
		probe, err := r.Allow(key)
		if err != nil {
			t.Fatalf("Allow() = %v, want the probe let through", err)
		}

		// Other callers, concurrent with the probe, are refused at once.
		errs := make(chan error, 10)
		for range cap(errs) {
			go func() {
				_, err := r.Allow(key)
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; !errors.Is(err, ErrOpen) {
				t.Fatalf("concurrent Allow() = %v, want ErrOpen", err)
			}
		}
		wantState(t, r, HalfOpen)

		probe.Done(Success)
		wantState(t, r, Closed)
		if snap, _ := r.Snapshot(key); snap.Trips != 0 || !snap.OpenUntil.IsZero() {
			t.Fatalf("Snapshot() = %+v, want no trips after a successful probe", snap)
		}
		report(t, r, Success)
	})
}

func TestNeutralProbeLetsAnotherProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1})
		report(t, r, Failure)
		time.Sleep(5*time.Second + time.Millisecond)
		report(t, r, Neutral)
		wantState(t, r, HalfOpen)
		report(t, r, Success)
		wantState(t, r, Closed)
	})
}

func TestFailedProbeDoublesOpenTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const open = 5 * time.Second
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1, OpenTimeout: open, MaxOpenTimeout: 30 * time.Second})
		report(t, r, Failure)

		// Trips 1..5 stay open 5s, 10s, 20s, then the 30s cap.
		for i, d := range []time.Duration{open, 2 * open, 4 * open, 30 * time.Second, 30 * time.Second} {
			snap, _ := r.Snapshot(key)
			if snap.State != Open || snap.Trips != i+1 || !snap.OpenUntil.Equal(time.Now().Add(d)) {
				t.Fatalf("trip %d: Snapshot() = %+v, want open for %v", i+1, snap, d)
			}
			if i > 0 {
				// gobreaker's own timeout has passed; the escalation holds.
				time.Sleep(open + time.Millisecond)
				wantState(t, r, Open)
				wantRefused(t, r)
				time.Sleep(d - open - time.Millisecond)
			} else {
				time.Sleep(d)
			}
			wantRefused(t, r) // at exactly d: not yet passed
			time.Sleep(time.Millisecond)
			report(t, r, Failure) // the probe fails
		}

		// A successful probe closes, and the next trip starts over at 5s.
		time.Sleep(30*time.Second + time.Millisecond)
		report(t, r, Success)
		wantState(t, r, Closed)
		report(t, r, Failure)
		snap, _ := r.Snapshot(key)
		if snap.State != Open || snap.Trips != 1 || !snap.OpenUntil.Equal(time.Now().Add(open)) {
			t.Fatalf("after a successful probe: Snapshot() = %+v, want open for %v", snap, open)
		}
	})
}

func TestFailureRatio(t *testing.T) {
	s := Settings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 10, Window: 10 * time.Second}

	t.Run("trips", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newTestRegistry(t, s)
			for range 4 {
				report(t, r, Success)
				report(t, r, Failure)
			}
			report(t, r, Neutral) // does not count towards MinRequests
			report(t, r, Success)
			wantState(t, r, Closed) // 4 of 9
			report(t, r, Failure)
			wantState(t, r, Open) // 5 of 10
		})
	})

	t.Run("below ratio", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newTestRegistry(t, s)
			for range 10 {
				report(t, r, Success)
				report(t, r, Failure)
				report(t, r, Success)
			}
			wantState(t, r, Closed) // 10 of 30
		})
	})

	t.Run("old failures age out", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newTestRegistry(t, s)
			for range 4 {
				report(t, r, Failure)
				report(t, r, Success)
			}
			time.Sleep(5 * time.Second)
			if snap, _ := r.Snapshot(key); snap.Counts.Failures != 4 {
				t.Fatalf("after half a window: Counts = %+v, want the 4 failures kept", snap.Counts)
			}
			time.Sleep(5 * time.Second)
			if snap, _ := r.Snapshot(key); snap.Counts != (Counts{}) {
				t.Fatalf("after a window: Counts = %+v, want none", snap.Counts)
			}
			// 6 of 12 in one window would trip; 2 of 4 is below MinRequests.
			for range 2 {
				report(t, r, Failure)
				report(t, r, Success)
			}
			wantState(t, r, Closed)
		})
	})
}

// A request let through before the breaker opened may report long after;
// that must not end the escalated open time early.
func TestLateOutcomeKeepsOpenTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1})
		slow, err := r.Allow(key)
		if err != nil {
			t.Fatal(err)
		}
		report(t, r, Failure)
		time.Sleep(5*time.Second + time.Millisecond)
		report(t, r, Failure) // failed probe: open for 10s
		time.Sleep(6 * time.Second)
		slow.Done(Failure) // after gobreaker's own 5s timeout, inside the 10s
		wantState(t, r, Open)
		time.Sleep(4 * time.Second)
		wantRefused(t, r)
		time.Sleep(time.Millisecond)
		wantState(t, r, HalfOpen)
	})
}

// A ticket from before a trip, reported once the breaker is half-open, is
// not taken for the probe: it neither closes the breaker nor uses up the
// probe.
func TestStaleTicketIsNotTheProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1})
		stale, err := r.Allow(key)
		if err != nil {
			t.Fatal(err)
		}
		report(t, r, Failure)
		time.Sleep(5*time.Second + time.Millisecond)
		wantState(t, r, HalfOpen)

		stale.Done(Success)
		wantState(t, r, HalfOpen)
		probe, err := r.Allow(key)
		if err != nil || !probe.Probe() {
			t.Fatalf("Allow() = (%+v, %v), want the probe", probe, err)
		}
		probe.Done(Failure)
		wantState(t, r, Open)
	})
}

// The closed path is the path of every healthy dial: a ticket costs no
// allocation, whatever its outcome.
func TestTicketsAllocateNothing(t *testing.T) {
	r := newTestRegistry(t, Settings{})
	for _, o := range []Outcome{Success, Neutral, Failure} {
		allocs := testing.AllocsPerRun(100, func() {
			tk, err := r.Allow(key)
			if err != nil {
				t.Fatal(err)
			}
			tk.Done(o)
			if o == Failure {
				tk, _ = r.Allow(key) // keep the breaker closed
				tk.Done(Success)
			}
		})
		if allocs != 0 {
			t.Errorf("Allow and Done(%v): %v allocations, want 0", o, allocs)
		}
	}
}

// Refuses says what Allow would say, without taking a ticket: false while
// closed and while half-open with no probe out, true while open and while
// the probe is out. It moves a breaker whose open time is over to
// half-open, and creates nothing.
func TestRefusesTellsWhetherAllowWouldRefuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1, OpenJitter: -1})
		if r.Refuses(key) || r.Len() != 0 {
			t.Fatalf("Refuses(unknown) = true or created a breaker (Len %d)", r.Len())
		}
		report(t, r, Success)
		if r.Refuses(key) {
			t.Fatal("Refuses = true while closed")
		}
		report(t, r, Failure)
		if !r.Refuses(key) {
			t.Fatal("Refuses = false while open")
		}
		snap, _ := r.Snapshot(key)
		time.Sleep(time.Until(snap.OpenUntil) + time.Millisecond)
		if r.Refuses(key) {
			t.Fatal("Refuses = true once the open time is over and no probe is out")
		}
		wantState(t, r, HalfOpen)
		probe, err := r.Allow(key)
		if err != nil || !probe.Probe() {
			t.Fatalf("Allow() = (%+v, %v), want the probe", probe, err)
		}
		if !r.Refuses(key) {
			t.Fatal("Refuses = false with the probe out")
		}
		if _, err := r.Allow(key); !errors.Is(err, ErrOpen) {
			t.Fatalf("Allow() with the probe out = %v, want ErrOpen: Refuses and Allow disagree", err)
		}
		probe.Done(Success)
		if r.Refuses(key) {
			t.Fatal("Refuses = true after the probe closed the breaker")
		}
		wantState(t, r, Closed)
	})
}

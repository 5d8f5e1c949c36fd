package breaker

import (
	"testing"
	"testing/synctest"
	"time"
)

// With the defaults, refusals trip a breaker only when nearly every outcome
// in the window fails: a key that serves half its requests stays closed.
func TestRefusalsTripOnlyWhenNearlyAllFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := NewRegistry(Settings{})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			report(t, r, Refused)
			report(t, r, Success)
		}
		wantState(t, r, Closed)

		fresh, err := NewRegistry(Settings{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range DefaultMinRequests - 1 {
			report(t, fresh, Refused)
			if got := fresh.State(key); got != Closed {
				t.Fatalf("after %d refusals: %v, want closed below MinRequests", i+1, got)
			}
		}
		report(t, fresh, Refused)
		wantState(t, fresh, Open)
	})
}

// A destination that served and then refuses everything trips after
// DefaultConsecutiveRefusals refusals in a row, long before its earlier
// successes leave the window's ratio; a success breaks the run.
func TestARunOfRefusalsTripsAServingDestination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := NewRegistry(Settings{})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			report(t, r, Success)
		}
		for range DefaultConsecutiveRefusals / 2 {
			report(t, r, Refused)
		}
		report(t, r, Success) // breaks the run
		for range DefaultConsecutiveRefusals - 1 {
			report(t, r, Refused)
		}
		wantState(t, r, Closed)
		report(t, r, Refused)
		wantState(t, r, Open)
	})
}

// A refusal between stalls neither breaks nor extends their run.
func TestRefusalsLeaveTheRunOfFailuresAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{}) // ratio rule off
		report(t, r, Failure)
		report(t, r, Refused)
		report(t, r, Failure)
		report(t, r, Refused)
		wantState(t, r, Closed)
		report(t, r, Failure)
		wantState(t, r, Open)

		r = newTestRegistry(t, Settings{})
		report(t, r, Failure)
		report(t, r, Failure)
		for range 50 {
			report(t, r, Refused)
		}
		wantState(t, r, Closed)
		report(t, r, Success)
		report(t, r, Failure)
		report(t, r, Failure)
		wantState(t, r, Closed)
	})
}

// A refused probe reopens the breaker, like a failed one.
func TestRefusedProbeReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1})
		report(t, r, Failure)
		time.Sleep(5*time.Second + time.Millisecond)
		report(t, r, Refused)
		wantState(t, r, Open)
	})
}

// With the defaults an open breaker probes after 1 to 1.25 s, on every
// trip however many probes failed before, at times that differ from trip
// to trip.
func TestDefaultOpenTimeIsShortJitteredAndFlat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := NewRegistry(Settings{})
		if err != nil {
			t.Fatal(err)
		}
		for range DefaultConsecutiveFailures {
			report(t, r, Failure)
		}
		seen := map[time.Duration]bool{}
		for trip := 1; trip <= 30; trip++ {
			snap, _ := r.Snapshot(key)
			open := snap.OpenUntil.Sub(time.Now())
			if snap.State != Open || snap.Trips != trip || open < time.Second || open > 1250*time.Millisecond {
				t.Fatalf("trip %d: %+v, open for %v, want open for 1s to 1.25s", trip, snap, open)
			}
			seen[open] = true
			time.Sleep(open)
			wantRefused(t, r)
			time.Sleep(time.Millisecond)
			report(t, r, Failure) // the probe fails
		}
		if len(seen) < 20 {
			t.Errorf("30 trips were open for only %d distinct times: the jitter is missing", len(seen))
		}
	})
}

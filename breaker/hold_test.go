package breaker

import (
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// changes records OnStateChange calls as "from>to".
type changes struct {
	mu  sync.Mutex
	got []string
}

func (c *changes) hook(_ string, from, to State) {
	c.mu.Lock()
	c.got = append(c.got, from.String()+">"+to.String())
	c.mu.Unlock()
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.got
	c.got = nil
	return g
}

func wantChanges(t *testing.T, c *changes, want ...string) {
	t.Helper()
	got := c.take()
	if len(got) != len(want) {
		t.Fatalf("state changes = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("state changes = %v, want %v", got, want)
		}
	}
}

// A Hold on a closed breaker opens it for exactly the time given, not the
// breaker's own open time, then lets one probe through.
func TestHoldOpensUntilTheTimeGiven(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c changes
		r := newTestRegistry(t, Settings{OnStateChange: c.hook})
		report(t, r, Success)
		until := time.Now().Add(1500 * time.Millisecond) // the breaker's own: 5 s
		r.Hold(key, until)
		wantChanges(t, &c, "closed>open")
		wantRefused(t, r)
		if s, _ := r.Snapshot(key); !s.OpenUntil.Equal(until) {
			t.Fatalf("OpenUntil = %v, want %v", s.OpenUntil, until)
		}
		time.Sleep(1499 * time.Millisecond)
		wantRefused(t, r)
		time.Sleep(2 * time.Millisecond)
		probe, err := r.Allow(key)
		if err != nil || !probe.Probe() {
			t.Fatalf("Allow() after the hold = (%+v, %v), want the probe", probe, err)
		}
		wantRefused(t, r) // one probe only
		probe.Done(Success)
		wantState(t, r, Closed)
		wantChanges(t, &c, "open>half-open", "half-open>closed")
	})
}

// A Hold never shortens an open time, lengthens a shorter one, and opens a
// half-open breaker again; an until in the past does nothing.
func TestHoldLengthensAndNeverShortens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1})
		r.Hold(key, time.Now().Add(-time.Second))
		wantState(t, r, Closed)
		report(t, r, Failure) // open for 5 s
		r.Hold(key, time.Now().Add(time.Second))
		if s, _ := r.Snapshot(key); s.OpenUntil.Sub(time.Now()) != 5*time.Second {
			t.Fatalf("open for %v after a shorter Hold, want 5s", s.OpenUntil.Sub(time.Now()))
		}
		r.Hold(key, time.Now().Add(8*time.Second))
		time.Sleep(6 * time.Second)
		wantRefused(t, r)
		time.Sleep(2*time.Second + time.Millisecond)
		wantState(t, r, HalfOpen)
		r.Hold(key, time.Now().Add(3*time.Second))
		wantState(t, r, Open)
		time.Sleep(3*time.Second + time.Millisecond)
		wantState(t, r, HalfOpen)
	})
}

// A probe in flight when a Hold reopens the breaker does not close it.
func TestHoldIgnoresTheProbeInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1})
		report(t, r, Failure)
		time.Sleep(5*time.Second + time.Millisecond)
		probe, err := r.Allow(key)
		if err != nil {
			t.Fatal(err)
		}
		r.Hold(key, time.Now().Add(time.Second))
		probe.Done(Success)
		wantState(t, r, Open)
	})
}

// Release closes an open breaker at once, and a half-open one; the probe
// in flight no longer counts.
func TestReleaseCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c changes
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1, OnStateChange: c.hook})
		r.Release(key) // not held: nothing happens, nothing is created
		if r.Len() != 0 {
			t.Fatalf("Release created a breaker")
		}
		report(t, r, Failure)
		r.Release(key)
		wantState(t, r, Closed)
		wantChanges(t, &c, "closed>open", "open>half-open", "half-open>closed")
		report(t, r, Success) // closed: requests go through

		report(t, r, Failure)
		time.Sleep(5*time.Second + time.Millisecond)
		probe, err := r.Allow(key)
		if err != nil {
			t.Fatal(err)
		}
		r.Release(key)
		probe.Done(Failure) // of the half-open state before: ignored
		wantState(t, r, Closed)
		wantChanges(t, &c, "closed>open", "open>half-open", "half-open>closed")
	})
}

// Charge counts an outcome seen elsewhere against a closed breaker (two
// stalls elsewhere and one here trip a breaker that trips on three), and
// leaves an open breaker alone.
func TestChargeCountsOutcomesSeenElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 3})
		r.Charge(key, Failure)
		r.Charge(key, Failure)
		wantState(t, r, Closed)
		report(t, r, Failure)
		wantState(t, r, Open)
		before, _ := r.Snapshot(key)
		r.Charge(key, Failure)
		if after, _ := r.Snapshot(key); after.OpenUntil != before.OpenUntil || after.Trips != before.Trips {
			t.Fatalf("Charge changed an open breaker: %+v, was %+v", after, before)
		}
	})
}

// The ProbeGate is asked only when a half-open breaker would let its probe
// go: never while closed or open. Refused, the request fails with ErrOpen
// and the next one asks again.
func TestProbeGateIsAskedOnlyForTheProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var asked int
		let := false
		r := newTestRegistry(t, Settings{ConsecutiveFailures: 1, ProbeGate: func(k string) bool {
			if k != key {
				t.Errorf("ProbeGate(%q), want %q", k, key)
			}
			asked++
			return let
		}})
		for range 100 {
			report(t, r, Success)
		}
		report(t, r, Failure)
		wantRefused(t, r)
		if asked != 0 {
			t.Fatalf("ProbeGate asked %d times while closed or open, want 0", asked)
		}
		time.Sleep(5*time.Second + time.Millisecond)
		wantRefused(t, r)
		wantRefused(t, r)
		if asked != 2 {
			t.Fatalf("ProbeGate asked %d times for 2 refused probes, want 2", asked)
		}
		let = true
		probe, err := r.Allow(key)
		if err != nil || !probe.Probe() {
			t.Fatalf("Allow() with the gate open = (%+v, %v), want the probe", probe, err)
		}
		wantRefused(t, r) // the probe is out: the gate is not asked again
		if asked != 3 {
			t.Fatalf("ProbeGate asked %d times, want 3", asked)
		}
		probe.Done(Success)
		wantState(t, r, Closed)
	})
}

// Holds, releases, charges and requests from many goroutines at once leave
// the breaker in a state its calls can explain (the race detector checks
// the rest).
func TestHoldReleaseConcurrently(t *testing.T) {
	r := newTestRegistry(t, Settings{ConsecutiveFailures: 2, OpenTimeout: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				switch (g + i) % 4 {
				case 0:
					r.Hold(key, time.Now().Add(time.Millisecond))
				case 1:
					r.Release(key)
				case 2:
					r.Charge(key, Failure)
				default:
					if tk, err := r.Allow(key); err == nil {
						tk.Done(Success)
					}
				}
			}
		})
	}
	wg.Wait()
	r.Release(key)
	wantState(t, r, Closed)
}

// What Hold opens and Charge makes failing is kept like a breaker that
// tripped or failed by itself: fresh keys do not evict it (Registry's
// tiers) until it is healthy again.
func TestHeldAndChargedBreakersOutliveFreshKeys(t *testing.T) {
	r := newTestRegistry(t, Settings{MaxBreakers: 8, ConsecutiveFailures: 3})
	r.Hold("held:1", time.Now().Add(time.Hour))
	r.Charge("charged:1", Failure)
	for i := range 200 {
		tk, err := r.Allow("fresh" + strconv.Itoa(i) + ":1")
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(Success)
	}
	if s := r.State("held:1"); s != Open {
		t.Errorf("held:1 is %v after 200 fresh keys, want open: it was evicted", s)
	}
	snap, ok := r.Snapshot("charged:1")
	if !ok {
		t.Fatal("charged:1, failing, was evicted by fresh keys")
	}
	if snap.Counts.ConsecutiveFailures != 1 {
		t.Errorf("charged:1 counts %+v, want one failure", snap.Counts)
	}
	// The charged breaker, once it succeeds, is healthy and idle again:
	// fresh keys may now evict it.
	tk, err := r.Allow("charged:1")
	if err != nil {
		t.Fatal(err)
	}
	tk.Done(Success)
	for i := range 200 {
		tk, err := r.Allow("later" + strconv.Itoa(i) + ":1")
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(Success)
	}
	if _, ok := r.Snapshot("charged:1"); ok {
		t.Error("charged:1 outlived 200 fresh keys once healthy: Charge left it counted in flight")
	}
}

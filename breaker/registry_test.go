package breaker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBounded(t *testing.T) {
	r := newTestRegistry(t, Settings{MaxBreakers: 1000})
	for i := range 100_000 {
		done, err := r.Allow(fmt.Sprintf("10.0.%d.%d:443", i/256, i%256))
		if err != nil {
			t.Fatal(err)
		}
		done.Done(Failure)
		if n := r.Len(); n > 1000 {
			t.Fatalf("after %d keys Len() = %d, want <= 1000", i+1, n)
		}
	}
	if r.Len() != 1000 {
		t.Fatalf("Len() = %d, want 1000", r.Len())
	}
}

func TestStateAndSnapshotDoNotCreate(t *testing.T) {
	r := newTestRegistry(t, Settings{})
	if s := r.State("unknown:1"); s != Closed {
		t.Fatalf("State(unknown) = %v, want closed", s)
	}
	if snap, ok := r.Snapshot("unknown:1"); ok || snap.State != Closed {
		t.Fatalf("Snapshot(unknown) = %+v, %v; want closed, false", snap, ok)
	}
	if r.Len() != 0 {
		t.Fatalf("Len() = %d, want 0", r.Len())
	}
}

func TestStateDoesNotBumpRecency(t *testing.T) {
	r := newTestRegistry(t, Settings{MaxBreakers: 2})
	report := func(k string, o Outcome) {
		done, err := r.Allow(k)
		if err != nil {
			t.Fatal(err)
		}
		done.Done(o)
	}
	report("a:1", Success)
	report("b:1", Success)
	r.State("a:1")
	r.Snapshot("a:1")
	report("c:1", Success) // evicts a, the least recently allowed
	if _, ok := r.Snapshot("a:1"); ok {
		t.Fatal("a:1 still present: State or Snapshot bumped its recency")
	}
	if _, ok := r.Snapshot("b:1"); !ok {
		t.Fatal("b:1 evicted instead of a:1")
	}
}

// TestFreshKeysDoNotEvictAnOpenBreaker is issue 20's item 3: a registry at
// its bound, fed a stream of fresh keys, forgets healthy breakers first,
// then failing ones, and an open one only when every breaker is open.
func TestFreshKeysDoNotEvictAnOpenBreaker(t *testing.T) {
	r := newTestRegistry(t, Settings{MaxBreakers: 10, ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	report := func(k string, o Outcome) {
		done, err := r.Allow(k)
		if err != nil {
			t.Fatalf("Allow(%s) = %v", k, err)
		}
		done.Done(o)
	}
	report("dead:1", Failure)
	report("dead:1", Failure) // open
	report("sick:1", Failure) // closed, one failure short of tripping
	report("sick:1", Success)
	report("sick:1", Refused) // failing again
	for i := range 1000 {
		report("fresh"+strconv.Itoa(i)+":1", Success)
		if n := r.Len(); n > 10 {
			t.Fatalf("Len() = %d after %d fresh keys, want at most 10", n, i+1)
		}
	}
	if s := r.State("dead:1"); s != Open {
		t.Fatalf("dead:1 %v after 1,000 fresh keys, want open: it was evicted", s)
	}
	if _, ok := r.Snapshot("sick:1"); !ok {
		t.Fatal("sick:1, failing, was evicted while healthy breakers were kept")
	}
	// Still open: no request gets through.
	if _, err := r.Allow("dead:1"); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow(dead:1) = %v, want ErrOpen", err)
	}

	// Once the failing breaker succeeds, it is healthy, and fresh keys
	// push it out like any other.
	report("sick:1", Success)
	for i := range 10 {
		report("another"+strconv.Itoa(i)+":1", Success)
	}
	if _, ok := r.Snapshot("sick:1"); ok {
		t.Fatal("sick:1, healthy again, outlived ten fresh keys")
	}
	if r.State("dead:1") != Open {
		t.Fatal("dead:1 evicted while healthy breakers were kept")
	}

	// With every breaker open, the oldest open one goes.
	for i := range 10 {
		k := "down" + strconv.Itoa(i) + ":1"
		report(k, Failure)
		report(k, Failure)
	}
	if _, ok := r.Snapshot("dead:1"); ok {
		t.Fatal("dead:1 kept though every breaker was open and it was the oldest")
	}
	if r.Len() != 10 || r.State("down9:1") != Open || r.State("down0:1") != Open {
		t.Fatalf("Len() = %d, down0 %v, down9 %v; want 10 open breakers", r.Len(), r.State("down0:1"), r.State("down9:1"))
	}
}

// TestConcurrent hammers a small registry (so evictions happen) from many
// goroutines with random outcomes and a hook that calls back in; run it
// with -race.
// With no eviction it also checks that the hook sees each key's changes in
// order: every call starts from the state the previous one ended in.
func TestConcurrent(t *testing.T) {
	t.Run("evicting", func(t *testing.T) { testConcurrent(t, 20) })
	t.Run("ordered", func(t *testing.T) { testConcurrent(t, 1000) })
}

func testConcurrent(t *testing.T, maxBreakers int) {
	var (
		changes atomic.Int64
		mu      sync.Mutex
		last    = map[string]State{}
		r       *Registry
	)
	r = newTestRegistry(t, Settings{
		MaxBreakers:         maxBreakers,
		ConsecutiveFailures: 2,
		FailureRatio:        0.5,
		MinRequests:         4,
		Window:              20 * time.Millisecond,
		OpenTimeout:         time.Millisecond,
		MaxOpenTimeout:      4 * time.Millisecond,
		OnStateChange: func(k string, from, to State) {
			changes.Add(1)
			r.State(k)
			mu.Lock()
			defer mu.Unlock()
			if prev := last[k]; maxBreakers > 40 && from != prev {
				t.Errorf("%s: change %v->%v after a change to %v", k, from, to, prev)
			}
			last[k] = to
		},
	})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			var held []Ticket
			for range 3000 {
				k := fmt.Sprintf("host%d:80", rng.IntN(40))
				switch rng.IntN(10) {
				case 0:
					r.State(k)
				case 1:
					r.Snapshot(k)
				default:
					done, err := r.Allow(k)
					if err != nil {
						if !errors.Is(err, ErrOpen) {
							t.Errorf("Allow() = %v", err)
						}
						continue
					}
					held = append(held, done)
				}
				// Report outcomes a little late and out of order.
				for len(held) > 0 && rng.IntN(3) == 0 {
					i := rng.IntN(len(held))
					held[i].Done(Outcome(rng.IntN(3)))
					held = append(held[:i], held[i+1:]...)
				}
			}
			for _, done := range held {
				done.Done(Neutral)
			}
		})
	}
	wg.Wait()
	if r.Len() > maxBreakers {
		t.Fatalf("Len() = %d, want <= %d", r.Len(), maxBreakers)
	}
	if changes.Load() == 0 {
		t.Fatal("no state changes: the test exercised nothing")
	}
	t.Logf("%d state changes", changes.Load())
}

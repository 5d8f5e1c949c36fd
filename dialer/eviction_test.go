package dialer_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// TestUnrelatedTrafficDoesNotEvictAStallingDestination is issue 20's item
// 3: with the stall memory and the breaker registries at their bound (a
// small one here), goroutines dialling fresh names must not make the
// dialer forget a destination that is stalling, its dials in flight or its
// open breaker. 100 callers into a stalled literal make about as many
// attempts as they would alone (the admission limit, then the breaker
// cuts them off) and most fail with ErrCircuitOpen; before the fix they
// made 21-29 attempts and the breaker never opened.
func TestUnrelatedTrafficDoesNotEvictAStallingDestination(t *testing.T) {
	const (
		size     = 16 // stall memory and each breaker registry
		callers  = 100
		churners = 4
		deadline = 3 * time.Second
	)
	stalled := dialtest.NewStalled(t, "127.0.0.1:0")
	target := stalled.Addr().String()
	var seen attempts
	d := newDialer(t,
		dialer.WithResolver(nowhere{}),
		dialer.WithStallMemory(time.Minute, size),
		dialer.WithBreaker(breaker.Settings{MaxBreakers: size}),
		dialer.WithMaxRetries(0),
		dialer.WithAttemptObserver(seen.observe))

	// Fresh names, dialled until the callers are done: each one is a new
	// destination and a new breaker, pushing the stalled one out of an LRU.
	stop := make(chan struct{})
	var fresh atomic.Int64
	var churn sync.WaitGroup
	for g := range churners {
		churn.Go(func() {
			for i := 0; i < 1_000_000; i++ { // bounded; stop ends it long before
				select {
				case <-stop:
					return
				default:
				}
				d.DialContext(context.Background(), "tcp", "n"+strconv.Itoa(g)+"-"+strconv.Itoa(i)+".fresh.test:80")
				fresh.Add(1)
			}
		})
	}

	var open atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", target)
			if c != nil {
				c.Close()
				t.Error("a dial to a stalled listener connected")
			}
			if errors.Is(err, dialer.ErrCircuitOpen) {
				open.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	churn.Wait()

	made := 0
	for _, a := range seen.all() {
		if a.Address.String() == target {
			made++
		}
	}
	st, _ := d.DestinationState(target)
	t.Logf("%d attempts to %s, %d of %d callers failed with ErrCircuitOpen, breaker %v; %d fresh names dialled meanwhile",
		made, target, open.Load(), callers, st.State, fresh.Load())
	if fresh.Load() < 10*size {
		t.Fatalf("only %d fresh names dialled: the registries were not churned", fresh.Load())
	}
	// Alone: 4 attempts (the admission limit) and 100 of 100 ErrCircuitOpen.
	// Generous bounds for a loaded machine, far from the 21-29 attempts and
	// no ErrCircuitOpen of the bug.
	if made > 10 {
		t.Errorf("%d attempts to the stalled destination, want at most 10", made)
	}
	if open.Load() < callers*9/10 {
		t.Errorf("%d of %d callers failed with ErrCircuitOpen, want at least %d", open.Load(), callers, callers*9/10)
	}
	if st.State == breaker.Closed {
		t.Errorf("destination breaker %v after the storm, want open or half-open", st.State)
	}
}

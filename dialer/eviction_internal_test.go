package dialer

import (
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// TestADestinationInTroubleOutlivesFreshNames: with the stall memory at its
// bound, a destination that stalled (its stall memory puts the stalled
// address last) and whose breaker is open is kept while a stream of fresh
// names churns through the idle ones; once it connects again it is idle,
// and fresh names push it out like any other.
func TestADestinationInTroubleOutlivesFreshNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{stall: true}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		const size = 8
		d := newFakeDialer(t, f, nil, WithAttemptTimeout(100*time.Millisecond), WithMaxRetries(0),
			WithStallMemory(time.Hour, size),
			WithBreaker(breaker.Settings{MaxBreakers: size, OpenTimeout: time.Second, OpenJitter: -1}))
		for range 3 {
			d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		}
		dst, ok := d.dests.peek("192.0.2.1:80")
		if !ok {
			t.Fatal("destination not remembered")
		}
		churn := func(from int) {
			for i := range 10 * size {
				d.DialContext(t.Context(), "tcp", "n"+strconv.Itoa(from+i)+".fresh.test:80") // not found, fails fast
			}
		}
		churn(0)
		if got, ok := d.dests.peek("192.0.2.1:80"); !ok || got != dst {
			t.Fatal("a stalling destination with an open breaker was forgotten for fresh names")
		}
		if st, _ := d.DestinationState("192.0.2.1:80"); st.State != breaker.Open {
			t.Fatalf("breaker %v after the churn, want open", st.State)
		}

		// The breaker half-opens, the probe connects: the destination is
		// healthy and idle again.
		*s = script{after: time.Millisecond}
		time.Sleep(time.Second + time.Millisecond)
		c, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		c.Close()
		churn(10 * size)
		if _, ok := d.dests.peek("192.0.2.1:80"); ok {
			t.Error("a healthy idle destination outlived fresh names")
		}
		if n := d.dests.cache.Len(); n > size {
			t.Errorf("%d destinations remembered, want at most %d", n, size)
		}
	})
}

package dialer

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Admission and breaker rules, exact, inside synctest bubbles.

func TestAStallingDestinationGetsOnlyAFewAttemptsAndWaitersFailWhenItsBreakerOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {stall: true}})
		d := newFakeDialer(t, f, nil, WithAttemptTimeout(300*time.Millisecond), WithAdmissionLimit(2), WithTimeout(5*time.Second))
		const callers = 10
		errs := make([]error, callers)
		took := make([]time.Duration, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				start := time.Now()
				_, errs[i] = d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		if m := f.maxInFlight.Load(); m > 2 {
			t.Errorf("%d attempts in flight at once, want at most the admission limit 2", m)
		}
		open := 0
		for i, err := range errs {
			if errors.Is(err, ErrCircuitOpen) {
				open++
			}
			if took[i] > time.Second {
				t.Errorf("caller %d waited %v; the breaker should release it within a second", i, took[i])
			}
		}
		if open < callers-2 {
			t.Errorf("%d callers failed with ErrCircuitOpen, want at least %d", open, callers-2)
		}
		if st, _ := d.DestinationState("192.0.2.1:80"); st.State != breaker.Open {
			t.Errorf("destination breaker %v, want open", st.State)
		}
		// Open: the next caller fails at once, with no attempt.
		before := len(f.startTimes())
		start := time.Now()
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("err = %v, want ErrCircuitOpen", err)
		}
		if time.Since(start) != 0 || len(f.startTimes()) != before {
			t.Errorf("an open destination cost time or an attempt")
		}
	})
}

func TestAnAnsweringDestinationIsNotThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {after: 10 * time.Millisecond}})
		d := newFakeDialer(t, f, nil, WithAdmissionLimit(2))
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				c, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
				if err != nil {
					t.Error(err)
					return
				}
				c.Close()
			})
		}
		wg.Wait()
		// The first two go in while the destination is unknown; once one
		// connects, all the others are let in together.
		if m := f.maxInFlight.Load(); m < 40 {
			t.Errorf("at most %d attempts in flight; an answering destination must not be throttled", m)
		}
	})
}

func TestHalfOpenLetsOneProbeThroughAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{stall: true}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil, WithAttemptTimeout(100*time.Millisecond), WithMaxRetries(0),
			WithBreaker(breaker.Settings{OpenTimeout: time.Second, MaxOpenTimeout: time.Minute, OpenJitter: -1}))
		for range 3 {
			d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		}
		if st, _ := d.DestinationState("192.0.2.1:80"); st.State != breaker.Open {
			t.Fatalf("breaker %v after three stalls, want open", st.State)
		}
		time.Sleep(time.Second + time.Millisecond)
		// The probe stalls (the address still stalls); the callers that
		// arrive while it is out fail fast rather than pile on.
		probe := make(chan error, 1)
		go func() { _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); probe <- err }()
		synctest.Wait()
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("second caller during the probe: err = %v, want ErrCircuitOpen", err)
		}
		if err := <-probe; !errors.Is(err, ErrAttemptTimeout) {
			t.Errorf("probe err = %v, want a stall", err)
		}
		// Reopened for twice as long; then the address answers again.
		*s = script{after: time.Millisecond}
		time.Sleep(time.Second + time.Millisecond)
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("after one open timeout of the second trip: err = %v, want still open", err)
		}
		time.Sleep(time.Second)
		c, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if err != nil {
			t.Fatalf("recovery probe: %v", err)
		}
		c.Close()
		if st, _ := d.DestinationState("192.0.2.1:80"); st.State != breaker.Closed {
			t.Errorf("breaker %v after a successful probe, want closed", st.State)
		}
	})
}

func TestARestartingServerIsReachedByRetriesAndTripsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil)
		connectOnce(t, d, "192.0.2.1:80")
		s.refuseN = 4 // attempts 2 to 4: the server restarts
		c, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		dst, _ := d.DestinationState("192.0.2.1:80")
		addr, _ := d.AddressState(netipMustAP("192.0.2.1:80"))
		if dst.Counts.Failures != 0 || addr.Counts.Failures != 0 || dst.State != breaker.Closed {
			t.Errorf("destination %+v, address %+v: refusals that retries overcame were charged", dst, addr)
		}
	})
}

func TestStateIsBoundedForManyDestinations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(nil)
		d := newFakeDialer(t, f, nil, WithBreaker(breaker.Settings{MaxBreakers: 1000}), WithStallMemory(time.Minute, 500))
		for i := range 100_000 {
			d.DialContext(t.Context(), "tcp", "host"+strconv.Itoa(i)+".test:80") // not found, fails fast
		}
		if n := d.destBreakers.Len(); n > 1000 {
			t.Errorf("%d destination breakers kept, want at most 1000", n)
		}
		if n := d.dests.cache.Len(); n > 500 {
			t.Errorf("%d destinations remembered, want at most 500", n)
		}
	})
}

func TestAProbeThatStallsOnOneAddressAndConnectsOnAnotherClosesTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v6 := &script{stall: true}
		v4 := &script{stall: true}
		f := newFakeNet(map[string]*script{"[2001:db8::1]:80": v6, "192.0.2.1:80": v4})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"probe.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		}, WithAttemptTimeout(100*time.Millisecond), WithMaxRetries(0), WithBreaker(breaker.Settings{OpenTimeout: time.Second}))
		for range 3 {
			d.DialContext(t.Context(), "tcp", "probe.test:80")
		}
		if st, _ := d.DestinationState("probe.test:80"); st.State != breaker.Open {
			t.Fatalf("breaker %v after three stalled dials, want open", st.State)
		}
		*v4 = script{after: time.Millisecond} // IPv4 comes back; IPv6 still stalls
		time.Sleep(3 * time.Second)           // past the open times of every breaker
		c, err := d.DialContext(t.Context(), "tcp", "probe.test:80")
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		c.Close()
		if st, _ := d.DestinationState("probe.test:80"); st.State != breaker.Closed {
			t.Errorf("breaker %v after a probe that connected, want closed", st.State)
		}
	})
}

package dialer

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Retry timing, exact, inside synctest bubbles.

func TestRetriesFollowTheJitteredSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil, WithoutBreaker())
		connectOnce(t, d, "192.0.2.1:80")
		s.refuseN = 4
		c, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		starts := f.startTimes()[1:]
		if len(starts) != 4 {
			t.Fatalf("%d attempts, want 4 (three refusals, then success)", len(starts))
		}
		// Each wait is the exponential step ±50 %: 50ms, 100ms, 200ms.
		for i, step := range []time.Duration{50, 100, 200} {
			step *= time.Millisecond
			wait := starts[i+1].at - starts[i].at
			if wait < step/2 || wait > step*3/2 {
				t.Errorf("wait %d = %v, want %v ± 50%%", i+1, wait, step)
			}
		}
	})
}

func TestRetryNeverSleepsPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {refuse: true, after: 10 * time.Millisecond}})
		d := newFakeDialer(t, f, nil, WithoutBreaker(),
			WithBackoff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Second) }))
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := d.DialContext(ctx, "tcp", "192.0.2.1:80")
		if got := time.Since(start); got != 10*time.Millisecond {
			t.Errorf("dial returned after %v, want 10ms: the next wait (1s) crosses the deadline", got)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v: want the last cause, not a deadline error from a sleep", err)
		}
		if n := len(f.startTimes()); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
}

func TestRetryBudgetCapsRetriesUnderTotalFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		// A millisecond between retries keeps all 1000 dials inside one
		// budget window, so the bound below is the whole budget.
		d := newFakeDialer(t, f, nil, WithoutBreaker(), WithAdmissionLimit(0),
			WithBackoff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }))
		connectOnce(t, d, "192.0.2.1:80")
		s.refuse = true
		start := time.Now()
		const dials = 1000
		for range dials {
			if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); err == nil {
				t.Fatal("dial to a refusing address succeeded")
			}
		}
		if el := time.Since(start); el >= RetryBudgetWindow {
			t.Fatalf("the dials took %v, more than one budget window", el)
		}
		retries := len(f.startTimes()) - 1 - dials
		n := dials + 1
		budget := int(math.Ceil(DefaultRetryRatio*float64(n))) + DefaultRetryFloor // connectOnce's dial counts too
		t.Logf("%d dials made %d retries (budget %d, without it %d)", dials, retries, budget, dials*DefaultMaxRetries)
		if retries > budget {
			t.Errorf("%d retries, want at most %d", retries, budget)
		}
		if retries < DefaultRetryFloor {
			t.Errorf("%d retries: the budget's floor (%d) was not used", retries, DefaultRetryFloor)
		}
	})
}

func TestWhatIsNotRetried(t *testing.T) {
	cases := []struct {
		name     string
		address  string
		cancel   bool
		attempts int
	}{
		{"a name that does not exist", "nowhere.test:80", false, 0},
		{"a malformed address", "192.0.2.1", false, 0},
		{"a cancelled context", "192.0.2.1:80", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet(map[string]*script{"192.0.2.1:80": {refuse: true}})
				res := dialtest.NewResolver(nil)
				d := newFakeDialer(t, f, nil, WithResolver(res))
				ctx, cancel := context.WithCancel(t.Context())
				if tc.cancel {
					cancel()
				}
				defer cancel()
				if _, err := d.DialContext(ctx, "tcp", tc.address); err == nil {
					t.Fatal("dial succeeded")
				}
				if n := len(f.startTimes()); n != tc.attempts {
					t.Errorf("%d attempts, want %d", n, tc.attempts)
				}
				if n := res.Lookups("nowhere.test"); n > 2 {
					t.Errorf("%d lookups: the name was retried", n)
				}
			})
		})
	}
}

func TestTemporaryDNSFailureIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {}})
		res := dialtest.NewResolver(map[string]dialtest.Host{
			"flaky.test": {Err: &netDNSTemporary},
		})
		d := newFakeDialer(t, f, nil, WithResolver(res))
		go func() {
			time.Sleep(60 * time.Millisecond)
			res.Set("flaky.test", dialtest.Host{IPv4: addrs("192.0.2.1")})
		}()
		c, err := d.DialContext(t.Context(), "tcp", "flaky.test:80")
		if err != nil {
			t.Fatalf("err = %v, want the retry after the temporary failure to connect", err)
		}
		c.Close()
		synctest.Wait()
	})
}

// A destination that refuses and has never connected is not retried: there
// is no sign that a retry would find it up, and its callers fail at once,
// as net.Dialer's do. Once it has connected, a refusal is retried (the
// server may be restarting).
func TestRefusalsAreRetriedOnlyTowardADestinationThatConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{refuse: true}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil, WithoutBreaker())
		start := time.Now()
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); err == nil {
			t.Fatal("dial to a refusing address succeeded")
		}
		if n, took := len(f.startTimes()), time.Since(start); n != 1 || took != 0 {
			t.Errorf("never connected: %d attempts in %v, want 1 at once", n, took)
		}
		s.refuse = false
		connectOnce(t, d, "192.0.2.1:80")
		s.refuse = true
		before := len(f.startTimes())
		d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if n := len(f.startTimes()) - before; n != 1+DefaultMaxRetries {
			t.Errorf("after connecting: %d attempts, want %d (retried)", n, 1+DefaultMaxRetries)
		}
	})
}

// TestRefusalsAreNotRetriedOnceDialsKeepFailing: a destination that
// connected and then refuses everything. Its first refusedRunNoRetry
// failed dials are retried (it may be restarting); after that, each dial
// is one attempt, until a dial connects again.
func TestRefusalsAreNotRetriedOnceDialsKeepFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		// A budget that never runs out, so that only the rule limits.
		d := newFakeDialer(t, f, nil, WithoutBreaker(), WithRetryBudget(1, 1000))
		connectOnce(t, d, "192.0.2.1:80")
		s.refuse = true
		attemptsOf := func() int {
			before := len(f.startTimes())
			if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); err == nil {
				t.Fatal("a refusing destination connected")
			}
			return len(f.startTimes()) - before
		}
		for i := range refusedRunNoRetry {
			if n := attemptsOf(); n != 1+DefaultMaxRetries {
				t.Errorf("failed dial %d: %d attempts, want %d (retried)", i+1, n, 1+DefaultMaxRetries)
			}
		}
		for i := range 5 {
			if n := attemptsOf(); n != 1 {
				t.Errorf("dial %d after %d failed ones: %d attempts, want 1", i+1, refusedRunNoRetry, n)
			}
		}
		s.refuse = false
		connectOnce(t, d, "192.0.2.1:80")
		s.refuse = true
		if n := attemptsOf(); n != 1+DefaultMaxRetries {
			t.Errorf("after a success: %d attempts, want %d (retried again)", n, 1+DefaultMaxRetries)
		}
	})
}

// TestHalfOpenProbeIsNotRetried: the probe of a half-open breaker is one
// attempt, refused or not: a retried probe would be several probes.
func TestHalfOpenProbeIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil)
		connectOnce(t, d, "192.0.2.1:80")
		// Stalls open the breaker (three in a row, in one dial's rounds);
		// then the destination refuses, as a server restarting does. Its
		// run of refused dials is empty, so only the probe rule keeps the
		// probe from being retried.
		s.stall = true
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); err == nil {
			t.Fatal("a stalled destination connected")
		}
		st, _ := d.DestinationState("192.0.2.1:80")
		if st.State != breaker.Open {
			t.Fatalf("breaker %v after a dial of stalls, want open", st.State)
		}
		s.stall, s.refuse = false, true
		time.Sleep(time.Until(st.OpenUntil) + time.Millisecond)
		before := len(f.startTimes())
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); err == nil {
			t.Fatal("the probe connected to a refusing destination")
		}
		if n := len(f.startTimes()) - before; n != 1 {
			t.Errorf("the probe made %d attempts, want 1", n)
		}
	})
}

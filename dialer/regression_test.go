package dialer

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Regression tests for defects a review found; each failed before its fix.

func TestAdmissionWaiterThatFindsTheBreakerHalfOpenDoesNotDeadlock(t *testing.T) {
	// A waiter whose State call is the one that moves the breaker to
	// half-open fires the hook that wakes the destination's waiters; it
	// must not hold the destination's lock then.
	d, err := New(WithAdmissionLimit(1), WithBreaker(breaker.Settings{OpenTimeout: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	const key = "192.0.2.1:80"
	dst := d.dests.get(key)
	dst.mu.Lock()
	dst.inFlight = 1 // one dial in flight: the next one must wait
	dst.mu.Unlock()
	for range 3 {
		tk, err := d.destBreakers.Allow(key)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(breaker.Failure)
	}
	time.Sleep(50 * time.Millisecond) // the open time ends unobserved
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	go func() {
		_, err := dst.admit(ctx, time.Now().Add(time.Second), context.DeadlineExceeded, 1, time.Minute, d.destBreakers, key)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("admitted past the limit")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("admit deadlocked")
	}
}

func TestALateFamilyStartsAtOnceWhenTheAttemptDelayHasPassed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {stall: true},
			"192.0.2.1:80":     {after: time.Millisecond},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"late.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1"), IPv4Delay: 300 * time.Millisecond},
		}, WithAttemptTimeout(5*time.Second))
		start := time.Now()
		c, err := d.DialContext(t.Context(), "tcp", "late.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := time.Since(start); got != 301*time.Millisecond {
			t.Errorf("dial took %v, want 301ms: IPv4 answers at 300ms, past the attempt delay", got)
		}
	})
}

func TestPolicyJudgesTheFamilyThatAnswersLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"[fd00::1]:80":     {after: time.Millisecond}, // denied by Internal
			"192.0.3.1:80":     {after: time.Millisecond}, // not a documentation address: Internal denies those
			"[2001:db9::1]:80": {refuse: true},
			"10.0.0.1:80":      {after: time.Millisecond}, // denied, arrives late
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"first-denied.test": {IPv6: addrs("fd00::1"), IPv4: addrs("192.0.3.1"), IPv4Delay: 100 * time.Millisecond},
			"late-denied.test":  {IPv6: addrs("2001:db9::1"), IPv4: addrs("10.0.0.1"), IPv4Delay: 100 * time.Millisecond},
		}, WithPolicy(Policy{Deny: Internal()}), WithMaxRetries(0))
		c, err := d.DialContext(t.Context(), "tcp", "first-denied.test:80")
		if err != nil {
			t.Fatalf("the allowed family was not waited for: %v", err)
		}
		c.Close()
		if _, err := d.DialContext(t.Context(), "tcp", "late-denied.test:80"); err == nil {
			t.Fatal("dial succeeded")
		}
		for _, s := range f.startTimes() {
			if !s.addr.Addr().IsGlobalUnicast() || s.addr.Addr().IsPrivate() {
				t.Errorf("a denied address was attempted: %v", s.addr)
			}
		}
	})
}

func TestARetryIsNotMadeOnceTheBreakerOpened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil, WithBackoff(func() backoff.BackOff { return backoff.NewConstantBackOff(100 * time.Millisecond) }))
		connectOnce(t, d, "192.0.2.1:80")
		s.refuse = true
		var wg sync.WaitGroup
		wg.Go(func() {
			time.Sleep(50 * time.Millisecond) // during the first backoff wait
			for range 3 {
				if tk, err := d.destBreakers.Allow("192.0.2.1:80"); err == nil {
					tk.Done(breaker.Failure)
				}
			}
		})
		_, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		wg.Wait()
		if !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("err = %v, want ErrCircuitOpen", err)
		}
		if n := len(f.startTimes()); n != 2 {
			t.Errorf("%d attempts, want 2 (the first dial's, then one): no retry into an open breaker", n)
		}
	})
}

func TestACancellationCauseKeepsContextCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {stall: true}})
		d := newFakeDialer(t, f, nil)
		shutdown := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(100*time.Millisecond, func() { cancel(shutdown) })
		_, err := d.DialContext(ctx, "tcp", "192.0.2.1:80")
		if !errors.Is(err, context.Canceled) || !errors.Is(err, shutdown) {
			t.Errorf("err = %v, want both context.Canceled and the cause", err)
		}
	})
}

// stuckResolver answers AAAA at once with nothing and never answers A
// until released, whatever its context says.
type stuckResolver struct{ release chan struct{} }

func (r stuckResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if network == "ip6" {
		return nil, nil
	}
	<-r.release
	return nil, nil
}

func TestAResolverThatIgnoresItsContextCannotHoldTheDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := stuckResolver{release: make(chan struct{})}
		defer close(r.release)
		d, err := New(WithResolver(r), WithTimeout(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = d.DialContext(t.Context(), "tcp", "stuck.test:80")
		if got := time.Since(start); got != 200*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("dial returned %v after %v, want a deadline error at 200ms", err, got)
		}
	})
}

func TestLiteralSpellingsShareOneDestination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {stall: true}})
		d := newFakeDialer(t, f, nil, WithAttemptTimeout(100*time.Millisecond), WithMaxRetries(0))
		for range 3 {
			d.DialContext(t.Context(), "tcp", "[::ffff:192.0.2.1]:80")
		}
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80"); !errors.Is(err, ErrCircuitOpen) {
			t.Errorf("err = %v: the mapped spelling tripped a different breaker", err)
		}
	})
}

func TestPolicyJudgesRawIPNetworks(t *testing.T) {
	p := &Policy{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	guard := p.guardControl(nil)
	if err := guard(t.Context(), "ip4:icmp", "198.51.100.1", nil); err != nil {
		t.Errorf("allowed raw-IP address refused: %v", err)
	}
	if err := guard(t.Context(), "ip4:icmp", "192.0.2.7", nil); !errors.Is(err, ErrDenied) {
		t.Errorf("denied raw-IP address: err = %v, want ErrDenied", err)
	}
}

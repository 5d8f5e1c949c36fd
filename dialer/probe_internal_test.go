package dialer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// halfOpenWithProbeOut trips addr's breaker (its attempts stall), lets the
// open time pass, and starts the probe, whose attempt the script holds for
// probeTakes. It returns when the probe's attempt has started, and a
// channel that receives the probe's error.
func halfOpenWithProbeOut(t *testing.T, s *script, d *Dialer, addr string, probeTakes time.Duration) <-chan error {
	t.Helper()
	for range 3 {
		d.DialContext(t.Context(), "tcp", addr)
	}
	if st, _ := d.DestinationState(addr); st.State != breaker.Open {
		t.Fatalf("breaker %v after three stalls, want open", st.State)
	}
	time.Sleep(time.Second + time.Millisecond)
	*s = script{after: probeTakes}
	probe := make(chan error, 1)
	go func() {
		c, err := d.DialContext(t.Context(), "tcp", addr)
		if c != nil {
			c.Close()
		}
		probe <- err
	}()
	synctest.Wait()
	if st, _ := d.DestinationState(addr); st.State != breaker.HalfOpen {
		t.Fatalf("breaker %v with the probe out, want half-open", st.State)
	}
	return probe
}

// TestCallersDuringAHalfOpenProbeFailFastInsteadOfQueueing is issue 20's
// item 8: while the half-open breaker's probe is out, every other caller
// is refused by the breaker anyway, and must be refused at once, before
// admission. Before, they went through admission like a dial that could
// go ahead: with the destination's slots taken (the probe holds one) they
// waited there, each refusal of one woke all the others, and under
// GOMAXPROCS=1 a stampede of them starved the probe past its own deadline.
func TestCallersDuringAHalfOpenProbeFailFastInsteadOfQueueing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{stall: true}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil, WithAttemptTimeout(100*time.Millisecond), WithMaxRetries(0),
			WithAdmissionLimit(1), WithBreaker(breaker.Settings{OpenTimeout: time.Second, OpenJitter: -1}))
		probe := halfOpenWithProbeOut(t, s, d, "192.0.2.1:80", 50*time.Millisecond)

		const callers = 20
		var wg sync.WaitGroup
		errs := make([]error, callers)
		took := make([]time.Duration, callers)
		for i := range callers {
			wg.Go(func() {
				start := time.Now()
				_, errs[i] = d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		for i := range callers {
			if !errors.Is(errs[i], ErrCircuitOpen) || took[i] != 0 {
				t.Errorf("caller %d during the probe: err = %v after %v, want ErrCircuitOpen at once", i, errs[i], took[i])
			}
		}
		if err := <-probe; err != nil {
			t.Fatalf("probe: %v", err)
		}
		if st, _ := d.DestinationState("192.0.2.1:80"); st.State != breaker.Closed {
			t.Errorf("breaker %v after the probe connected, want closed", st.State)
		}
		if n := len(f.startTimes()); n != 4 {
			t.Errorf("%d attempts, want 4: three stalls and the probe", n)
		}
	})
}

// BenchmarkRefusedWhileProbing is the cost of a dial that a half-open
// breaker refuses because its probe is out: what each of a crowd of
// callers costs the CPU the probe needs. BenchmarkRefusedWhileOpen is the
// same for an open breaker, for comparison.
func BenchmarkRefusedWhileProbing(b *testing.B) { benchmarkRefused(b, true) }
func BenchmarkRefusedWhileOpen(b *testing.B)    { benchmarkRefused(b, false) }

func benchmarkRefused(b *testing.B, probing bool) {
	s := &script{refuse: true}
	f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
	// One refused dial trips it; the probe then stalls until the end. An
	// open breaker that is not to half-open stays open for an hour.
	openFor := time.Hour
	if probing {
		openFor = 10 * time.Millisecond
	}
	d, err := New(WithAttemptTimeout(time.Hour), WithMaxRetries(0),
		WithBreaker(breaker.Settings{FailureRatio: 0.5, MinRequests: 1, OpenTimeout: openFor, OpenJitter: -1}))
	if err != nil {
		b.Fatal(err)
	}
	d.dialAddr = f.dial
	d.DialContext(context.Background(), "tcp", "192.0.2.1:80")
	if st, _ := d.DestinationState("192.0.2.1:80"); st.State != breaker.Open {
		b.Fatalf("breaker %v after a refusal, want open", st.State)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	if probing {
		*s = script{stall: true}
		time.Sleep(20 * time.Millisecond)
		wg.Go(func() { d.DialContext(ctx, "tcp", "192.0.2.1:80") }) // the probe, out until cancel
		for f.inFlight.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.DialContext(ctx, "tcp", "192.0.2.1:80"); !errors.Is(err, ErrCircuitOpen) {
			b.Fatalf("err = %v, want ErrCircuitOpen", err)
		}
	}
}

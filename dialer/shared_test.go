package dialer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// sharedState is a SharedState whose probe answer the test sets, and which
// counts what the Dialer asked and told it.
type sharedState struct {
	attached atomic.Pointer[dialer.Dialer]
	let      atomic.Bool
	asked    atomic.Int32
	attempts atomic.Int32 // attempts the Dialer made (its Attempt hook)

	mu      sync.Mutex
	changes []string // destination breaker changes, "key from>to"
}

func (s *sharedState) Attach(d *dialer.Dialer) error {
	if !s.attached.CompareAndSwap(nil, d) {
		return errors.New("attached twice")
	}
	return nil
}

func (s *sharedState) Hooks() dialer.Hooks {
	return dialer.Hooks{Attempt: func(context.Context, dialer.AttemptInfo) { s.attempts.Add(1) }, BreakerChange: func(c dialer.BreakerChange) {
		if c.Kind != "destination" {
			return
		}
		s.mu.Lock()
		s.changes = append(s.changes, c.Key+" "+c.From.String()+">"+c.To.String())
		s.mu.Unlock()
	}}
}

func (s *sharedState) MayProbe(string) bool {
	s.asked.Add(1)
	return s.let.Load()
}

func (s *sharedState) takeChanges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.changes
	s.changes = nil
	return c
}

func newShared(t *testing.T, opts ...dialer.Option) (*dialer.Dialer, *sharedState) {
	t.Helper()
	s := new(sharedState)
	d, err := dialer.New(append([]dialer.Option{dialer.WithSharedState(s)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if s.attached.Load() != d {
		t.Fatal("New did not attach the shared state to the Dialer it returned")
	}
	return d, s
}

func dialOnce(t *testing.T, d *dialer.Dialer, addr string) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr)
	if c != nil {
		c.Close()
	}
	return time.Since(start), err
}

// A destination held by another process's verdict fails fast although it
// answers; once the hold is over, its probe goes only if the shared state
// lets it, and a successful probe closes the breaker. Healthy dials never
// ask the shared state.
func TestHoldDestinationFailsFastThenProbesThroughTheGate(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	d, s := newShared(t)
	for range 20 {
		if _, err := dialOnce(t, d, h.String()); err != nil {
			t.Fatalf("healthy dial: %v", err)
		}
	}
	if n := s.asked.Load(); n != 0 {
		t.Fatalf("MayProbe asked %d times on healthy dials, want 0", n)
	}

	until := time.Now().Add(300 * time.Millisecond)
	d.HoldDestination(h.String(), until)
	attempts := s.attempts.Load()
	for time.Now().Before(until.Add(-50 * time.Millisecond)) {
		if _, err := dialOnce(t, d, h.String()); !errors.Is(err, dialer.ErrCircuitOpen) {
			t.Fatalf("dial while held: %v, want ErrCircuitOpen", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.attempts.Load() - attempts; n != 0 {
		t.Fatalf("dials while held made %d attempts, want none", n)
	}
	if got := s.takeChanges(); len(got) != 1 || got[0] != h.String()+" closed>open" {
		t.Fatalf("breaker changes = %v, want [%s closed>open]", got, h.String())
	}

	time.Sleep(time.Until(until) + 10*time.Millisecond)
	if _, err := dialOnce(t, d, h.String()); !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Fatalf("probe refused by the gate: %v, want ErrCircuitOpen", err)
	}
	if s.asked.Load() == 0 {
		t.Fatal("the probe did not ask MayProbe")
	}
	s.let.Store(true)
	if _, err := dialOnce(t, d, h.String()); err != nil {
		t.Fatalf("probe let through: %v, want a connection", err)
	}
	wantDestState(t, d, h.String(), breaker.Closed)
}

func wantDestState(t *testing.T, d *dialer.Dialer, dest string, want breaker.State) {
	t.Helper()
	if s, _ := d.DestinationState(dest); s.State != want {
		t.Fatalf("%s breaker %v, want %v", dest, s.State, want)
	}
}

// ReleaseDestination closes a held breaker at once: the next dial connects.
func TestReleaseDestinationClosesAtOnce(t *testing.T) {
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	d, _ := newShared(t)
	d.HoldDestination(h.String(), time.Now().Add(time.Minute))
	if _, err := dialOnce(t, d, h.String()); !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Fatalf("dial while held: %v, want ErrCircuitOpen", err)
	}
	d.ReleaseDestination(h.String())
	wantDestState(t, d, h.String(), breaker.Closed)
	if _, err := dialOnce(t, d, h.String()); err != nil {
		t.Fatalf("dial after release: %v", err)
	}
}

// Stalls confirmed elsewhere count here: with two charged, one stall of
// this Dialer's own opens the breaker that needs three.
func TestChargeStallCountsTowardTheBreaker(t *testing.T) {
	opts := []dialer.Option{dialer.WithAttemptTimeout(50 * time.Millisecond), dialer.WithMaxRetries(0)}
	for _, charged := range []int{0, 2} {
		s := dialtest.NewStalled(t, "127.0.0.1:0")
		d, _ := newShared(t, opts...)
		for range charged {
			d.ChargeStall(s.String())
		}
		if _, err := dialOnce(t, d, s.String()); err == nil || errors.Is(err, dialer.ErrCircuitOpen) {
			t.Fatalf("dial to a stalled listener: %v, want a stall", err)
		}
		want := breaker.Closed
		if charged == 2 {
			want = breaker.Open
		}
		wantDestState(t, d, s.String(), want)
	}
}

func TestWithSharedStateRefusesBadUse(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []dialer.Option
		want string
	}{
		{"nil", []dialer.Option{dialer.WithSharedState(nil)}, "nil SharedState"},
		{"twice", []dialer.Option{dialer.WithSharedState(new(sharedState)), dialer.WithSharedState(new(sharedState))}, "given twice"},
		{"without breakers", []dialer.Option{dialer.WithSharedState(new(sharedState)), dialer.WithoutBreaker()}, "breakers are off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dialer.New(tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New() error = %v, want one saying %q", err, tc.want)
			}
		})
	}
	s := new(sharedState)
	s.attached.Store(new(dialer.Dialer))
	if _, err := dialer.New(dialer.WithSharedState(s)); err == nil || !strings.Contains(err.Error(), "attached twice") {
		t.Fatalf("New() with a refusing Attach: %v, want its error", err)
	}
}

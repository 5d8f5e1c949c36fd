package fleet_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	"github.com/dialguard/dialguard/fleet"
)

// member is one process of a fleet, in this test's process: a Dialer and
// its Share, with the destination breaker changes it saw.
type member struct {
	d     *dialer.Dialer
	share *fleet.Share

	mu      sync.Mutex
	changes []dialer.BreakerChange
	probes  int           // dials that were their destination's half-open probe
	changed chan struct{} // a change arrived (never blocks: capacity 1)
}

// stallOpts make a stall cost 100 ms and a dial at most 2 s.
var stallOpts = []dialer.Option{dialer.WithAttemptTimeout(100 * time.Millisecond), dialer.WithTimeout(2 * time.Second)}

func newMember(t *testing.T, client redis.UniversalClient, prefix string, opts ...fleet.Option) *member {
	t.Helper()
	return newMemberWith(t, client, prefix, opts, nil)
}

// newMemberWith is newMember with options for the Dialer too.
func newMemberWith(t *testing.T, client redis.UniversalClient, prefix string, opts []fleet.Option, dopts []dialer.Option) *member {
	t.Helper()
	s, err := fleet.New(client, append([]fleet.Option{fleet.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{share: s, changed: make(chan struct{}, 1)}
	all := append([]dialer.Option{s.Option(), dialer.WithHooks(dialer.Hooks{BreakerChange: m.record, DialDone: m.done})}, stallOpts...)
	d, err := dialer.New(append(all, dopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.d = d
	t.Cleanup(func() { s.Close() })
	return m
}

func (m *member) done(_ context.Context, i dialer.DialDoneInfo) {
	if i.Probe {
		m.mu.Lock()
		m.probes++
		m.mu.Unlock()
	}
}

func (m *member) record(c dialer.BreakerChange) {
	if c.Kind != "destination" {
		return
	}
	m.mu.Lock()
	m.changes = append(m.changes, c)
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// waitState waits, at most within, for dest's breaker to be in want.
func (m *member) waitState(t *testing.T, dest string, want breaker.State, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	timeout := time.After(within)
	// An open breaker becomes half-open when next asked, with no event:
	// ask every 5 ms too.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s, _ := m.d.DestinationState(dest); s.State == want {
			return time.Since(start)
		}
		select {
		case <-m.changed:
		case <-tick.C:
		case <-timeout:
			s, _ := m.d.DestinationState(dest)
			t.Fatalf("%s breaker still %v after %v, want %v", dest, s.State, within, want)
		}
	}
}

func dial(d *dialer.Dialer, addr string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr)
	if c != nil {
		c.Close()
	}
	return time.Since(start), err
}

// One process's breaker opening on a stalled destination opens the
// others' at once, and a process started during the outage fails fast on
// its first dial, without paying a stall.
func TestOpeningIsShared(t *testing.T) {
	r := newRedis(t)
	client := r.client(t)
	stalled := dialtest.NewStalled(t, "127.0.0.1:0")
	dest := stalled.String()
	a, b := newMember(t, client, "open"), newMember(t, client, "open")

	if _, err := dial(a.d, dest); err == nil {
		t.Fatal("dial to a stalled listener connected")
	}
	a.waitState(t, dest, breaker.Open, 5*time.Second)
	b.waitState(t, dest, breaker.Open, 2*time.Second)
	elapsed, err := dial(b.d, dest)
	if !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Fatalf("dial from the other process: %v, want ErrCircuitOpen", err)
	}
	t.Logf("the other process failed fast in %v", elapsed)

	late := newMember(t, client, "open")
	elapsed, err = dial(late.d, dest)
	if !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Fatalf("first dial of a process started during the outage: %v, want ErrCircuitOpen", err)
	}
	if elapsed > 50*time.Millisecond {
		t.Errorf("first dial of a process started during the outage took %v, want a fast failure", elapsed)
	}
	if s := a.share.Stats(); s.Sent == 0 {
		t.Errorf("the tripping process sent nothing: %+v", s)
	}
	if s := b.share.Stats(); s.Sent != 0 {
		t.Errorf("the process that applied the opening sent %d messages, want 0 (no echo)", s.Sent)
	}
}

// Stalls are shared: two processes that each stall once or twice open
// their breakers together after three stalls in all.
func TestStallsAreCountedFleetWide(t *testing.T) {
	r := newRedis(t)
	client := r.client(t)
	stalled := dialtest.NewStalled(t, "127.0.0.1:0")
	dest := stalled.String()
	a, b := newMember(t, client, "stalls"), newMember(t, client, "stalls")
	ctx := context.Background()
	for _, m := range []*member{a, b} {
		if c, err := m.d.DialContext(ctx, "tcp", dest); err == nil {
			c.Close()
			t.Fatal("dial to a stalled listener connected")
		}
	}
	// Each dial retries; whichever reached three in all, both are open.
	a.waitState(t, dest, breaker.Open, 5*time.Second)
	b.waitState(t, dest, breaker.Open, 5*time.Second)
}

// After the open time, one process of the fleet probes; the others keep
// failing fast, and close when its probe connects.
func TestOneProbeForTheFleet(t *testing.T) {
	r := newRedis(t)
	client := r.client(t)
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	dest := h.String()
	members := make([]*member, 4)
	for i := range members {
		// A loaded machine may answer the lease later than the default
		// 25 ms, and a probe would then go alone (as it should).
		members[i] = newMember(t, client, "probe", fleet.WithProbeTimeout(time.Second))
	}
	until := time.Now().Add(300 * time.Millisecond)
	for _, m := range members {
		m.d.HoldDestination(dest, until)
	}
	time.Sleep(time.Until(until) + 5*time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i, m := range members {
		wg.Go(func() { _, errs[i] = dial(m.d, dest) })
	}
	wg.Wait()
	// Dials after the probe's success may connect too: they are not
	// probes, but dials to a closed breaker.
	for _, err := range errs {
		if err != nil && !errors.Is(err, dialer.ErrCircuitOpen) {
			t.Fatalf("dial after the hold: %v, want a connection or ErrCircuitOpen", err)
		}
	}
	for _, m := range members {
		m.waitState(t, dest, breaker.Closed, time.Second)
	}
	var probes int
	var won, lost, alone int64
	for _, m := range members {
		m.mu.Lock()
		probes += m.probes
		m.mu.Unlock()
		s := m.share.Stats()
		won, lost, alone = won+s.ProbesWon, lost+s.ProbesLost, alone+s.ProbesAlone
	}
	if probes != 1 || won != 1 || alone != 0 {
		t.Errorf("%d probe dials, probes won %d (lost %d, alone %d); want one probe for the fleet", probes, won, lost, alone)
	}
	connected := 0
	for _, err := range errs {
		if err == nil {
			connected++
		}
	}
	if connected == 0 {
		t.Errorf("no dial connected after the hold: %v", errs)
	}
}

// Healthy dials with sharing on send Redis nothing: the server's command
// statistics do not move, however many dials.
func TestHealthyDialsSendNoCommands(t *testing.T) {
	r := newRedis(t)
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	m := newMember(t, r.client(t), "healthy")
	if _, err := dial(m.d, h.String()); err != nil {
		t.Fatal(err)
	}
	// The first dial's estimate is published (once): let it go first.
	waitFor(t, 5*time.Second, "first estimate published", func() bool { return m.share.Stats().Sent == 1 })
	before := r.commands(t)
	const dials = 500
	for range dials {
		if _, err := dial(m.d, h.String()); err != nil {
			t.Fatal(err)
		}
	}
	if d := delta(before, r.commands(t)); len(d) != 0 {
		t.Fatalf("%d healthy dials made Redis commands %v, want none", dials, d)
	}
	if st := m.share.Stats(); st.Sent != 1 || st.Dropped != 0 {
		t.Errorf("after %d healthy dials: %d messages sent, %d dropped; want the first estimate only", dials, st.Sent, st.Dropped)
	}
}

// With Redis unreachable a shared Dialer behaves as one alone: healthy
// dials connect, a stalled destination trips its breaker and probes on
// its own schedule, and Close leaves no goroutine behind.
func TestRedisDownChangesNothing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there: refused
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer client.Close()
	h := dialtest.NewHealthy(t, "127.0.0.1:0")
	stalled := dialtest.NewStalled(t, "127.0.0.1:0")
	m := newMember(t, client, "down")
	for range 50 {
		if _, err := dial(m.d, h.String()); err != nil {
			t.Fatalf("healthy dial with Redis down: %v", err)
		}
	}
	if _, err := dial(m.d, stalled.String()); err == nil {
		t.Fatal("stalled dial connected")
	}
	m.waitState(t, stalled.String(), breaker.Open, 5*time.Second)
	m.waitState(t, stalled.String(), breaker.HalfOpen, 3*time.Second)
	if _, err := dial(m.d, stalled.String()); err == nil {
		t.Fatal("the probe to a stalled listener connected")
	}
	m.mu.Lock()
	probes := m.probes
	m.mu.Unlock()
	if probes != 1 {
		t.Fatalf("%d probes with Redis down, want the one the breaker sends alone", probes)
	}
	if s := m.share.Stats(); s.ProbesAlone == 0 || s.Sent != 0 {
		t.Errorf("stats with Redis down: %+v, want probes decided alone and nothing sent", s)
	}
}

// A breaker that trips on other processes' stalls alone is not published
// (they trip on the same stalls) but goes to the open set: a process that
// starts then fails fast. Here the process that stalls trips only after
// 10 stalls, so only the other one opens.
func TestChargedOpeningReachesTheOpenSet(t *testing.T) {
	r := newRedis(t)
	client := r.client(t)
	stalled := dialtest.NewStalled(t, "127.0.0.1:0")
	dest := stalled.String()
	patient := newMemberWith(t, client, "charged", nil, []dialer.Option{dialer.WithBreaker(breaker.Settings{ConsecutiveFailures: 10})})
	b := newMember(t, client, "charged")
	if _, err := dial(patient.d, dest); err == nil {
		t.Fatal("dial to a stalled listener connected")
	}
	b.waitState(t, dest, breaker.Open, 5*time.Second)
	if s, _ := patient.d.DestinationState(dest); s.State != breaker.Closed {
		t.Fatalf("the stalling process's breaker is %v, want closed (it trips after 10)", s.State)
	}
	if s := b.share.Stats(); s.Sent != 0 {
		t.Errorf("the process that tripped on charged stalls published %d messages, want 0", s.Sent)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		late := newMember(t, client, "charged")
		_, err := dial(late.d, dest)
		if errors.Is(err, dialer.ErrCircuitOpen) {
			break
		}
		// The entry is written by b's sender right after the opening.
		if time.Now().After(deadline) {
			t.Fatalf("a process started after the charged opening: %v, want ErrCircuitOpen", err)
		}
		late.share.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// Publishing never holds the dial: with Redis frozen the sender is stuck
// in a command, the queue fills, and further events are dropped at once.
func TestFullQueueDrops(t *testing.T) {
	r := newRedis(t)
	client := redis.NewClient(&redis.Options{Addr: r.addr, ContextTimeoutEnabled: true})
	defer client.Close()
	const size = 8
	m := newMember(t, client, "full", fleet.WithQueueSize(size))
	r.Freeze()
	defer r.Thaw()
	hook := m.share.Hooks().BreakerChange
	const events = 200
	var worst time.Duration
	for i := range events {
		start := time.Now()
		hook(dialer.BreakerChange{Kind: "destination", Key: "127.0.0.1:" + strconv.Itoa(1000+i), From: breaker.Closed, To: breaker.Open, At: time.Now()})
		worst = max(worst, time.Since(start))
	}
	s := m.share.Stats()
	t.Logf("%d events with Redis frozen: %d dropped, slowest hook call %v", events, s.Dropped, worst)
	// The sender holds at most one, the queue size more.
	if s.Dropped < events-size-1 {
		t.Errorf("%d of %d events dropped with a queue of %d, want at least %d", s.Dropped, events, size, events-size-1)
	}
	if worst > 50*time.Millisecond {
		t.Errorf("a hook call took %v with Redis frozen, want it not to wait", worst)
	}
}

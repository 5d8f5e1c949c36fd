package dialer_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// events records what a set of hooks saw, as one line per event.
type events struct {
	mu    sync.Mutex
	lines []string
	ctxOK bool // every dial hook saw the context DialStart returned
	dones []dialer.DialDoneInfo
	brk   []dialer.BreakerChange
}

type spanKey struct{}

func (e *events) add(ctx context.Context, line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ctx != nil && ctx.Value(spanKey{}) == nil {
		e.ctxOK = false
	}
	e.lines = append(e.lines, line)
}

func (e *events) hooks(tag string) dialer.Hooks {
	e.ctxOK = true
	return dialer.Hooks{
		DialStart: func(ctx context.Context, i dialer.DialStartInfo) context.Context {
			e.add(nil, tag+"start "+i.Destination)
			return context.WithValue(ctx, spanKey{}, tag)
		},
		Resolved: func(ctx context.Context, i dialer.ResolveInfo) { e.add(ctx, tag+"resolved "+i.Network) },
		Admission: func(ctx context.Context, i dialer.AdmissionInfo) {
			e.add(ctx, tag+"admission")
		},
		Attempt: func(ctx context.Context, i dialer.AttemptInfo) {
			e.add(ctx, tag+"attempt "+i.Address.Addr().String()+" "+i.Outcome.String())
		},
		Retry: func(ctx context.Context, i dialer.RetryInfo) { e.add(ctx, tag+"retry") },
		DialDone: func(ctx context.Context, i dialer.DialDoneInfo) {
			e.add(ctx, tag+"done")
			e.mu.Lock()
			e.dones = append(e.dones, i)
			e.mu.Unlock()
		},
		BreakerChange: func(c dialer.BreakerChange) {
			e.mu.Lock()
			e.brk = append(e.brk, c)
			e.mu.Unlock()
		},
	}
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.lines
	e.lines = nil
	return l
}

// The incident, watched: the hooks see the dial begin, both families
// answer, the stalled ::1 lose to 127.0.0.1, and the dial end, in that
// order, each with the context DialStart made; the report tells the same
// story.
func TestHooksAndReportTellTheIncident(t *testing.T) {
	ds := dialtest.NewDualStack(t)
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"incident.test": {IPv6: []netip.Addr{v6loop}, IPv4: []netip.Addr{v4loop}, IPv4Delay: 5 * time.Millisecond},
	})
	var a, b events
	d := newDialer(t, dialer.WithResolver(res), dialer.WithAttemptDelay(50*time.Millisecond),
		dialer.WithHooks(a.hooks("")), dialer.WithHooks(b.hooks("b:")))
	target := hostPort("incident.test", ds.Port)
	healthy := netip.AddrPortFrom(v4loop, ds.Port)

	var rep dialer.Report
	c, err := d.DialContext(dialer.ContextWithReport(t.Context(), &rep), "tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	want := []string{
		"start " + target, "resolved ip6", "resolved ip4",
		"attempt 127.0.0.1 connected", "attempt ::1 lost-slow", "done", // in the order they finished
	}
	got := a.take()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hooks saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if bl := b.take(); len(bl) != len(want) || bl[0] != "b:start "+target {
		t.Errorf("the second set of hooks saw %q", bl)
	}
	if !a.ctxOK || !b.ctxOK {
		t.Error("a hook did not get the context DialStart returned")
	}
	if len(a.dones) != 1 || a.dones[0].Winner != healthy || a.dones[0].Tries != 1 || a.dones[0].Err != nil {
		t.Errorf("DialDone: %+v", a.dones)
	}

	if rep.Winner != healthy || rep.Err != nil || rep.Tries != 1 || rep.Destination != target || rep.Network != "tcp" {
		t.Errorf("report: winner %v err %v tries %d dest %q net %q", rep.Winner, rep.Err, rep.Tries, rep.Destination, rep.Network)
	}
	if len(rep.Resolutions) != 2 || rep.Resolutions[0].Network != "ip6" || rep.Resolutions[1].Network != "ip4" ||
		rep.Resolutions[1].Addrs[0] != v4loop {
		t.Errorf("report resolutions: %+v", rep.Resolutions)
	}
	if len(rep.Attempts) != 2 || rep.Attempts[0].Address != healthy || rep.Attempts[0].Outcome != dialer.Connected ||
		rep.Attempts[1].Address.Addr() != v6loop {
		t.Errorf("report attempts: %+v", rep.Attempts)
	}
	if rep.Elapsed < 50*time.Millisecond || rep.RTT <= 0 {
		t.Errorf("report: elapsed %v (the attempt delay is 50ms), rtt %v", rep.Elapsed, rep.RTT)
	}
	text := rep.String()
	for _, line := range []string{"connected to " + healthy.String(), "resolve ip6", "resolve ip4", "lost-slow", "connected"} {
		if !strings.Contains(text, line) {
			t.Errorf("report text lacks %q:\n%s", line, text)
		}
	}
	if body := text[strings.IndexByte(text, '\n'):]; strings.Index(body, "[::1]:") > strings.Index(body, "127.0.0.1:") {
		t.Errorf("report text does not list the attempts in the order they began:\n%s", text)
	}
	t.Logf("the incident's report:\n%s", text)

	// The next dial goes straight to the winner; the same context starts
	// the report afresh.
	c, err = d.DialContext(dialer.ContextWithReport(t.Context(), &rep), "tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if len(rep.Attempts) != 1 || rep.Attempts[0].Address != healthy {
		t.Errorf("second report's attempts: %+v", rep.Attempts)
	}
}

// A stalled literal trips its breaker: the hook sees the destination open,
// the dials after it fail fast (DialDone and the report say so, with no
// round made), and a stall is retried before that (Retry).
func TestHooksSeeStallsRetriesAndTheBreaker(t *testing.T) {
	st := dialtest.NewStalled(t, "127.0.0.1:0")
	var e events
	d := newDialer(t, dialer.WithAttemptTimeout(30*time.Millisecond), dialer.WithMaxRetries(1),
		dialer.WithBackoff(func() backoff.BackOff { return backoff.NewConstantBackOff(5 * time.Millisecond) }),
		dialer.WithHooks(e.hooks("")))
	target := st.String()
	for i := range 4 {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err := d.DialContext(ctx, "tcp", target)
		cancel()
		if err == nil {
			t.Fatalf("dial %d to a stalled listener connected", i+1)
		}
	}
	var rep dialer.Report
	_, err := d.DialContext(dialer.ContextWithReport(t.Context(), &rep), "tcp", target)
	if !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Fatalf("dial after the stalls: %v, want ErrCircuitOpen", err)
	}
	if !rep.FailedFast || rep.Tries != 0 || len(rep.Attempts) != 0 || !errors.Is(rep.Err, dialer.ErrCircuitOpen) {
		t.Errorf("report of a dial failed fast: %+v", rep)
	}
	lines := strings.Join(e.take(), "|")
	if !strings.Contains(lines, "attempt 127.0.0.1 stalled|retry|attempt 127.0.0.1 stalled") {
		t.Errorf("hooks did not see a stall retried: %s", lines)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	opened := false
	for _, c := range e.brk {
		if c.Kind == "destination" && c.Key == target && c.To == breaker.Open && !c.At.IsZero() {
			opened = true
		}
	}
	if !opened {
		t.Errorf("BreakerChange never saw %s open: %+v", target, e.brk)
	}
	last := e.dones[len(e.dones)-1]
	if !last.FailedFast || last.Tries != 0 {
		t.Errorf("last DialDone: %+v", last)
	}
}

// A dial held by admission is reported with how long it waited.
func TestHooksSeeAdmissionWaits(t *testing.T) {
	st := dialtest.NewStalled(t, "127.0.0.1:0")
	var e events
	d := newDialer(t, dialer.WithoutBreaker(), dialer.WithAdmissionLimit(1), dialer.WithMaxRetries(0),
		dialer.WithAttemptTimeout(time.Second), dialer.WithHooks(e.hooks("")))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() { _, err := d.DialContext(ctx, "tcp", st.String()); first <- err }()
	time.Sleep(50 * time.Millisecond) // the first dial holds the one slot
	var rep dialer.Report
	_, err := d.DialContext(dialer.ContextWithReport(ctx, &rep), "tcp", st.String())
	if err == nil {
		t.Fatal("a dial to a stalled listener connected")
	}
	<-first
	if rep.Admission < 100*time.Millisecond {
		t.Errorf("report: admission waited %v, want most of the 250 ms it was held", rep.Admission)
	}
	if !strings.Contains(strings.Join(e.take(), "|"), "admission") {
		t.Error("the Admission hook was not called")
	}
}

func TestWithHooksRefusesAnEmptySet(t *testing.T) {
	if _, err := dialer.New(dialer.WithHooks(dialer.Hooks{})); err == nil || !strings.Contains(err.Error(), "WithHooks") {
		t.Errorf("New(WithHooks(Hooks{})) = %v, want an error naming WithHooks", err)
	}
}

// Hooks see only TCP dials; other networks go to net.Dialer unwatched.
func TestHooksSeeOnlyTCP(t *testing.T) {
	var e events
	d := newDialer(t, dialer.WithHooks(e.hooks("")))
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := d.DialContext(t.Context(), "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if l := e.take(); len(l) != 0 {
		t.Errorf("a UDP dial was watched: %q", l)
	}
}

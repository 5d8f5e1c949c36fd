package dialotel_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
	dialotel "github.com/dialguard/dialguard/otel"
)

// The incident, measured: incident.test resolves to a stalled ::1 and a
// healthy 127.0.0.1. The first dial's attempt to ::1 loses (slow, or
// stalled) to 127.0.0.1; the two dials after it go straight to 127.0.0.1.
// The metrics count exactly that, by address and family, and the traces
// show each dial under the caller's span with its attempts as children.
func TestIncidentMetricsAndTraces(t *testing.T) {
	ds := dialtest.NewDualStack(t)
	res := dialtest.NewResolver(map[string]dialtest.Host{
		"incident.test": {IPv6: []netip.Addr{v6loop}, IPv4: []netip.Addr{v4loop}, IPv4Delay: 5 * time.Millisecond},
	})
	r := newRig(t)
	d := r.dialer(t, dialer.WithResolver(res), dialer.WithAttemptDelay(50*time.Millisecond))
	target := hostPort("incident.test", ds.Port)

	ctx, parent := r.tp.Tracer("test").Start(t.Context(), "caller")
	for i := range 3 {
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			t.Fatalf("dial %d: %v", i+1, err)
		}
		c.Close()
	}
	parent.End()

	server := []attribute.KeyValue{attribute.String("server.address", "incident.test"), attribute.Int("server.port", int(ds.Port))}
	v6 := append(server, attribute.String("network.peer.address", "::1"), attribute.String("network.type", "ipv6"))
	v4 := append(server, attribute.String("network.peer.address", "127.0.0.1"), attribute.String("network.type", "ipv4"))
	slow := r.total(t, dialotel.MetricAttempts, append(v6, attribute.String("dialguard.outcome", "lost-slow"))...) +
		r.total(t, dialotel.MetricAttempts, append(v6, attribute.String("dialguard.outcome", "stalled"))...)
	if all := r.total(t, dialotel.MetricAttempts, v6...); slow != 1 || all != 1 {
		t.Errorf("attempts to ::1: %v lost-slow or stalled of %v, want 1 of 1", slow, all)
	}
	if n := r.total(t, dialotel.MetricAttempts, append(v4, attribute.String("dialguard.outcome", "connected"))...); n != 3 {
		t.Errorf("connected attempts to 127.0.0.1: %v, want 3", n)
	}
	if n := r.total(t, dialotel.MetricDialDuration, append(server, attribute.String("dialguard.outcome", "connected"),
		attribute.String("network.type", "ipv4"))...); n != 3 {
		t.Errorf("dial duration histogram counts %v connected dials over ipv4, want 3", n)
	}
	var firstSum float64
	for _, p := range r.collect(t, dialotel.MetricDialDuration) {
		firstSum += p.value
	}
	if firstSum < 0.05 {
		t.Errorf("the dials' durations sum to %vs, want at least the first dial's 50ms attempt delay", firstSum)
	}
	rtts := r.collect(t, dialotel.MetricRTT)
	if len(rtts) != 1 || !rtts[0].has(server...) || rtts[0].value <= 0 || rtts[0].value > 1 {
		t.Errorf("rtt gauge %+v, want one positive loopback estimate for incident.test", rtts)
	}

	dials := r.spansNamed(dialotel.SpanDial)
	if len(dials) != 3 {
		t.Fatalf("%d dial spans, want 3", len(dials))
	}
	for _, s := range dials {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("dial span %v is not a child of the caller's span", s.SpanContext().SpanID())
		}
		if v, _ := attr(s, "network.peer.address"); v.AsString() != "127.0.0.1" {
			t.Errorf("dial span's network.peer.address = %q, want the winner 127.0.0.1", v.AsString())
		}
		if v, _ := attr(s, "server.address"); v.AsString() != "incident.test" {
			t.Errorf("dial span's server.address = %q", v.AsString())
		}
	}
	// The spans end in the order the dials did; the first is the race.
	first := dials[0]
	var attempts []string
	for _, s := range r.spansNamed(dialotel.SpanAttempt) {
		if s.Parent().SpanID() != first.SpanContext().SpanID() {
			continue
		}
		addr, _ := attr(s, "network.peer.address")
		outcome, _ := attr(s, "dialguard.outcome")
		offset, _ := attr(s, "dialguard.start_offset")
		attempts = append(attempts, addr.AsString()+" "+outcome.AsString())
		if s.StartTime().Before(first.StartTime()) || s.EndTime().After(first.EndTime()) {
			t.Errorf("attempt span %s runs %v..%v, outside its dial's %v..%v", addr.AsString(),
				s.StartTime(), s.EndTime(), first.StartTime(), first.EndTime())
		}
		if got := s.StartTime().Sub(first.StartTime()).Seconds(); got-offset.AsFloat64() > 1e-6 || offset.AsFloat64()-got > 1e-6 {
			t.Errorf("attempt span %s starts %vs into the dial, its start_offset says %vs", addr.AsString(), got, offset.AsFloat64())
		}
		if addr.AsString() == "127.0.0.1" && offset.AsFloat64() < 0.05 {
			t.Errorf("127.0.0.1 started %vs into the first dial, before the 50ms attempt delay", offset.AsFloat64())
		}
	}
	if len(attempts) != 2 || attempts[0] != "127.0.0.1 connected" ||
		(attempts[1] != "::1 lost-slow" && attempts[1] != "::1 stalled") {
		t.Errorf("the first dial's attempt spans (in the order they ended): %q, want 127.0.0.1 connected, ::1 lost-slow", attempts)
	}
	lookups := 0
	for _, s := range r.spansNamed(dialotel.SpanLookup) {
		if s.Parent().SpanID() == first.SpanContext().SpanID() {
			lookups++
		}
	}
	if lookups != 2 {
		t.Errorf("the first dial has %d DNS lookup spans, want 2 (AAAA and A)", lookups)
	}
	if n := len(r.spansNamed(dialotel.SpanAttempt)); n != 4 {
		t.Errorf("%d attempt spans in all, want 4 (2 in the race, 1 per direct dial)", n)
	}
}

// A stalled literal: its stalls are counted and retried, its breaker
// opens (a transition, and one open breaker), and the dials after that
// fail fast, which the duration histogram and the span say.
func TestStalledLiteralOpensItsBreaker(t *testing.T) {
	st := dialtest.NewStalled(t, "127.0.0.1:0")
	r := newRig(t)
	d := r.dialer(t, dialer.WithAttemptTimeout(30*time.Millisecond), dialer.WithMaxRetries(1),
		dialer.WithBackoff(func() backoff.BackOff { return backoff.NewConstantBackOff(5 * time.Millisecond) }))
	target := st.String()
	failedFast := false
	for i := 0; i < 10 && !failedFast; i++ {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err := d.DialContext(ctx, "tcp", target)
		cancel()
		if err == nil {
			t.Fatalf("dial %d to a stalled listener connected", i+1)
		}
		failedFast = errors.Is(err, dialer.ErrCircuitOpen)
	}
	if !failedFast {
		t.Fatal("10 dials to a stalled listener, and its breaker never opened")
	}
	// The dial that saw the breaker open may have been cut short by it
	// mid-retry; the next one finds it open and tries nothing.
	if _, err := d.DialContext(t.Context(), "tcp", target); !errors.Is(err, dialer.ErrCircuitOpen) {
		t.Fatalf("dial after the breaker opened: %v, want ErrCircuitOpen", err)
	}
	server := []attribute.KeyValue{attribute.String("server.address", "127.0.0.1"), attribute.Int("server.port", int(st.Addr().Port()))}
	if n := r.total(t, dialotel.MetricStalls, append(server, attribute.String("network.peer.address", "127.0.0.1"))...); n < 2 {
		t.Errorf("%v stalls counted, want at least 2 (a stall and its retry)", n)
	}
	if n := r.total(t, dialotel.MetricAttempts, append(server, attribute.String("dialguard.outcome", "stalled"),
		attribute.String("error.type", "stalled"))...); n < 2 {
		t.Errorf("%v stalled attempts with error.type stalled, want at least 2", n)
	}
	if n := r.total(t, dialotel.MetricRetries, append(server, attribute.String("error.type", "stalled"))...); n < 1 {
		t.Errorf("%v retries of a stall counted, want at least 1", n)
	}
	if n := r.total(t, dialotel.MetricBreakerTransitions, attribute.String("dialguard.breaker.kind", "destination"),
		attribute.String("dialguard.breaker.from_state", "closed"), attribute.String("dialguard.breaker.state", "open")); n != 1 {
		t.Errorf("%v destination breaker transitions closed->open, want 1", n)
	}
	if n := r.total(t, dialotel.MetricBreakersOpen, attribute.String("dialguard.breaker.kind", "destination")); n != 1 {
		t.Errorf("open destination breakers: %v, want 1", n)
	}
	if n := r.total(t, dialotel.MetricDialDuration, append(server, attribute.String("dialguard.outcome", "circuit_open"),
		attribute.String("error.type", "circuit_open"))...); n < 1 {
		t.Errorf("dials refused by the open breaker in the histogram: %v, want at least 1", n)
	}
	dials := r.spansNamed(dialotel.SpanDial)
	last := dials[len(dials)-1]
	if ff, _ := attr(last, "dialguard.failed_fast"); !ff.AsBool() || last.Status().Code != codes.Error {
		t.Errorf("the failed-fast dial's span: failed_fast %v, status %v", ff.AsBool(), last.Status())
	}
}

// A dial held by admission records how long it waited.
func TestAdmissionWaitIsRecorded(t *testing.T) {
	st := dialtest.NewStalled(t, "127.0.0.1:0")
	r := newRig(t)
	d := r.dialer(t, dialer.WithoutBreaker(), dialer.WithAdmissionLimit(1), dialer.WithMaxRetries(0),
		dialer.WithAttemptTimeout(time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() { _, err := d.DialContext(ctx, "tcp", st.String()); first <- err }()
	time.Sleep(50 * time.Millisecond) // the first dial holds the one slot
	if _, err := d.DialContext(ctx, "tcp", st.String()); err == nil {
		t.Fatal("a dial to a stalled listener connected")
	}
	<-first
	pts := r.collect(t, dialotel.MetricAdmissionWait)
	if len(pts) != 1 || pts[0].count != 1 || pts[0].value < 0.1 {
		t.Errorf("admission waits %+v, want one wait of most of the 250ms the slot was held", pts)
	}
}

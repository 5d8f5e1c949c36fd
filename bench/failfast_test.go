package bench

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// BenchmarkFailFast is the cost of a dial to a destination whose breaker is
// open: ns/op and allocs/op of a call that returns ErrCircuitOpen without
// any I/O (target: under 1 µs). The breaker is tripped before the timer by
// dialing a dialtest.Refused with WithMaxRetries(0) until the dial fails
// with ErrCircuitOpen; the open timeout is set to an hour so that no
// half-open probe (a real dial) lands inside the measurement.
//
// net.Dialer has no breaker: its line is what the same dial costs when the
// address answers at once with a RST, the cheapest failure the network can
// give. It is a reference, not a like-for-like comparison: a stalled
// destination would cost net.Dialer its whole deadline instead.
func BenchmarkFailFast(b *testing.B) {
	ref, err := dialtest.ListenRefused("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	addr := ref.String()
	ctx := context.Background()

	b.Run("net.Dialer", func(b *testing.B) {
		nd := &net.Dialer{}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := nd.DialContext(ctx, "tcp", addr); err == nil {
				b.Fatal("dial to a Refused succeeded")
			}
		}
	})
	b.Run("dialguard", func(b *testing.B) {
		d := newDialguard(b, dialer.WithMaxRetries(0),
			dialer.WithBreaker(breaker.Settings{OpenTimeout: time.Hour}))
		tripped := false
		for range 100 {
			_, err := d.DialContext(ctx, "tcp", addr)
			if errors.Is(err, dialer.ErrCircuitOpen) {
				tripped = true
				break
			}
		}
		if !tripped {
			b.Fatal("breaker did not open after 100 refused dials")
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.DialContext(ctx, "tcp", addr); !errors.Is(err, dialer.ErrCircuitOpen) {
				b.Fatalf("dial = %v, want ErrCircuitOpen", err)
			}
		}
	})
}

package breaker

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAllowParallel measures the closed path: Allow and Ticket.Done(Success)
// across 1,000 keys from all CPUs.
func BenchmarkAllowParallel(b *testing.B) {
	r, err := NewRegistry(Settings{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":443"
		r.Allow(keys[i]) // create outside the timed loop; never reported
	}
	var seed atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			done, err := r.Allow(keys[i%len(keys)])
			if err != nil {
				b.Fatal(err)
			}
			done.Done(Success)
			i++
		}
	})
}

// BenchmarkAllowOpen measures the fail-fast path: Allow on open breakers.
func BenchmarkAllowOpen(b *testing.B) {
	r, err := NewRegistry(Settings{ConsecutiveFailures: 1, OpenTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "10.1." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":443"
		done, _ := r.Allow(keys[i])
		done.Done(Failure)
	}
	var seed atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			if _, err := r.Allow(keys[i%len(keys)]); err != ErrOpen {
				b.Fatalf("Allow() = %v, want ErrOpen", err)
			}
			i++
		}
	})
}

// BenchmarkState measures State, which the dialer reads for ordering.
func BenchmarkState(b *testing.B) {
	r, err := NewRegistry(Settings{})
	if err != nil {
		b.Fatal(err)
	}
	r.Allow("a:1")
	b.ReportAllocs()
	for b.Loop() {
		r.State("a:1")
	}
}

package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Dials per iteration of BenchmarkDeadDestination, made by deadWorkers
// goroutines in a loop.
const (
	deadDials   = 200
	deadWorkers = 8
)

// BenchmarkDeadDestination dials a destination that refuses everything
// (a dialtest.Refused), deadDials times from deadWorkers goroutines, and
// reports attempts/dial: the connection attempts that reached the network
// per dial. What keeps retries from multiplying the load on a dead host:
//
//   - net.Dialer: no retries, 1 attempt per dial (counted through its
//     ControlContext hook).
//   - dialguard-no-breaker: WithoutBreaker, default retries (3) and retry
//     budget (20 % of dials + 10 per 10 s): the budget alone, near 1.2
//     rather than 1+3.
//   - dialguard-defaults: the breaker also opens after 3 refusals in a row,
//     after which dials fail with ErrCircuitOpen and make no attempt.
//
// ms/dial is the mean time a caller waited for its error. Each iteration
// uses a fresh Dialer, so budget and breaker start from zero.
func BenchmarkDeadDestination(b *testing.B) {
	ref, err := dialtest.ListenRefused("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	addr := ref.String()

	b.Run("net.Dialer", func(b *testing.B) {
		runDead(b, addr, func(c *attemptCounter) dialFunc { return c.netDialer().DialContext })
	})
	b.Run("dialguard-no-breaker", func(b *testing.B) {
		runDead(b, addr, func(c *attemptCounter) dialFunc {
			return newDialguard(b, dialer.WithoutBreaker(), c.observer()).DialContext
		})
	})
	b.Run("dialguard-defaults", func(b *testing.B) {
		runDead(b, addr, func(c *attemptCounter) dialFunc {
			return newDialguard(b, c.observer()).DialContext
		})
	})
}

func runDead(b *testing.B, addr string, newDial func(*attemptCounter) dialFunc) {
	b.ReportAllocs()
	var c attemptCounter
	var waited time.Duration
	var mu sync.Mutex
	for range b.N {
		b.StopTimer()
		dial := newDial(&c)
		b.StartTimer()
		var wg sync.WaitGroup
		for range deadWorkers {
			wg.Go(func() {
				var mine time.Duration
				for range deadDials / deadWorkers {
					t0 := time.Now()
					conn, err := dial(context.Background(), "tcp", addr)
					mine += time.Since(t0)
					if err == nil {
						conn.Close()
						b.Error("dial to a Refused succeeded")
						return
					}
				}
				mu.Lock()
				waited += mine
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	dials := float64(b.N * deadDials)
	b.ReportMetric(float64(c.n.Load())/dials, "attempts/dial")
	b.ReportMetric(ms(waited)/dials, "ms/dial")
	b.ReportMetric(0, "ns/op")
}

package bench

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Dials per iteration of BenchmarkAllRefused, made by refusedWorkers
// goroutines in a loop.
const (
	refusedDials   = 200
	refusedWorkers = 8
)

// BenchmarkAllRefused dials "refused.test", which resolves to ::1 and
// 127.0.0.1, both refusing (dialtest.Refused on one port), refusedDials
// times from refusedWorkers goroutines, and reports:
//
//   - ms/dial: the mean time a caller waited for its error;
//   - attempts/dial: the connection attempts that reached the network per
//     dial (counted through the Control hook of the net.Dialer that makes
//     them, for every contender), i.e. how much retries multiply the load
//     on a dead host.
//
// net.Dialer makes one attempt per address and no retries. failsafe-go
// retries every refusal (3 retries, backoff from 50 ms) until its breaker
// opens after 3 failures. dialguard retries within its retry budget (20 %
// of dials + 10 per 10 s) until its breaker opens after 3 failed dials.
// "dialguard-no-breaker" (diagnostic) shows the budget alone. Each
// iteration uses a fresh contender, so budgets and breakers start from zero.
func BenchmarkAllRefused(b *testing.B) {
	addr := allRefused(b)
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			runRefused(b, addr, func(r *net.Resolver, nd *net.Dialer) dialFunc { return c.new(b, r, nd) })
		})
	}
	b.Run("dialguard-no-breaker", func(b *testing.B) {
		runRefused(b, addr, func(r *net.Resolver, nd *net.Dialer) dialFunc {
			return newDialguard(b, dgOptions(r, nd, dialer.WithoutBreaker())...).DialContext
		})
	})
}

// allRefused binds a Refused on [::1]:P and 127.0.0.1:P (closed when b
// ends) and returns "refused.test:P"; runRefused serves the name.
func allRefused(b *testing.B) string {
	for range 5 {
		r6, err := dialtest.ListenRefused("[::1]:0")
		if err != nil {
			b.Fatal(err)
		}
		r4, err := dialtest.ListenRefused("127.0.0.1:" + strconv.Itoa(int(r6.Addr().Port())))
		if err != nil {
			r6.Close()
			continue
		}
		b.Cleanup(func() { r6.Close(); r4.Close() })
		return hostPort("refused.test", r6.Addr().Port())
	}
	b.Fatal("no port free on both ::1 and 127.0.0.1")
	return ""
}

func runRefused(b *testing.B, addr string, newDial func(*net.Resolver, *net.Dialer) dialFunc) {
	srv := newDNS(b, map[string][]netip.Addr{
		"refused.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	var c attemptCounter
	nd := c.netDialer()
	b.ReportAllocs()
	var waited time.Duration
	var mu sync.Mutex
	for range b.N {
		b.StopTimer()
		dial := newDial(srv.Resolver(), nd)
		b.StartTimer()
		var wg sync.WaitGroup
		for range refusedWorkers {
			wg.Go(func() {
				var mine time.Duration
				for range refusedDials / refusedWorkers {
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
	dials := float64(b.N * refusedDials)
	b.ReportMetric(float64(c.n.Load())/dials, "attempts/dial")
	b.ReportMetric(ms(waited)/dials, "ms/dial")
	b.ReportMetric(0, "ns/op")
}

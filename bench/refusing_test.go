package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
)

// BenchmarkRefusingHalf dials a flapping destination: a listener on
// 127.0.0.1:P that is up for 5 ms, then closed (so the port refuses) for
// 5 ms, over and over, so that half of the connection attempts, those that
// land in a down phase, are refused. Callers arrive open-loop, one every
// 1 ms ±50 % for 300 ms (about 300 per iteration, so arrivals sample both
// phases evenly whatever a dial costs), each with a 2 s deadline, and close
// their connection at once. Reported:
//
//   - conns/s: connections made per second of arrivals (the offered rate is
//     about 1,000/s, so conns/s is about 1,000 x success_frac);
//   - success_frac: the fraction of dials that returned a connection;
//   - attempts/dial: connection attempts that reached the network per dial;
//   - ms/dial: the mean time a caller waited for its connection or error;
//   - circuit_open_frac: the fraction of dials refused by an open breaker
//     (dialguard's or failsafe-go's).
//
// Sub-benchmarks: net.Dialer (no retries); failsafe-300ms (its breaker
// opens after 3 failures in a row); dialguard-no-breaker with
// WithMaxRetries(0) and with the default retries (3, within the retry
// budget of 50 % of dials + 10 per 10-20 s): the breaker is off in these
// two so that they measure retries alone; and dialguard-defaults, with the
// breaker, whose refusal rule (90 % of at least 10 dials) must never open
// on a server that serves half its callers (target: success_frac at least
// 0.70 and circuit_open_frac 0).
//
// What it shows: a retry lands, after its backoff (50 ms ±50 %), in a
// random phase, so each retry recovers half of what it retries; the retry
// budget allows retries for about half of the dials, so retries lift
// success_frac from ~0.5 to ~0.75, not to 1, at the cost of the backoff in
// ms/dial. It is not a model of a pool where half the backends refuse:
// there dialguard's race and memory do the work, not retries (see
// BenchmarkHealthyName for the race).
func BenchmarkRefusingHalf(b *testing.B) {
	addr := startFlapper(b)
	b.Run("net.Dialer", func(b *testing.B) {
		runRefusing(b, addr, func(c *attemptCounter) dialFunc { return c.netDialer().DialContext })
	})
	b.Run("failsafe-300ms", func(b *testing.B) {
		runRefusing(b, addr, func(c *attemptCounter) dialFunc { return newFailsafe(c.netDialer(), 300*time.Millisecond, nil) })
	})
	b.Run("dialguard-no-breaker-retries-0", func(b *testing.B) {
		runRefusing(b, addr, func(c *attemptCounter) dialFunc {
			return newDialguard(b, dialer.WithoutBreaker(), dialer.WithMaxRetries(0), c.observer()).DialContext
		})
	})
	b.Run("dialguard-no-breaker-retries-default", func(b *testing.B) {
		runRefusing(b, addr, func(c *attemptCounter) dialFunc {
			return newDialguard(b, dialer.WithoutBreaker(), c.observer()).DialContext
		})
	})
	b.Run("dialguard-defaults", func(b *testing.B) {
		runRefusing(b, addr, func(c *attemptCounter) dialFunc {
			return newDialguard(b, c.observer()).DialContext
		})
	})
}

const (
	flapUp   = 5 * time.Millisecond
	flapDown = 5 * time.Millisecond

	// Callers arrive one every refusingSpacing (±50 %, so that arrivals
	// sample the flapping phases evenly) for refusingWindow, each with a
	// refusingDeadline context.
	refusingSpacing  = time.Millisecond
	refusingWindow   = 300 * time.Millisecond
	refusingDeadline = 2 * time.Second
)

func runRefusing(b *testing.B, addr string, newDial func(*attemptCounter) dialFunc) {
	b.ReportAllocs()
	var (
		c               attemptCounter
		mu              sync.Mutex
		dials, conns    int
		circuitOpen     int
		window, waited  time.Duration
		firstUnexpected error
	)
	for range b.N {
		b.StopTimer()
		dial := newDial(&c)
		b.StartTimer()
		t0 := time.Now()
		var wg sync.WaitGroup
		for next := t0; next.Sub(t0) < refusingWindow; next = next.Add(refusingSpacing/2 + rand.N(refusingSpacing)) {
			time.Sleep(time.Until(next))
			dials++
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), refusingDeadline)
				defer cancel()
				start := time.Now()
				conn, err := dial(ctx, "tcp", addr)
				wait := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				waited += wait
				switch {
				case err == nil:
					conns++
					conn.Close()
				case isCircuitOpen(err):
					circuitOpen++
				case isRefused(err):
				default:
					if firstUnexpected == nil {
						firstUnexpected = err
					}
				}
			})
		}
		window += time.Since(t0)
		wg.Wait()
	}
	if firstUnexpected != nil {
		b.Logf("unexpected dial error (neither refused nor circuit open): %v", firstUnexpected)
	}
	b.ReportMetric(float64(conns)/window.Seconds(), "conns/s")
	b.ReportMetric(float64(conns)/float64(dials), "success_frac")
	b.ReportMetric(float64(circuitOpen)/float64(dials), "circuit_open_frac")
	b.ReportMetric(float64(c.n.Load())/float64(dials), "attempts/dial")
	b.ReportMetric(ms(waited)/float64(dials), "ms/dial")
	b.ReportMetric(0, "ns/op")
}

// startFlapper runs a listener on 127.0.0.1:P that accepts and closes
// connections for flapUp, then leaves the port unbound (refusing) for
// flapDown, until b ends. P is chosen below the ephemeral port range, so
// that no client socket takes it while it is unbound.
func startFlapper(b *testing.B) string {
	var ln net.Listener
	var addr string
	for range 100 {
		addr = "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(10000))
		var err error
		if ln, err = net.Listen("tcp4", addr); err == nil {
			break
		}
	}
	if ln == nil {
		b.Fatal("no free port for the flapping listener")
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var acc sync.WaitGroup
			acc.Go(func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			})
			select {
			case <-time.After(flapUp):
			case <-stop:
			}
			ln.Close()
			acc.Wait()
			select {
			case <-time.After(flapDown):
			case <-stop:
				return
			}
			for {
				var err error
				if ln, err = net.Listen("tcp4", addr); err == nil {
					break
				}
				select { // the port is briefly taken; try again
				case <-time.After(time.Millisecond):
				case <-stop:
					return
				}
			}
		}
	}()
	b.Cleanup(func() { close(stop); <-done })
	return addr
}

// isRefused reports whether err is a refused connection. A SYN that
// reaches the listener while it closes is answered with a RST too, which
// connect reports as ECONNRESET.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

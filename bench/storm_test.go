package bench

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The storm: stormCallers callers, one every stormSpacing, each with a
// stormDeadline context, into a destination whose every address stalls.
const (
	stormCallers  = 300
	stormSpacing  = 4 * time.Millisecond
	stormDeadline = 1500 * time.Millisecond

	// fastFailBound is how quickly a refusal must come to count as failing
	// fast: generous for a loaded two-core machine, and still 150 times
	// shorter than the callers' deadline.
	fastFailBound = 10 * time.Millisecond
)

// isTimeout reports whether err is a timeout (a deadline, an attempt
// timeout, net's "i/o timeout").
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// BenchmarkStallStorm reproduces the outage at its worst: "storm.test"
// resolves to [::1, 127.0.0.1] and both stall (dialtest.Stalled on the same
// port Q). 300 callers arrive 4 ms apart, each with a 1.5 s deadline.
//
// Reported per contender, for one storm:
//
//   - syn_sent: the peak number of sockets in SYN_SENT toward Q
//     (dialtest.SampleSynSent every 2 ms), i.e. the kernel resources parked
//     on a dead host;
//   - mean-wait-ms and p99-wait-ms: how long callers were held;
//   - circuit_open_frac: the fraction of callers refused by an open breaker
//     (dialer.ErrCircuitOpen or failsafe-go's circuitbreaker.ErrOpen), after
//     however long a wait;
//   - fastfail_frac: the fraction so refused within 10 ms,
//     i.e. that did fail fast.
//
// B/op and allocs/op are not meaningful here: they count every allocation
// of the process during the storm, and the SYN_SENT sampler's reading of
// /proc/net/tcp{,6} every 2 ms dominates them.
//
// Sub-benchmarks: the four contenders, each with the one configuration it
// uses everywhere, and a diagnostic variant,
// "dialguard-attempt-timeout-300ms" (WithAttemptTimeout(300ms), the DESIGN's
// storm setting), to show what a shorter stall threshold changes.
// Targets for dialguard (defaults): syn_sent at most 16, mean-wait-ms at
// most 15 % of net.Dialer's.
//
// One storm takes about 3 s whatever b.N; each iteration runs a whole storm
// on fresh listeners and a fresh contender (so no breaker state carries
// over), and the metrics are averaged over iterations (the default
// benchtime runs one).
func BenchmarkStallStorm(b *testing.B) {
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			runStorms(b, func(r *net.Resolver) dialFunc { return c.new(b, r, nil) })
		})
	}
	b.Run("dialguard-attempt-timeout-300ms", func(b *testing.B) {
		runStorms(b, func(r *net.Resolver) dialFunc {
			return newDialguard(b, dgOptions(r, nil, dialer.WithAttemptTimeout(300*time.Millisecond))...).DialContext
		})
	})
}

type stormResult struct {
	peakSynSent     int
	waits           []time.Duration
	circuitOpen     int // callers refused with ErrCircuitOpen
	fastFail        int // of those, refused within fastFailBound
	timedOut        int
	connected       int
	otherErrs       int
	firstOtherError error
}

func runStorms(b *testing.B, newDial func(*net.Resolver) dialFunc) {
	b.ReportAllocs()
	var sums stormSums
	for range b.N {
		b.StopTimer()
		st, srv := stallBothFamilies(b)
		dial := newDial(srv.Resolver())
		b.StartTimer()
		r := storm(dial, hostPort("storm.test", st), st, evenArrivals(stormCallers, stormSpacing))
		b.StopTimer()
		srv.Close()
		sums.add(b, r)
		b.StartTimer()
	}
	sums.report(b)
	b.ReportMetric(0, "ns/op")
}

// stormSums averages storms' figures over the iterations of a benchmark.
type stormSums struct {
	n                                              int
	peak, meanWait, p99Wait, circuitOpen, fastFail float64
}

// add checks one storm (no caller may connect to a destination that does
// not answer; other errors are logged) and adds its figures.
func (s *stormSums) add(b *testing.B, r stormResult) {
	if r.connected > 0 {
		b.Errorf("%d callers connected to a destination that does not answer", r.connected)
	}
	if r.otherErrs > 0 && r.firstOtherError != nil {
		b.Logf("%d callers failed with an error other than a timeout or an open breaker, first: %v", r.otherErrs, r.firstOtherError)
	}
	callers := float64(len(r.waits))
	s.n++
	s.peak += float64(r.peakSynSent)
	s.meanWait += ms(mean(r.waits))
	s.p99Wait += ms(percentile(r.waits, 99))
	s.circuitOpen += float64(r.circuitOpen) / callers
	s.fastFail += float64(r.fastFail) / callers
}

// report reports the averages.
func (s *stormSums) report(b *testing.B) {
	n := float64(s.n)
	b.ReportMetric(s.peak/n, "syn_sent")
	b.ReportMetric(s.meanWait/n, "mean-wait-ms")
	b.ReportMetric(s.p99Wait/n, "p99-wait-ms")
	b.ReportMetric(s.circuitOpen/n, "circuit_open_frac")
	b.ReportMetric(s.fastFail/n, "fastfail_frac")
}

// stallBothFamilies binds a Stalled on [::1]:Q and on 127.0.0.1:Q (closed
// when b ends) and serves "storm.test" -> [::1, 127.0.0.1]. It returns Q and
// the DNS server, which the caller closes.
func stallBothFamilies(b *testing.B) (uint16, *dialtest.DNSServer) {
	port, stalled := onBothFamilies(b, dialtest.ListenStalled)
	b.Cleanup(func() { stalled[0].Close(); stalled[1].Close() })
	srv := dialtest.NewDNSServer(map[string][]netip.Addr{
		"storm.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	return port, srv
}

// onBothFamilies binds listen on [::1]:P and 127.0.0.1:P, for a port P free
// on both, and returns P and the two listeners, for the caller to close.
func onBothFamilies[L listener](b *testing.B, listen func(string) (L, error)) (uint16, []L) {
	for range 5 {
		l6, err := listen("[::1]:0")
		if err != nil {
			b.Fatal(err)
		}
		port := l6.Addr().Port()
		l4, err := listen("127.0.0.1:" + strconv.Itoa(int(port)))
		if err != nil {
			l6.Close()
			continue
		}
		return port, []L{l6, l4}
	}
	b.Fatal("no port free on both ::1 and 127.0.0.1")
	return 0, nil
}

// listener is what dialtest's listeners have in common.
type listener interface {
	Addr() netip.AddrPort
	Close() error
}

// evenArrivals is the storm's schedule: n callers, one every spacing.
func evenArrivals(n int, spacing time.Duration) []time.Duration {
	at := make([]time.Duration, n)
	for i := range at {
		at[i] = time.Duration(i) * spacing
	}
	return at
}

// storm runs one caller at each offset of arrivals (from the storm's start,
// in order), each with a stormDeadline context, and samples SYN_SENT
// toward port while they run.
func storm(dial dialFunc, addr string, port uint16, arrivals []time.Duration) stormResult {
	sampler := dialtest.SampleSynSent(port, 2*time.Millisecond)
	var (
		mu  sync.Mutex
		r   stormResult
		wg  sync.WaitGroup
		beg = time.Now()
	)
	r.waits = make([]time.Duration, 0, len(arrivals))
	for _, at := range arrivals {
		time.Sleep(time.Until(beg.Add(at)))
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), stormDeadline)
			defer cancel()
			t0 := time.Now()
			conn, err := dial(ctx, "tcp", addr)
			wait := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			r.waits = append(r.waits, wait)
			switch {
			case err == nil:
				r.connected++
				conn.Close()
			case isCircuitOpen(err):
				r.circuitOpen++
				if wait < fastFailBound {
					r.fastFail++
				}
			case isTimeout(err):
				r.timedOut++
			default:
				r.otherErrs++
				if r.firstOtherError == nil {
					r.firstOtherError = err
				}
			}
		})
	}
	wg.Wait()
	r.peakSynSent = sampler.Stop()
	return r
}

// BenchmarkWarmStorm is the stall storm where it hurts most: a destination
// that answered a moment ago stops answering as callers arrive.
// "warm.test" resolves to [::1, 127.0.0.1]; both answer on one port while
// five dials connect, then both stall (the echo servers give way to full
// accept queues on the same port) and 300 callers come, 50 at once and
// 250 over one second, each with a 1.5 s deadline. Reported as
// BenchmarkLabLANBlackout reports its storm (the same storm over loopback).
func BenchmarkWarmStorm(b *testing.B) {
	port, healthy := onBothFamilies(b, dialtest.ListenHealthy)
	srv := newDNS(b, map[string][]netip.Addr{"warm.test": {netip.IPv6Loopback(), netip.MustParseAddr("127.0.0.1")}})
	var stalled []*dialtest.Stalled
	closeAll := func() {
		for _, h := range healthy {
			h.Close()
		}
		for _, s := range stalled {
			s.Close()
		}
		healthy, stalled = nil, nil
	}
	b.Cleanup(closeAll)
	addrs := []string{hostPort("::1", port), hostPort("127.0.0.1", port)}
	heal := func() (err error) {
		closeAll()
		healthy, err = listenEach(addrs, dialtest.ListenHealthy)
		return err
	}
	black := func() (err error) {
		closeAll()
		stalled, err = listenEach(addrs, dialtest.ListenStalled)
		return err
	}
	runWarmStorms(b, hostPort("warm.test", port), port, srv.Resolver(), heal, black)
}

// listenEach binds listen on each of addrs, in order; on an error it
// returns what it bound so far, for the caller to close.
func listenEach[L any](addrs []string, listen func(string) (L, error)) ([]L, error) {
	var out []L
	for _, a := range addrs {
		l, err := listen(a)
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

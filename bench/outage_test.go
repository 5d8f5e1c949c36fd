package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The outage timeline of BenchmarkOutageRecovery: the servers answer for
// outageLead, then go away for each of outageLengths in turn, coming back
// for up to outageRecoveryWait (until every contender has connected again)
// between them.
var outageLengths = []time.Duration{5 * time.Second, 30 * time.Second, 120 * time.Second}

const (
	outageLead         = 2 * time.Second
	outageRecoveryWait = 5 * time.Second
	outageDialEvery    = 20 * time.Millisecond // each contender's caller
	outageDialDeadline = time.Second
)

// BenchmarkOutageRecovery takes a server away for 5 s, 30 s and 120 s and
// brings it back each time, while every contender dials it: each has its
// own echo server on 127.0.0.1 (an IP literal, so one breaker per
// contender) and one caller dialling every 20 ms with a 1 s deadline, all
// contenders at once on one timeline (so the whole benchmark takes about
// three minutes, not twelve). Down, the server's port refuses (its
// listener is closed, as a restarting server's is).
//
// Reported per contender and outage, in one line (units named
// <contender>-<what>-<outage>):
//
//   - recover-ms: from the moment the server is back to the end of the
//     contender's first successful dial after it (target for dialguard:
//     at most 1,500 ms, however long the outage);
//   - cutoff-ms: from the start of the outage to the first opening of the
//     contender's breaker in it (contenders with a breaker that opened);
//   - probes/s: connection attempts that reached the network per second
//     while the contender had the server cut off, from that opening to the
//     server's return (target: at most 1); for net.Dialer, which never
//     cuts anything off, every attempt of the outage;
//   - attempts: all the attempts the outage cost, detection included.
//
// Each iteration runs the whole timeline; the default benchtime runs one.
func BenchmarkOutageRecovery(b *testing.B) {
	for range b.N {
		b.StopTimer()
		runs := make([]*outageRun, len(contenders))
		for i, c := range contenders {
			runs[i] = newOutageRun(b, c)
		}
		b.StartTimer()
		timeline := driveOutages(b, runs)
		b.StopTimer()
		for _, r := range runs {
			r.stop()
		}
		for _, r := range runs {
			for i, o := range timeline {
				name := fmt.Sprintf("%s-%%s-%v", r.name, outageLengths[i])
				if at, ok := r.firstSuccessAfter(o.back); ok {
					b.ReportMetric(ms(at.Sub(o.back)), fmt.Sprintf(name, "recover-ms"))
				} else {
					b.Logf("%s did not connect within %v of the server's return after %v", r.name, outageRecoveryWait, outageLengths[i])
				}
				from := o.down
				if cut, ok := r.watch.firstOpenSince(o.down); ok && cut < o.back.Sub(o.down) {
					from = o.down.Add(cut)
					b.ReportMetric(ms(cut), fmt.Sprintf(name, "cutoff-ms"))
				} else if r.hasBreaker {
					b.Logf("%s's breaker did not open during the %v outage", r.name, outageLengths[i])
				}
				b.ReportMetric(float64(r.attemptsBetween(from, o.back))/o.back.Sub(from).Seconds(), fmt.Sprintf(name, "probes/s"))
				b.ReportMetric(float64(r.attemptsBetween(o.down, o.back)), fmt.Sprintf(name, "attempts"))
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op")
}

// outage is one outage as it happened: when the server went down and
// when it came back.
type outage struct{ down, back time.Time }

// driveOutages runs the timeline on every run's server and returns the
// outages as they happened.
func driveOutages(b *testing.B, runs []*outageRun) []outage {
	time.Sleep(outageLead)
	var timeline []outage
	for _, length := range outageLengths {
		var o outage
		o.down = time.Now()
		for _, r := range runs {
			r.server.Close()
		}
		time.Sleep(length)
		o.back = time.Now()
		for _, r := range runs {
			r.listen(b)
		}
		timeline = append(timeline, o)
		// Wait until every contender has connected again, or the wait
		// runs out (one that does not is reported without recover-ms).
		for end := time.Now().Add(outageRecoveryWait); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if !slices.ContainsFunc(runs, func(r *outageRun) bool { _, ok := r.firstSuccessAfter(o.back); return !ok }) {
				break
			}
		}
	}
	return timeline
}

// outageRun is one contender's part: its server, its caller, and what
// they saw.
type outageRun struct {
	name       string
	port       uint16
	server     *dialtest.Healthy
	dial       dialFunc
	watch      breakerWatch
	hasBreaker bool

	mu        sync.Mutex
	successes []time.Time // when each successful dial returned
	attempts  []time.Time // when each connection attempt reached the network

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// newOutageRun starts c's server and caller.
func newOutageRun(b *testing.B, c contender) *outageRun {
	r := &outageRun{name: c.name}
	srv, err := dialtest.ListenHealthy("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	r.server, r.port = srv, srv.Addr().Port()
	b.Cleanup(func() { r.server.Close() })
	nd := &net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error {
		r.mu.Lock()
		r.attempts = append(r.attempts, time.Now())
		r.mu.Unlock()
		return nil
	}}
	r.dial = c.newCounting(b, nil, nd, &r.watch)
	r.hasBreaker = c.counting != nil
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	address := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), r.port).String()
	r.done.Go(func() {
		for next := time.Now(); ctx.Err() == nil; next = next.Add(outageDialEvery) {
			if wait := time.Until(next); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			} else {
				next = time.Now()
			}
			dctx, dcancel := context.WithTimeout(ctx, outageDialDeadline)
			conn, err := r.dial(dctx, "tcp", address)
			dcancel()
			if err == nil {
				conn.Close()
				r.mu.Lock()
				r.successes = append(r.successes, time.Now())
				r.mu.Unlock()
			}
		}
	})
	return r
}

// listen brings the server back on its port.
func (r *outageRun) listen(b *testing.B) {
	srv, err := dialtest.ListenHealthy(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), r.port).String())
	if err != nil {
		b.Fatalf("%s: the server cannot come back on its port: %v", r.name, err)
	}
	r.server = srv
}

// stop ends the caller and waits for it.
func (r *outageRun) stop() {
	r.cancel()
	r.done.Wait()
}

// firstSuccessAfter returns when the first successful dial after t
// returned.
func (r *outageRun) firstSuccessAfter(t time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.successes {
		if s.After(t) {
			return s, true
		}
	}
	return time.Time{}, false
}

// attemptsBetween counts the attempts that reached the network in
// [from, to).
func (r *outageRun) attemptsBetween(from, to time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.attempts {
		if !a.Before(from) && a.Before(to) {
			n++
		}
	}
	return n
}

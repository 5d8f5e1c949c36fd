package bench

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// incident sets up the seed incident: "incident.test" resolves (through a
// real *net.Resolver) to [::1, 127.0.0.1]; [::1]:P stalls, 127.0.0.1:P
// answers. It returns the address to dial and the resolver.
func incident(b *testing.B) (string, *net.Resolver) {
	ds, err := dialtest.ListenDualStack()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ds.Close() })
	srv := newDNS(b, map[string][]netip.Addr{
		"incident.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	return hostPort("incident.test", ds.Port), srv.Resolver()
}

// incidentDeadline bounds every dial of the incident scenarios, for every
// contender, so that a contender that cannot connect fails in bounded time
// instead of waiting for the kernel's SYN retries.
const incidentDeadline = 5 * time.Second

// dialTimed dials address with a deadline, closes the connection, and
// returns how long the dial took and its error.
func dialTimed(dial dialFunc, address string, deadline time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	t0 := time.Now()
	conn, err := dial(ctx, "tcp", address)
	el := time.Since(t0)
	if err == nil {
		conn.Close()
	}
	return el, err
}

// tally accumulates timed dials and reports ms/dial and success_frac.
type tally struct {
	n, ok    int
	total    time.Duration
	firstErr error
}

func (t *tally) add(el time.Duration, err error) {
	t.n++
	t.total += el
	if err == nil {
		t.ok++
	} else if t.firstErr == nil {
		t.firstErr = err
	}
}

func (t *tally) report(b *testing.B) {
	if t.firstErr != nil {
		b.Logf("%d of %d dials failed, first: %v", t.n-t.ok, t.n, t.firstErr)
	}
	b.ReportMetric(ms(t.total)/float64(t.n), "ms/dial")
	b.ReportMetric(float64(t.ok)/float64(t.n), "success_frac")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIncidentFirst is the first dial of the incident: each iteration
// makes a fresh contender (timer stopped) and dials once, so a contender
// with memory has nothing to remember yet. net.Dialer waits FallbackDelay
// (300 ms) on ::1 before it tries 127.0.0.1; dialguard the attempt delay
// (250 ms); failsafe-go wraps a net.Dialer, and its timeout decides: 300 ms
// cuts the attempt before the fallback connects, and every retry repeats
// it. Reported: ms/dial and success_frac.
func BenchmarkIncidentFirst(b *testing.B) {
	addr, r := incident(b)
	firstDials(b, addr, r, incidentDeadline)
}

// BenchmarkIncidentSteady is the incident once the contender has seen it:
// one instance per contender, warmed by one dial before the timer starts,
// then b.N dials. Each iteration also makes one net.Dialer dial right
// before the contender's (so both see the same load) and reports
// stdlib-ms/dial and x_vs_stdlib = net.Dialer's time / the contender's; the
// target for dialguard is at least 50. ms/dial and success_frac are the
// contender's.
func BenchmarkIncidentSteady(b *testing.B) {
	addr, r := incident(b)
	base := stdlib.new(b, r, nil)
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			dial := c.new(b, r, nil)
			dialTimed(dial, addr, incidentDeadline) // learn, if it can
			var t tally
			var std time.Duration
			b.ResetTimer()
			for range b.N {
				if c.name != stdlib.name {
					el, _ := dialTimed(base, addr, incidentDeadline)
					std += el
				}
				t.add(dialTimed(dial, addr, incidentDeadline))
			}
			if c.name != stdlib.name {
				b.ReportMetric(ms(std)/float64(b.N), "stdlib-ms/dial")
				b.ReportMetric(float64(std)/float64(t.total), "x_vs_stdlib")
			}
			t.report(b)
		})
	}
}

// fiveDeadline bounds each dial of BenchmarkFiveAddresses.
const fiveDeadline = 3 * time.Second

// BenchmarkFiveAddresses dials "five.test", which resolves to 127.0.0.1
// through 127.0.0.5 on one port: the first four stall, only 127.0.0.5
// answers. Every caller has a 3 s deadline. net.Dialer tries addresses of
// one family one after another, giving each a share of the deadline but at
// least 2 s, so it never reaches the fifth; failsafe-go wraps it; dialguard
// starts the next address every attempt delay (250 ms). Each iteration
// makes a fresh contender (timer stopped) and dials once: a first dial.
// Reported: ms/dial and success_frac.
func BenchmarkFiveAddresses(b *testing.B) {
	addr, r := fiveAddresses(b)
	firstDials(b, addr, r, fiveDeadline)
}

// firstDials runs, for every contender, one first dial per iteration: a
// fresh contender (made with the timer stopped) dials addr once.
func firstDials(b *testing.B, addr string, r *net.Resolver, deadline time.Duration) {
	for _, c := range contenders {
		b.Run(c.name, func(b *testing.B) {
			var t tally
			for range b.N {
				b.StopTimer()
				dial := c.new(b, r, nil)
				b.StartTimer()
				t.add(dialTimed(dial, addr, deadline))
			}
			t.report(b)
		})
	}
}

// fiveAddresses binds Stalled on 127.0.0.1-4:P and a Healthy on
// 127.0.0.5:P (closed when b ends) and serves "five.test" -> all five.
func fiveAddresses(b *testing.B) (string, *net.Resolver) {
	ips := []netip.Addr{
		netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"),
		netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4"),
		netip.MustParseAddr("127.0.0.5"),
	}
	for range 5 {
		h, err := dialtest.ListenHealthy("127.0.0.5:0")
		if err != nil {
			b.Fatal(err)
		}
		port := h.Addr().Port()
		closers := []func() error{h.Close}
		ok := true
		for _, ip := range ips[:4] {
			s, err := dialtest.ListenStalled(ip.String() + ":" + strconv.Itoa(int(port)))
			if err != nil {
				ok = false
				break
			}
			closers = append(closers, s.Close)
		}
		closeAll := func() {
			for _, c := range closers {
				c()
			}
		}
		if !ok {
			closeAll()
			continue
		}
		b.Cleanup(closeAll)
		srv := newDNS(b, map[string][]netip.Addr{"five.test": ips})
		return hostPort("five.test", port), srv.Resolver()
	}
	b.Fatal("no port free on 127.0.0.1-5")
	return "", nil
}

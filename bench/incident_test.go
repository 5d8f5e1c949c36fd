package bench

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// incident sets up the seed incident: "incident.test" resolves (through a
// real *net.Resolver) to [::1, 127.0.0.1]; [::1]:P stalls, 127.0.0.1:P
// answers. It returns the address to dial and the resolver's server.
func incident(b *testing.B) (string, *dialtest.DNSServer) {
	ds, err := dialtest.ListenDualStack()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ds.Close() })
	srv := newDNS(b, map[string][]netip.Addr{
		"incident.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	return hostPort("incident.test", ds.Port), srv
}

// BenchmarkIncident dials the seed incident and reports ms/dial.
//
//   - net.Dialer: every dial waits FallbackDelay (300 ms) on ::1 before
//     127.0.0.1 is tried; there is no memory, so the first dial and the
//     thousandth cost the same.
//   - dialguard/first-dial: a fresh Dialer per iteration (made with the
//     timer stopped), so the dial pays the attempt delay (250 ms) once.
//   - dialguard/steady: one Dialer, warmed by one dial before the timer
//     starts; it remembers that 127.0.0.1 won and ::1 stalled.
func BenchmarkIncident(b *testing.B) {
	addr, srv := incident(b)

	b.Run("net.Dialer", func(b *testing.B) {
		nd := &net.Dialer{Resolver: srv.Resolver()}
		b.ReportAllocs()
		start := time.Now()
		for range b.N {
			dialClose(b, nd.DialContext, addr)
		}
		b.ReportMetric(ms(time.Since(start))/float64(b.N), "ms/dial")
	})
	b.Run("dialguard/first-dial", func(b *testing.B) {
		b.ReportAllocs()
		var total time.Duration
		for range b.N {
			b.StopTimer()
			d := newDialguard(b, dialer.WithResolver(srv.Resolver()))
			b.StartTimer()
			start := time.Now()
			dialClose(b, d.DialContext, addr)
			total += time.Since(start)
		}
		b.ReportMetric(ms(total)/float64(b.N), "ms/dial")
	})
	b.Run("dialguard/steady", func(b *testing.B) {
		d := newDialguard(b, dialer.WithResolver(srv.Resolver()))
		dialClose(b, d.DialContext, addr) // learn: 127.0.0.1 wins, ::1 stalls
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			dialClose(b, d.DialContext, addr)
		}
		b.ReportMetric(ms(time.Since(start))/float64(b.N), "ms/dial")
	})
}

// incidentRatioDials is how many dials of each contender one iteration of
// BenchmarkIncidentSteadyRatio makes; net.Dialer costs ~300 ms each.
const incidentRatioDials = 5

// BenchmarkIncidentSteadyRatio puts a number on the incident: in each
// iteration it times incidentRatioDials net.Dialer dials and as many dials
// of a warmed-up dialguard, alternating the two so that both see the same
// machine load, and reports both ms/dial and x_vs_stdlib = net.Dialer ms /
// dialguard ms (how many times faster dialguard's steady state is). One
// iteration takes about 1.5 s, so the default benchtime runs it once.
func BenchmarkIncidentSteadyRatio(b *testing.B) {
	addr, srv := incident(b)
	nd := &net.Dialer{Resolver: srv.Resolver()}
	d := newDialguard(b, dialer.WithResolver(srv.Resolver()))
	dialClose(b, d.DialContext, addr) // warm up dialguard only

	b.ReportAllocs()
	b.ResetTimer()
	var std, dg time.Duration
	for range b.N {
		for range incidentRatioDials {
			t0 := time.Now()
			dialClose(b, nd.DialContext, addr)
			t1 := time.Now()
			dialClose(b, d.DialContext, addr)
			std += t1.Sub(t0)
			dg += time.Since(t1)
		}
	}
	n := float64(b.N * incidentRatioDials)
	b.ReportMetric(ms(std)/n, "stdlib-ms/dial")
	b.ReportMetric(ms(dg)/n, "dialguard-ms/dial")
	b.ReportMetric(float64(std)/float64(dg), "x_vs_stdlib")
	b.ReportMetric(0, "ns/op")
}

// Package bench puts dialguard (package dialer) side by side with the
// standard library's net.Dialer on real loopback sockets: healthy hosts,
// the seed incident (a name whose ::1 stalls while 127.0.0.1 answers), a
// storm of callers into a host that stalls, open breakers, flapping and
// dead destinations. It has no API; it is benchmarks only.
//
// # Running
//
// CI runs every scenario once, which takes about 15 s on a two-core machine:
//
//	go test -run '^$' -bench . -benchtime=1x -benchmem ./bench/
//
// The fast, statistical benchmarks (ns/op, allocs/op) want the default
// benchtime:
//
//	go test -run '^$' -bench 'Healthy|FailFast' -benchmem ./bench/
//
// Everything runs on loopback only (127.0.0.0/8 and ::1), on Linux (the
// stalled listeners and the SYN_SENT counts of package dialtest need it).
// Each benchmark has one sub-benchmark per contender, "net.Dialer" and
// "dialguard" (or named dialguard variants), in the same run; compare lines
// with benchstat as usual.
//
// # Reading the results
//
// Besides ns/op, B/op and allocs/op, the benchmarks report what users care
// about with b.ReportMetric:
//
//   - ms/dial, ms/burst: wall time of one dial or one burst of dials.
//   - x_vs_stdlib: net.Dialer's time divided by dialguard's in the same
//     run, so above 1 means dialguard is faster (BenchmarkIncidentSteadyRatio:
//     hundreds; BenchmarkHealthyBurst: the DESIGN requires at least 0.5).
//   - syn_sent: the peak number of sockets in SYN_SENT toward the stalled
//     port, i.e. kernel resources parked on a dead host.
//   - mean-wait-ms, p99-wait-ms: how long callers were held in a storm.
//   - circuit_open_frac, fastfail_frac: callers refused with
//     dialer.ErrCircuitOpen, at all and within 10 ms.
//   - attempts/dial: connection attempts that reached the network per dial
//     (retries included, attempts skipped by an open breaker excluded).
//   - conns/s, success_frac: connections made per second, and the share of
//     dials that got one, against a flapping destination.
//
// Where a metric replaces ns/op (a benchmark that times a scenario rather
// than an operation), ns/op is reported as 0 so that nobody reads it.
//
// # Scenarios whose cost does not depend on b.N
//
// Some scenarios take seconds by their nature: a storm runs until the
// callers' 1.5 s deadlines, net.Dialer pays 300 ms per dial in the
// incident. Those benchmarks do a fixed amount of work per iteration (one
// storm, 5+5 dials, 200 dials, a 300 ms window of arrivals) and report
// per-iteration averages; since one iteration takes about a second or
// more, the default benchtime runs them once or a few times, and
// -benchtime=1x runs each once. Their B/op and allocs/op count everything
// the process allocated meanwhile (listeners, samplers, every caller) and
// are not the cost of one dial.
//
// BenchmarkHealthyLiteral, BenchmarkHealthyName and BenchmarkFailFast are
// ordinary per-operation benchmarks.
package bench

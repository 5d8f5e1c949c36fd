// Package bench puts dialguard (package dialer) side by side with the
// standard library's net.Dialer and with failsafe-go policies around
// net.Dialer, on real sockets: loopback, and far hosts of the network lab
// (package netlab). It has no API; it is benchmarks only, in a module of
// its own (github.com/dialguard/dialguard/bench) so that failsafe-go and
// gonum/plot stay out of the library's dependency graph. README.md holds
// the results page.
//
// # Contenders
//
// Every scenario runs the same contenders, each with one configuration used
// everywhere (contenders_test.go), as sub-benchmarks:
//
//   - "net.Dialer": net.Dialer with defaults (no Timeout, FallbackDelay
//     300 ms);
//   - "failsafe-300ms" and "failsafe-2s": failsafe.With(retryPolicy,
//     circuitBreaker, timeout) around net.Dialer.DialContext, with a 300 ms
//     or 2 s timeout per attempt, 3 retries with backoff from 50 ms, a
//     breaker opening after 3 failures for 5 s;
//   - "dialguard": dialer.New() with defaults.
//
// The healthy paths add "net.Dialer-timeout" (Timeout: 30 s), what
// bounding a dial costs inside the standard library. Names ending in a
// setting ("dialguard-attempt-timeout-300ms", "dialguard-no-breaker", ...)
// are diagnostic variants, not contenders. Every scenario run gets a fresh
// instance of each contender, so no breaker or memory carries over from one
// scenario to the next.
//
// # Running
//
// CI runs every scenario once, which takes about four and a half minutes
// on a two-core machine (30 s on loopback, 45 s in the lab, and three
// minutes of BenchmarkOutageRecovery, whose outages last 5, 30 and 120 s):
//
//	go test -run '^$' -bench . -benchtime=1x -benchmem ./bench/...
//
// The results page comes from a run at the default benchtime (about 2 min)
// and a chart drawn from its output:
//
//	go test -run '^$' -bench . -benchmem ./bench/ | tee bench/results.txt
//	go run ./bench/cmd/chart -o bench/results.png bench/results.txt
//
// Everything runs on Linux (the stalled listeners and the SYN_SENT counts
// of package dialtest need it), on loopback (127.0.0.0/8 and ::1) or in the
// network lab.
//
// # The lab scenarios
//
// Loopback answers a SYN in microseconds; users' destinations are 1 to
// 700 ms away and lose packets. BenchmarkLabFarHost (a healthy host 700 ms
// away), BenchmarkLabLossy (100 ms, 15 % loss each way),
// BenchmarkLabIncident (the seed incident over an 80 ms link),
// BenchmarkLabLANBlackout (a 1 ms host that goes black under a storm) and
// BenchmarkLabBrokenIPv6 (a host 50 ms away whose IPv6 drops SYNs) dial
// far hosts of package netlab, each in a network namespace of its own
// behind a delay line. TestMain re-executes the benchmark binary in a
// network namespace whose only routes are the lab's (netlab.Isolate), so
// nothing leaves the machine. The lab needs root and /dev/net/tun; without
// them these five skip, saying what is missing (CI runs as root and fails
// if they skip). They add about 45 s to a one-iteration run, and report
// breaker_opens (openings of the contender's breakers per iteration) and,
// on lossy links, lost_out_frac and lost_in_frac (what the link dropped
// during the contender's dials) besides the metrics below.
//
// # Reading the results
//
// Besides ns/op, B/op and allocs/op, the benchmarks report what users care
// about with b.ReportMetric:
//
//   - ms/dial, ms/burst: wall time of one dial or one burst of dials.
//   - success_frac: the share of dials that got a connection; a fast
//     ms/dial with success_frac 0 is a fast failure.
//   - x_vs_stdlib: net.Dialer's time divided by the contender's, both
//     measured alternately in the same benchmark (stdlib-ns/dial,
//     stdlib-ms/dial, stdlib-ms/burst are net.Dialer's side), so above 1
//     means faster than net.Dialer.
//   - syn_sent: the peak number of sockets in SYN_SENT toward the stalled
//     port, i.e. kernel resources parked on a dead host.
//   - mean-wait-ms, p99-wait-ms: how long callers were held in a storm.
//   - circuit_open_frac, fastfail_frac: callers refused by an open breaker
//     (dialguard's or failsafe-go's), at all and within 10 ms.
//   - attempts/dial: connection attempts that reached the network per dial
//     (retries included, attempts skipped by an open breaker excluded).
//   - conns/s: connections made per second against a flapping destination.
//
// Where a metric replaces ns/op (a benchmark that times a scenario rather
// than an operation), ns/op is reported as 0 so that nobody reads it.
//
// # Scenarios whose cost does not depend on b.N
//
// Some scenarios take seconds by their nature: a storm runs until the
// callers' 1.5 s deadlines, net.Dialer pays 300 ms per dial in the incident
// and a 3 s deadline with five addresses, and BenchmarkOutageRecovery runs
// one timeline of three outages (5, 30 and 120 s) for all contenders at
// once, reporting each contender's recover-ms and probes/s per outage in
// units named after the contender. Those benchmarks do a fixed
// amount of work per iteration and report per-iteration averages; since one
// iteration takes about a second or more, the default benchtime runs them
// once or a few times. Their B/op and allocs/op count everything the
// process allocated meanwhile (listeners, samplers, every caller) and are
// not the cost of one dial.
//
// BenchmarkHealthyLiteral, BenchmarkHealthyName, BenchmarkHealthyDualStack,
// BenchmarkHealthyRatio and BenchmarkFailFast are ordinary per-operation
// benchmarks.
package bench

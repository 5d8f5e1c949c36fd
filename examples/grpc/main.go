// Command grpc shows dialguard under a gRPC client: a name whose first
// address stalls, a server that then stalls altogether, and its recovery.
//
//	go run ./examples/grpc            (from the repository root, through go.work)
//
// It is its own module, so that gRPC stays out of dialguard's dependency
// graph. On loopback only, it sets up health.test, a name known to an
// in-process resolver (dialtest.Resolver) answering [::1] first and 127.0.0.1
// second; [::1]:P is a dialtest.Stalled (the kernel drops every SYN), and
// 127.0.0.1:P a real gRPC server with the standard health service. The client
// is
//
//	grpc.NewClient("passthrough:///health.test:"+port,
//		grpc.WithContextDialer(d.DialGRPC),
//		grpc.WithTransportCredentials(insecure.NewCredentials()))
//
// with d a dialguard Dialer (attempt timeout 200 ms, breaker open timeout 1 s).
// The passthrough scheme hands the name to dialguard, which resolves it and
// races the addresses itself. It runs three phases, one line per Health/Check
// call (each with a 1 s deadline), with its result and elapsed time:
//
//  1. healthy: the call succeeds through the stalled-first name, paying for
//     the stalled [::1] once (200 ms here: the attempt timeout, shorter than
//     the 250 ms attempt delay, ends the [::1] attempt and 127.0.0.1 starts).
//  2. stalled: the gRPC server is stopped (so the client must redial) and
//     127.0.0.1:P replaced by a Stalled. The first call runs out its deadline
//     (DeadlineExceeded) while dialguard's attempts stall and its breaker
//     trips; the next calls fail at once with Unavailable, the message
//     carrying dialguard's "circuit open", instead of hanging.
//  3. recovered: the Stalled is closed and a gRPC server started on
//     127.0.0.1:P again. Once the breaker's open timeout has passed, its probe
//     connects and the calls succeed again.
//
// How dialguard and gRPC's reconnect backoff fit together: gRPC's connection
// backoff (https://github.com/grpc/grpc/blob/master/doc/connection-backoff.md;
// 1 s base delay, 1.6 multiplier, 0.2 jitter, 120 s maximum, 20 s
// MinConnectTimeout) wraps around dialguard. Every gRPC connection attempt is
// one dialguard dial: dialguard bounds it (its deadline is the earlier of
// gRPC's connect deadline and WithTimeout), races the addresses, retries
// within it what a retry can fix, and fails it fast when the breaker is open;
// gRPC then backs off before its next attempt. While the channel is in
// TRANSIENT_FAILURE, calls that are not WaitForReady fail at once with
// Unavailable and the last dial error. gRPC's backoff grows to minutes after a
// long outage, so a recovered server may wait that long for gRPC's next
// attempt; grpc.WithConnectParams shortens it. This example sets a 100 ms base
// delay and a 1 s maximum so that the recovery shows within seconds.
package main

import "github.com/dialguard/dialguard/examples/internal/cli"

// main runs the example (see the package doc); Interrupt (Ctrl-C) cancels
// it, and an error exits 1.
func main() { cli.Main("grpc", run) }

// Command dialprobe dials a host:port with dialguard and shows every
// connection attempt of the race: the tool for the middle of an incident,
// when a name resolves to an address that swallows SYNs and nobody can see
// which one.
//
//	dialprobe [-timeout d] [-attempt-timeout d] [-attempt-delay d]
//	          [-n count] [-interval d] [-network tcp|tcp4|tcp6] host:port
//
// For each dial it prints its report (dialer.ContextWithReport, printed
// by dialer.Report.String): a summary line, then one line per resolution
// (per family, with the answer), admission wait, retry, and attempt, the
// attempts in the order they started:
//
//	+250.312ms  try 1 127.0.0.1:8080  ipv4  connected    180µs
//
// the start offset from the beginning of the dial, the round (try 2 is the
// first retry), the address, its family, the outcome (connected, failed,
// stalled, lost-slow, lost, canceled, skipped, rejected; see
// dialer.AttemptOutcome), how long the attempt took and its error. Then
// the dial's result (connected to X from the local address in Y, or its
// error), what the dialer has learnt of the destination's round trip and
// how it would time the next attempt (Dialer.DestinationTiming), and the
// state of the circuit breakers: the destination's
// (Dialer.DestinationState) and each address's seen so far
// (Dialer.AddressState). A connection that is made is closed at once;
// nothing is sent on it.
//
// With -n, the dials share one Dialer, -interval apart, so the second dial
// shows what dialguard remembered from the first: an address that stalled
// is tried last, and a breaker that opened refuses at once.
//
// dialprobe dials whatever it is asked to. Exit status 1 means a bad
// argument or at least one failed dial.
package main

import (
	"context"
	"io"

	"github.com/dialguard/dialguard/examples/internal/cli"
)

// main runs the example (see the package doc); Interrupt (Ctrl-C) cancels
// it, and an error exits 1.
func main() {
	cli.Main("dialprobe", func(ctx context.Context, args []string, out io.Writer) error { return run(ctx, args, out) })
}

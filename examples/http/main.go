// Command http shows dialguard under an http.Client: a name whose first
// address stalls costs the attempt delay once, and nothing after that.
//
//	go run ./examples/http
//
// It sets up, on loopback only:
//
//   - api.test, a name known to an in-process resolver (dialtest.Resolver),
//     answering [::1] first and 127.0.0.1 second;
//   - [::1]:P, a dialtest.Stalled: its accept queue is full, so the kernel
//     drops every SYN and a dialer that waits for it sits in SYN_SENT;
//   - 127.0.0.1:P, a plain net/http server on the same port.
//
// The client's Transport.DialContext is a dialguard Dialer logging to a zap
// development logger at Debug, so every connection attempt of the race is
// printed with its destination, address, family and outcome. Keep-alives are
// off, so that every fetch dials: the first fetch tries [::1]:P, gets no
// answer within the attempt delay (250 ms, RFC 8305), starts 127.0.0.1:P
// alongside it and connects there; [::1]:P is cancelled as "lost-slow" and
// remembered. Later fetches start with 127.0.0.1:P and take a millisecond.
//
// Flags: -n sets the number of fetches (default 3).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

// main runs the demonstration and exits 1 on error. Interrupt (Ctrl-C)
// cancels the run, which then closes everything and returns.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "http:", err)
		os.Exit(1)
	}
}

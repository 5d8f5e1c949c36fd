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

import "github.com/dialguard/dialguard/examples/internal/cli"

// main runs the example (see the package doc); Interrupt (Ctrl-C) cancels
// it, and an error exits 1.
func main() { cli.Main("http", run) }

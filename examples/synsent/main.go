// Command synsent reproduces, on this machine and without root, the incident
// dialguard exists for, and shows that dialguard survives it.
//
//	go run ./examples/synsent
//
// It sets up two names on loopback, served by an in-process DNS server
// (dialtest.DNSServer) so that net.Dialer and dialguard resolve them the
// same way:
//
//   - incident.test answers [::1]:P first, which stalls (its accept queue is
//     full, so the kernel drops every SYN), and 127.0.0.1:P second, which
//     answers: the incident.
//   - dead.test answers [::1]:Q and 127.0.0.1:Q, both stalled: a host that
//     is down, into which a storm of callers arrives.
//
// Three contenders do the same work one after another:
//
//   - "net.Dialer, first address only": the incident's client. It resolves
//     the name and dials the first address only, with net.Dialer{Timeout:
//     deadline}.
//   - "net.Dialer": the standard library's default, with Timeout = deadline
//     (it falls back to the other family after 300 ms, on every dial).
//   - "dialguard": dialer.New with the same resolver (and the attempt timeout
//     of -attempt-timeout, if given).
//
// Each contender dials incident.test once (first dial), then -steady more
// times (steady dial: their mean; the first-address-only client makes fewer,
// since each of its dials costs the whole deadline), then faces the storm:
// -callers callers arriving 4 ms apart, each dialing dead.test with a
// -deadline context, while the sockets in SYN_SENT toward dead.test's port are
// counted from /proc/net/tcp{,6} every 2 ms.
//
// How to read the table, one row per contender:
//
//	first dial        the first dial to incident.test ("failed" if it did not connect)
//	steady dial       mean of the next dials to incident.test, and how many
//	                  of them connected; the first-address-only client makes
//	                  fewer (each costs it the whole deadline: 3 s budget)
//	storm mean wait   how long a storm caller waited for its answer, on average
//	storm worst wait  the longest a storm caller waited
//	failed fast       storm callers that failed within 50 ms (in the storm
//	                  nothing connects: dead.test is dead)
//	circuit open      storm callers refused with dialer.ErrCircuitOpen
//	peak SYN_SENT     most sockets seen at once in SYN_SENT toward dead.test
//
// A dialer that survives the incident has a steady dial of well under a
// millisecond on loopback (it remembers that [::1] stalled), and in the storm
// keeps a handful of sockets in SYN_SENT and answers most callers at once,
// instead of one parked socket (or two) per caller, each waiting its whole
// deadline. The lines under the table state this from the figures measured.
// With -json the same figures are printed as JSON.
//
// Then, where package netlab can run (root and /dev/net/tun; otherwise one
// line says why the lab part was skipped, and -lab=false leaves it out),
// net.Dialer and dialguard dial two far hosts in a network lab, each in a
// network namespace of its own behind a delay line (see lab.go):
//
//   - far.test: a healthy host 700 ms round trip away (-far-rtt).
//   - lossy.test: a healthy host 100 ms round trip away, losing 15 % of the
//     packets each way (-lossy-rtt, -lossy-loss).
//
// For each destination both contenders dial at the same time through the
// same link, a dial every 100 ms (-far-dials 10, -lossy-dials 30), each with
// a 4 s deadline (-lab-deadline). One row per destination and contender:
//
//	connected      dials that connected, and their share
//	first dial     the first dial's time ("failed" if it did not connect)
//	mean dial      mean time a dial took to return, connected or not
//	median dial    median of the same
//	circuit open   dials refused by dialguard's open breaker (dialer.ErrCircuitOpen)
//
// dialguard learns each destination's round trip from its handshakes and
// times its attempts by it (a stall only after ten retransmission
// timeouts; 2 s for an address it has never seen), so the far host is
// not taken for a stall, and a lost SYN on the lossy link is answered by
// the other address raced beside it rather than by the kernel's
// retransmission a second later.
package main

import (
	"os"

	"github.com/dialguard/dialguard/dialer/dialtest/netlab"
	"github.com/dialguard/dialguard/examples/internal/cli"
)

// main runs the example (see the package doc); Interrupt (Ctrl-C) cancels
// it, and an error exits 1. Where the lab can run, netlab.Isolate first
// re-executes the program in a network namespace of its own, whose only
// devices are loopback and the lab's, and exits with the copy's code.
func main() {
	if code, done := netlab.Isolate(); done {
		os.Exit(code)
	}
	cli.Main("synsent", run)
}

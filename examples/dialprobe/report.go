package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
)

// writeReport prints the dial's report (dialer.Report.String), indented:
// its summary, then a line per resolution, admission wait, attempt (in
// the order they began) and retry, with their offsets from the dial's
// start:
//
//	+250.312ms  try 1 127.0.0.1:8080  ipv4  connected    180µs
func writeReport(out io.Writer, rep *dialer.Report) {
	for _, line := range strings.Split(strings.TrimSuffix(rep.String(), "\n"), "\n") {
		fmt.Fprintln(out, "  "+line)
	}
	if len(rep.Attempts) == 0 {
		fmt.Fprintln(out, "  no attempt made")
	}
}

// writeTiming prints what the dialer has learnt of the destination's round
// trip, and how its next attempt would be timed.
func writeTiming(out io.Writer, d *dialer.Dialer, dest string) {
	tm, ok := d.DestinationTiming(dest)
	if !ok {
		fmt.Fprintf(out, "  timing %s: no handshake yet (attempts timed by their address's class)\n", dest)
		return
	}
	line := fmt.Sprintf("  timing %s: srtt %v, rttvar %v over %d handshakes; next attempt suspect after %v, a stall after %v",
		dest, round(tm.SRTT), round(tm.RTTVar), tm.Samples, round(tm.AttemptDelay), round(tm.StallAfter))
	if tm.Lossy {
		line += " (lossy: answered late recently)"
	}
	fmt.Fprintln(out, line)
}

// writeBreakers prints the destination's breaker and each address's.
func writeBreakers(out io.Writer, d *dialer.Dialer, dest string, addrs []netip.AddrPort) {
	s, ok := d.DestinationState(dest)
	fmt.Fprintf(out, "  breaker destination %s: %s\n", dest, describe(s, ok))
	for _, a := range addrs {
		s, ok := d.AddressState(a)
		fmt.Fprintf(out, "  breaker address %v: %s\n", a, describe(s, ok))
	}
}

// describe summarises a breaker snapshot.
func describe(s breaker.Snapshot, ok bool) string {
	if !ok {
		return "none"
	}
	c := s.Counts
	text := fmt.Sprintf("%v (successes %d, failures %d, consecutive failures %d", s.State, c.Successes, c.Failures, c.ConsecutiveFailures)
	if s.Trips > 0 {
		text += fmt.Sprintf(", trips %d", s.Trips)
	}
	if s.State == breaker.Open {
		text += fmt.Sprintf(", probe in %v", round(time.Until(s.OpenUntil)))
	}
	return text + ")"
}

// destinationKey is the destination as the dialer keys it: host:port with
// the host lower-cased.
func destinationKey(address string) string {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return address
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// round shortens a duration for printing.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

package dialer_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// A family that answers late with a huge list (a hostile or broken
// resolver) is merged into the race in the dialing goroutine: that work
// must be linear and capped at WithMaxAddresses, so that the dial still
// ends at its deadline. Real sockets: the first family's one address is a
// stalled listener on ::1, so the race is still running when the other
// family answers; the late addresses are in 127.0.0.0/8 and are never
// reached before the deadline.

// manyLoopback4 returns n distinct IPv4 loopback addresses, from 127.1.0.0
// up.
func manyLoopback4(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{127, byte(1 + i>>16), byte(i >> 8), byte(i)})
	}
	return out
}

// hugeLateDial dials a name whose AAAA answers at once with a stalled ::1
// and whose A answers 20 ms later with late addresses, with the given
// deadline, and returns how long past the deadline the dial returned.
func hugeLateDial(tb testing.TB, stalled *dialtest.Stalled, late []netip.Addr, deadline time.Duration) time.Duration {
	tb.Helper()
	r := dialtest.NewResolver(map[string]dialtest.Host{
		"huge.test": {IPv6: []netip.Addr{v6loop}, IPv4: late, IPv4Delay: 20 * time.Millisecond},
	})
	d, err := dialer.New(dialer.WithResolver(r), dialer.WithMaxRetries(0),
		// Only the deadline ends this dial: no second attempt starts, and
		// the stalled one is not given up on, before it.
		dialer.WithAttemptDelay(2*time.Second), dialer.WithAttemptTimeout(5*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("huge.test", strconv.Itoa(int(stalled.Addr().Port()))))
	elapsed := time.Since(start)
	if c != nil {
		c.Close()
		tb.Fatal("the dial to a stalled address connected")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		tb.Fatalf("err = %v, want the deadline", err)
	}
	return elapsed - deadline
}

// The bound is generous (the merge itself takes about a millisecond under
// -race, against seconds when it was quadratic), and the best of three
// dials counts, so that a loaded two-core machine, whose scheduler may be
// late by as much itself, does not fail it.
func TestAHugeLateFamilyCannotHoldTheDialPastItsDeadline(t *testing.T) {
	stalled := dialtest.NewStalled(t, "[::1]:0")
	const deadline, bound, tries = 100 * time.Millisecond, 100 * time.Millisecond, 3
	for _, n := range []int{10_001, 20_000} {
		late := manyLoopback4(n)
		var overruns []time.Duration
		for range tries {
			over := hugeLateDial(t, stalled, late, deadline)
			if over <= bound {
				break
			}
			overruns = append(overruns, over)
		}
		if len(overruns) == tries {
			t.Errorf("%d late addresses: the dials returned %v after their %v deadline, want at most %v", n, overruns, deadline, bound)
		}
	}
}

// BenchmarkHugeLateFamily reports how long past a 100 ms deadline a dial
// returns when 20 ms in, the second family answers with n addresses.
func BenchmarkHugeLateFamily(b *testing.B) {
	stalled := dialtest.NewStalled(b, "[::1]:0")
	const deadline = 100 * time.Millisecond
	for _, n := range []int{10_001, 20_000} {
		late := manyLoopback4(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var over, worst time.Duration
			for b.Loop() {
				o := hugeLateDial(b, stalled, late, deadline)
				over += o
				worst = max(worst, o)
			}
			b.ReportMetric(float64(over.Microseconds())/1e3/float64(b.N), "overrun-ms/dial")
			b.ReportMetric(float64(worst.Microseconds())/1e3, "worst-overrun-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

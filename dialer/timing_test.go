package dialer

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer/dialtest"
)

// Timing learnt per destination (timing.go): the estimator's arithmetic,
// the bounds it gives, and the race and admission timed by them, exact,
// inside synctest bubbles.

func TestRTTFollowsRFC6298(t *testing.T) {
	var e rtt
	now := time.Now()
	e.add(100*time.Millisecond, now)
	if e.srtt != 100*time.Millisecond || e.rttvar != 50*time.Millisecond {
		t.Fatalf("first sample: srtt %v rttvar %v, want 100ms and 50ms (section 2.2)", e.srtt, e.rttvar)
	}
	if got := e.rto(); got != 300*time.Millisecond {
		t.Errorf("rto %v, want srtt + 4 rttvar = 300ms", got)
	}
	e.add(200*time.Millisecond, now)
	// rttvar = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; srtt = 7/8 * 100 + 1/8 * 200 = 112.5.
	if e.srtt != 112500*time.Microsecond || e.rttvar != 62500*time.Microsecond {
		t.Errorf("second sample: srtt %v rttvar %v, want 112.5ms and 62.5ms (section 2.3)", e.srtt, e.rttvar)
	}
	var flat rtt
	flat.add(0, now)
	if got := flat.rto(); got != rttGranularity {
		t.Errorf("rto of a zero round trip %v, want the granularity %v", got, rttGranularity)
	}
}

// steady returns an estimate after n handshakes of r each.
func steady(r time.Duration, n int) rtt {
	var e rtt
	for range n {
		e.add(r, time.Now())
	}
	return e
}

func TestTimingOfPaths(t *testing.T) {
	for _, tc := range []struct {
		name              string
		e                 rtt
		lossy             bool
		delay, stallAfter time.Duration
	}{
		// rto 1ms+: the delay's floor (RFC 8305) and the stall's.
		{"loopback", steady(50*time.Microsecond, 20), false, MinAttemptDelay, minStallAfter},
		{"LAN, one handshake", steady(time.Millisecond, 1), false, MinAttemptDelay, minStallAfter},
		// A lossy LAN leaves the kernel's retransmission its chance:
		// rto 3ms, 1s + 2 rto.
		{"lossy LAN", steady(time.Millisecond, 1), true, MinAttemptDelay, time.Second + 6*time.Millisecond},
		// 30 ms steady: rttvar has decayed to about 60µs, so the
		// granularity is the margin: rto 31ms; ten times, 310ms, stays
		// clear of the retransmission.
		{"30 ms", steady(30*time.Millisecond, 20), false, 31 * time.Millisecond, 310 * time.Millisecond},
		// One handshake of 700 ms: rto 2.1 s; the delay stops at RFC 8305's
		// 2 s, the stall at 15 s.
		{"700 ms, one handshake", steady(700*time.Millisecond, 1), false, MaxAttemptDelay, maxStallAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := timingOf(&tc.e, tc.lossy)
			if tm.delay != tc.delay || tm.stallAfter != tc.stallAfter {
				t.Errorf("srtt %v rttvar %v lossy %v: delay %v stall after %v, want %v and %v",
					tc.e.srtt, tc.e.rttvar, tc.lossy, tm.delay, tm.stallAfter, tc.delay, tc.stallAfter)
			}
		})
	}
	// 100 ms steady: ten rto (about 1.00x s) comes near the kernel's
	// retransmission, so the bound is at least 1 s + 2 rto.
	e := steady(100*time.Millisecond, 20)
	if tm := timingOf(&e, false); tm.stallAfter < time.Second+2*e.rto() {
		t.Errorf("100 ms path: stall after %v, want at least 1s + 2 rto (%v)", tm.stallAfter, time.Second+2*e.rto())
	}
}

// TestFarHostIsNotAStall: a host that answers every handshake in 700 ms,
// with the defaults. With no history an attempt is a stall only after
// DefaultAttemptTimeout (2 s), and with history after ten of its
// retransmission timeouts: every dial connects, in the round trip, and no
// breaker counts a failure. (A fixed 500 ms bound made every attempt a
// stall and opened the breaker on the first dial.)
func TestFarHostIsNotAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {after: 700 * time.Millisecond}})
		d := newFakeDialer(t, f, map[string]dialtest.Host{"far.test": {IPv4: addrs("192.0.2.1")}})
		for i := range 5 {
			start := time.Now()
			c, err := d.DialContext(t.Context(), "tcp", "far.test:80")
			if err != nil {
				t.Fatalf("dial %d: %v", i+1, err)
			}
			c.Close()
			if got := time.Since(start); got != 700*time.Millisecond {
				t.Errorf("dial %d took %v, want the round trip, 700ms", i+1, got)
			}
		}
		if st, _ := d.DestinationState("far.test:80"); st.Counts.Failures != 0 || st.State != breaker.Closed {
			t.Errorf("breaker %v with %d failures, want closed and none", st.State, st.Counts.Failures)
		}
		tm, ok := d.DestinationTiming("far.test:80")
		if !ok || tm.Samples != 5 || tm.SRTT != 700*time.Millisecond {
			t.Errorf("DestinationTiming = %+v, %v; want 5 samples of 700ms", tm, ok)
		}
	})
}

// TestHistoryTimesTheNextAddress: a destination whose IPv6 address has
// answered in 20 ms (rto 60 ms after one handshake) stops answering; the
// next dial starts IPv4 beside it when IPv6 is overdue for its own
// history, 60 ms, not after the fixed 250 ms.
func TestHistoryTimesTheNextAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v6 := &script{after: 20 * time.Millisecond}
		f := newFakeNet(map[string]*script{"[2001:db8::1]:80": v6, "192.0.2.1:80": {after: 20 * time.Millisecond}})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"h.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		})
		connectOnce(t, d, "h.test:80")
		v6.stall = true
		t0 := time.Since(f.t0)
		start := time.Now()
		c, err := d.DialContext(t.Context(), "tcp", "h.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := time.Since(start); got != 80*time.Millisecond {
			t.Errorf("dial took %v, want 80ms: IPv4 started at IPv6's rto (60ms) and answered in 20ms", got)
		}
		starts := f.startTimes()[1:]
		want := []started{{netipMustAP("[2001:db8::1]:80"), t0}, {netipMustAP("192.0.2.1:80"), t0 + 60*time.Millisecond}}
		assertStarts(t, starts, want)
	})
}

// TestStallIsConfirmedByHistory: an address that answered in 1 ms goes
// black. Its attempt is a stall after 100 ms (ten rto, at least 100 ms),
// not after 2 s, and the error says so.
func TestStallIsConfirmedByHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{after: time.Millisecond}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, map[string]dialtest.Host{"lan.test": {IPv4: addrs("192.0.2.1")}}, WithMaxRetries(0))
		for range 3 {
			connectOnce(t, d, "lan.test:80")
		}
		s.stall = true
		start := time.Now()
		_, err := d.DialContext(t.Context(), "tcp", "lan.test:80")
		if got := time.Since(start); got != minStallAfter {
			t.Errorf("the stall ended the dial after %v, want %v", got, minStallAfter)
		}
		if !errors.Is(err, ErrAttemptTimeout) {
			t.Fatalf("err = %v, want a stall", err)
		}
		if want := "handshake unanswered after 100ms (stall)"; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to say %q", err, want)
		}
	})
}

// TestNoHistoryWaitsForTheRetransmission: an address never seen, and not
// loopback, is a stall only after DefaultAttemptTimeout (2 s), which
// leaves the kernel's SYN retransmission (1 s) its chance: a handshake
// answered at 1.1 s connects. Loopback vouches for a short path: a stall
// there after 100 ms.
func TestNoHistoryWaitsForTheRetransmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"192.0.2.1:80": {after: 1100 * time.Millisecond},
			"127.0.0.9:80": {stall: true},
		})
		d := newFakeDialer(t, f, nil, WithMaxRetries(0))
		start := time.Now()
		c, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if err != nil {
			t.Fatalf("a first handshake answered at 1.1s: %v", err)
		}
		c.Close()
		if got := time.Since(start); got != 1100*time.Millisecond {
			t.Errorf("dial took %v, want 1.1s", got)
		}
		start = time.Now()
		_, err = d.DialContext(t.Context(), "tcp", "127.0.0.9:80")
		if got := time.Since(start); got != minStallAfter || !errors.Is(err, ErrAttemptTimeout) {
			t.Errorf("loopback stall after %v (%v), want a stall after %v", got, err, minStallAfter)
		}
	})
}

// TestLateAnswerMarksThePathLossy: a path of 100 ms whose next handshake
// is answered only by the kernel's retransmission (at 1.1 s). The answer
// connects (ten rto, about 1.2 s, had not passed), is kept out of the
// estimate (Karn), and marks the destination lossy, which keeps the
// retransmission's room in its stall bound.
func TestLateAnswerMarksThePathLossy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{after: 100 * time.Millisecond}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil, WithMaxRetries(0))
		for range 8 {
			connectOnce(t, d, "192.0.2.1:80")
		}
		before, _ := d.DestinationTiming("192.0.2.1:80")
		s.after = 1100 * time.Millisecond
		connectOnce(t, d, "192.0.2.1:80")
		after, ok := d.DestinationTiming("192.0.2.1:80")
		if !ok || !after.Lossy || after.SRTT != before.SRTT || after.Samples != before.Samples {
			t.Errorf("after a retransmitted handshake: %+v (before %+v); want lossy, the estimate unchanged", after, before)
		}
		if after.StallAfter < time.Second+2*(after.SRTT+4*after.RTTVar) {
			t.Errorf("stall after %v on a lossy path, want room for the retransmission", after.StallAfter)
		}
	})
}

// TestAdmissionEngagesWhenOverdue: a destination answering in 1 ms goes
// black while callers arrive. Four are in flight; callers who come once
// those are overdue for the destination's history (10 ms) wait instead of
// dialling, although the destination connected a moment ago, and fail with
// ErrCircuitOpen when the stalls (100 ms) open its breaker. (Before, a
// destination that had just connected was never throttled until a stall
// completed.)
func TestAdmissionEngagesWhenOverdue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{after: time.Millisecond}
		f := newFakeNet(map[string]*script{"192.0.2.1:80": s})
		d := newFakeDialer(t, f, nil, WithMaxRetries(0))
		for range 3 {
			connectOnce(t, d, "192.0.2.1:80")
		}
		s.stall = true
		errs := make(chan error, 20)
		var wg sync.WaitGroup
		for i := range 20 {
			if i == DefaultAdmissionLimit {
				time.Sleep(20 * time.Millisecond)
			}
			wg.Go(func() {
				_, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
				errs <- err
			})
			synctest.Wait()
		}
		wg.Wait()
		close(errs)
		if m := f.maxInFlight.Load(); m > DefaultAdmissionLimit {
			t.Errorf("%d attempts in flight at once, want at most the admission limit (%d)", m, DefaultAdmissionLimit)
		}
		open := 0
		for err := range errs {
			if errors.Is(err, ErrCircuitOpen) {
				open++
			}
		}
		// A waiter may take the slot a stall frees before the third stall
		// opens the breaker; the rest are refused by the open breaker.
		if open < 20-2*DefaultAdmissionLimit {
			t.Errorf("%d callers failed with ErrCircuitOpen, want at least %d of the %d that waited", open, 20-2*DefaultAdmissionLimit, 20-DefaultAdmissionLimit)
		}
	})
}

// TestAnsweringDestinationIsNeverThrottled: callers arrive faster than a
// destination answering within its history completes them (5 ms each, one
// caller a millisecond): more than the admission limit are in flight, as
// they should be.
func TestAnsweringDestinationIsNeverThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {after: 5 * time.Millisecond}})
		d := newFakeDialer(t, f, nil)
		connectOnce(t, d, "192.0.2.1:80")
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				if c, err := d.DialContext(ctx, "tcp", "192.0.2.1:80"); err == nil {
					c.Close()
				} else {
					t.Error(err)
				}
			})
			time.Sleep(time.Millisecond)
		}
		wg.Wait()
		if m := f.maxInFlight.Load(); m <= DefaultAdmissionLimit {
			t.Errorf("at most %d attempts in flight, want more than the admission limit (%d): the destination answered throughout", m, DefaultAdmissionLimit)
		}
	})
}

// TestFixedTimingOverridesHistory: WithAttemptDelay and WithAttemptTimeout
// fix both values, whatever the history.
func TestFixedTimingOverridesHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {after: time.Millisecond}})
		d := newFakeDialer(t, f, nil, WithAttemptDelay(300*time.Millisecond), WithAttemptTimeout(700*time.Millisecond))
		connectOnce(t, d, "192.0.2.1:80")
		tm, ok := d.DestinationTiming("192.0.2.1:80")
		if !ok || tm.AttemptDelay != 300*time.Millisecond || tm.StallAfter != 700*time.Millisecond {
			t.Errorf("DestinationTiming = %+v, %v; want the fixed 300ms and 700ms", tm, ok)
		}
		got := d.timing(d.dests.get("192.0.2.1:80"), netip.MustParseAddrPort("[2001:db8::7]:80"), time.Now())
		if got.delay != 300*time.Millisecond || got.stallAfter != 700*time.Millisecond {
			t.Errorf("an unseen address timed %+v, want the fixed values", got)
		}
	})
}

// TestBrokenIPv6IsLearntAcrossDestinations: every destination's IPv6
// address stalls while its IPv4 answers in 20 ms. The first two pay the
// attempt delay (IPv6 first, suspect at 250 ms, IPv4 beside it); after
// that IPv6 is broken for the process, and a third, never-dialled
// destination starts with IPv4 and connects in its round trip. Ten
// seconds on, one dial probes IPv6 again (in the usual order); a probe
// that connects over IPv6 mends the family.
func TestBrokenIPv6IsLearntAcrossDestinations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scripts := map[string]*script{}
		hosts := map[string]dialtest.Host{}
		for i, name := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			v6, v4 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
			scripts[netip.AddrPortFrom(v6, 80).String()] = &script{stall: name != "f" && name != "g", after: 20 * time.Millisecond}
			scripts[netip.AddrPortFrom(v4, 80).String()] = &script{after: 20 * time.Millisecond}
			hosts[name+".test"] = dialtest.Host{IPv6: []netip.Addr{v6}, IPv4: []netip.Addr{v4}}
		}
		f := newFakeNet(scripts)
		d := newFakeDialer(t, f, hosts)
		dial := func(name string, want time.Duration, why string) {
			t.Helper()
			start := time.Now()
			c, err := d.DialContext(t.Context(), "tcp", name+":80")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			c.Close()
			if got := time.Since(start); got != want {
				t.Errorf("%s took %v, want %v (%s)", name, got, want, why)
			}
		}
		dial("a.test", 270*time.Millisecond, "IPv6 first, IPv4 after the attempt delay")
		dial("b.test", 270*time.Millisecond, "one witness is not enough")
		if !d.families.broken6.Load() {
			t.Fatal("IPv6 not held broken after two destinations")
		}
		dial("c.test", 20*time.Millisecond, "IPv6 is broken: IPv4 first, no attempt delay")
		time.Sleep(familyProbeEvery)
		dial("d.test", 270*time.Millisecond, "the probe: the usual order, once per 10 s")
		dial("e.test", 20*time.Millisecond, "after the probe, IPv4 first again")
		time.Sleep(familyProbeEvery)
		dial("f.test", 20*time.Millisecond, "the probe, over an IPv6 that works again")
		if d.families.broken6.Load() {
			t.Error("IPv6 still held broken after it connected")
		}
		dial("g.test", 20*time.Millisecond, "IPv6 first again")
		if got := f.startTimes(); got[len(got)-1].addr.Addr().Is4() {
			t.Errorf("g.test connected over %v, want IPv6 first once mended", got[len(got)-1].addr)
		}
	})
}

// TestLossyPathRacesFreshSYNs: a destination whose IPv6 address, which
// had connected, loses a race while suspect is taken to be losing packets.
// Its next dial races both families from the start (10 ms apart), and when
// both are suspect a fresh SYN goes to the first address again rather than
// waiting for the kernel's retransmission; at most maxFreshSYNs of them.
func TestLossyPathRacesFreshSYNs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v6 := &script{after: 100 * time.Millisecond}
		v4 := &script{after: 100 * time.Millisecond}
		f := newFakeNet(map[string]*script{"[2001:db8::1]:80": v6, "192.0.2.1:80": v4})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"lossy.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		})
		for range 4 {
			connectOnce(t, d, "lossy.test:80") // IPv6 wins each time
		}
		if tm, _ := d.DestinationTiming("lossy.test:80"); tm.Lossy {
			t.Fatal("lossy before any loss")
		}
		v6.stall = true // a lost SYN: IPv6 is suspect, IPv4 wins beside it
		connectOnce(t, d, "lossy.test:80")
		tm, _ := d.DestinationTiming("lossy.test:80")
		if !tm.Lossy {
			t.Fatalf("an address that had connected lost a race while suspect: %+v, want lossy", tm)
		}
		v4.stall = true // now both lose their SYNs
		v6.stall = true
		ctx, cancel := context.WithTimeout(t.Context(), 800*time.Millisecond)
		defer cancel()
		before := len(f.startTimes())
		t0 := time.Since(f.t0)
		d.DialContext(ctx, "tcp", "lossy.test:80")
		starts := f.startTimes()[before:]
		if len(starts) != 2+maxFreshSYNs {
			t.Fatalf("%d attempts %v, want both families and %d fresh SYNs", len(starts), starts, maxFreshSYNs)
		}
		if got := starts[1].at - t0; got != MinAttemptDelay {
			t.Errorf("second family started at +%v, want +%v (both race on a lossy path)", got, MinAttemptDelay)
		}
		// The fresh SYN comes when the second attempt is suspect: after
		// its attempt delay (its address's own estimate), not the stagger.
		if starts[2].addr != starts[0].addr || starts[2].at-starts[1].at <= 100*time.Millisecond {
			t.Errorf("third attempt %v at +%v after the second, want a fresh SYN to %v once the second is suspect",
				starts[2].addr, starts[2].at-starts[1].at, starts[0].addr)
		}
	})
}

// Loopback loses no packets: a late answer from it (a busy CPU, a full
// accept queue) does not mark its destination lossy, which would stretch
// its stall bound past a second. A late answer from any other address
// does.
func TestLateLoopbackAnswersDoNotMakeThePathLossy(t *testing.T) {
	const ttl = time.Minute
	now := time.Now()
	for _, tc := range []struct {
		addr  string
		lossy bool
	}{
		{"127.0.0.1:80", false},
		{"[::1]:80", false},
		{"[::ffff:127.0.0.2]:80", false},
		{"192.168.1.10:80", true},
		{"[2001:db8::1]:80", true},
	} {
		a := netip.MustParseAddrPort(tc.addr)
		late := new(destination)
		late.learn(a, time.Millisecond, 0, true, true, now)
		lost := new(destination)
		lost.learn(a, time.Millisecond, 0, false, true, now)
		lost.recordLostSlow(a, now)
		if got := late.lossy(now, ttl); got != tc.lossy {
			t.Errorf("%v answered late: lossy %v, want %v", a, got, tc.lossy)
		}
		if got := lost.lossy(now, ttl); got != tc.lossy {
			t.Errorf("%v, having connected, lost slow: lossy %v, want %v", a, got, tc.lossy)
		}
	}
}

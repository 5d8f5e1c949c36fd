package dialer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// The race's timing, exact: these tests run inside synctest bubbles, with a
// fake clock and scripted addresses.

func TestRaceStartsNextAddressAfterAttemptDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {stall: true},
			"192.0.2.1:80":     {stall: true},
			"[2001:db8::2]:80": {after: 0},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"race.test": {IPv6: addrs("2001:db8::1", "2001:db8::2"), IPv4: addrs("192.0.2.1")},
		}, WithAttemptTimeout(10*time.Second))
		start := time.Now()
		c, err := d.DialContext(t.Context(), "tcp", "race.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := time.Since(start); got != 500*time.Millisecond {
			t.Errorf("dial took %v, want 500ms (two attempt delays)", got)
		}
		want := []started{
			{netipMustAP("[2001:db8::1]:80"), 0},
			{netipMustAP("192.0.2.1:80"), 250 * time.Millisecond},
			{netipMustAP("[2001:db8::2]:80"), 500 * time.Millisecond},
		}
		assertStarts(t, f.startTimes(), want)
	})
}

func TestRaceStartsNextAddressAtOnceWhenAttemptFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {after: 20 * time.Millisecond, refuse: true},
			"192.0.2.1:80":     {after: 5 * time.Millisecond},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"race.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		})
		start := time.Now()
		c, err := d.DialContext(t.Context(), "tcp", "race.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := time.Since(start); got != 25*time.Millisecond {
			t.Errorf("dial took %v, want 25ms (failure at 20ms, then 5ms handshake)", got)
		}
		assertStarts(t, f.startTimes(), []started{
			{netipMustAP("[2001:db8::1]:80"), 0},
			{netipMustAP("192.0.2.1:80"), 20 * time.Millisecond},
		})
	})
}

func TestRaceInterleavesFamiliesStartingWithIPv6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {stall: true},
			"[2001:db8::2]:80": {stall: true},
			"192.0.2.1:80":     {stall: true},
			"192.0.2.2:80":     {after: 0},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"race.test": {IPv6: addrs("2001:db8::1", "2001:db8::2"), IPv4: addrs("192.0.2.1", "192.0.2.2")},
		}, WithAttemptTimeout(10*time.Second))
		c, err := d.DialContext(t.Context(), "tcp", "race.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		assertStarts(t, f.startTimes(), []started{
			{netipMustAP("[2001:db8::1]:80"), 0},
			{netipMustAP("192.0.2.1:80"), 250 * time.Millisecond},
			{netipMustAP("[2001:db8::2]:80"), 500 * time.Millisecond},
			{netipMustAP("192.0.2.2:80"), 750 * time.Millisecond},
		})
	})
}

func TestResolutionWaitsBrieflyForAAAAAfterA(t *testing.T) {
	cases := []struct {
		name      string
		aaaaAfter time.Duration
		want      []started
	}{
		{"AAAA within the resolution delay: IPv6 goes first", 30 * time.Millisecond, []started{
			{netipMustAP("[2001:db8::1]:80"), 30 * time.Millisecond},
			{netipMustAP("192.0.2.1:80"), 280 * time.Millisecond},
		}},
		{"AAAA late: IPv4 starts at the resolution delay, IPv6 joins the race", 100 * time.Millisecond, []started{
			{netipMustAP("192.0.2.1:80"), 50 * time.Millisecond},
			{netipMustAP("[2001:db8::1]:80"), 300 * time.Millisecond},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet(map[string]*script{
					"[2001:db8::1]:80": {stall: true},
					"192.0.2.1:80":     {stall: true},
				})
				d := newFakeDialer(t, f, map[string]dialtest.Host{
					"race.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1"), IPv6Delay: tc.aaaaAfter},
				}, WithAttemptTimeout(time.Second), WithMaxRetries(0))
				_, err := d.DialContext(t.Context(), "tcp", "race.test:80")
				if !errors.Is(err, ErrAttemptTimeout) {
					t.Fatalf("err = %v, want a stall", err)
				}
				assertStarts(t, f.startTimes(), tc.want)
			})
		})
	}
}

func TestNextDialStartsWithTheAddressThatWon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {stall: true},
			"192.0.2.1:80":     {after: time.Millisecond},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"incident.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		})
		dial := func() time.Duration {
			start := time.Now()
			c, err := d.DialContext(t.Context(), "tcp", "incident.test:80")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.(*fakeConn); got == nil {
				t.Fatal("no conn")
			}
			c.Close()
			return time.Since(start)
		}
		if got := dial(); got != 251*time.Millisecond {
			t.Errorf("first dial took %v, want 251ms", got)
		}
		for i := range 30 {
			if got := dial(); got != time.Millisecond {
				t.Fatalf("dial %d took %v, want 1ms: the winner should go first", i+2, got)
			}
		}
		if n := len(f.startTimes()); n != 32 {
			t.Errorf("%d attempts, want 32: the stalled address must not be tried again", n)
		}
		// After the memory's ttl the stalled address gets another chance.
		time.Sleep(DefaultMemoryTTL)
		if got := dial(); got != 251*time.Millisecond {
			t.Errorf("dial after the memory expired took %v, want 251ms", got)
		}
	})
}

func TestLateWinnerIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{
			"[2001:db8::1]:80": {after: 300 * time.Millisecond, ignoreCtx: true},
			"192.0.2.1:80":     {after: 10 * time.Millisecond},
		})
		d := newFakeDialer(t, f, map[string]dialtest.Host{
			"race.test": {IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")},
		})
		c, err := d.DialContext(t.Context(), "tcp", "race.test:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f.mu.Lock()
		conns := append([]*fakeConn(nil), f.conns...)
		f.mu.Unlock()
		if len(conns) != 2 {
			t.Fatalf("%d connections made, want 2", len(conns))
		}
		if c != net.Conn(conns[0]) {
			t.Errorf("returned the late connection")
		}
		if conns[0].closed.Load() || !conns[1].closed.Load() {
			t.Errorf("winner closed=%v, late winner closed=%v; want false, true", conns[0].closed.Load(), conns[1].closed.Load())
		}
		// The late connection answered after the race was decided: neutral,
		// neither remembered as the winner nor booked as a success.
		if st, _ := d.AddressState(netipMustAP("[2001:db8::1]:80")); st.Counts.Successes != 0 {
			t.Errorf("the late connection was booked as a success: %+v", st.Counts)
		}
		c2, err := d.DialContext(t.Context(), "tcp", "race.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c2.Close()
		starts := f.startTimes()
		if last := starts[len(starts)-1].addr; len(starts) != 3 || last != netipMustAP("192.0.2.1:80") {
			t.Errorf("attempts %v: the next dial should go straight to the winner", starts)
		}
	})
}

func TestAttemptTimeoutIsAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {stall: true}})
		d := newFakeDialer(t, f, nil, WithAttemptTimeout(time.Second), WithMaxRetries(0))
		start := time.Now()
		_, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if got := time.Since(start); got != time.Second {
			t.Errorf("dial took %v, want the attempt timeout (1s)", got)
		}
		var ne net.Error
		if !errors.Is(err, ErrAttemptTimeout) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("err = %v, want a stall that is a net.Error timeout", err)
		}
	})
}

func TestDialNeverOutlastsItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]*script{"192.0.2.1:80": {stall: true}})
		d := newFakeDialer(t, f, nil, WithTimeout(3*time.Second), WithAttemptTimeout(2*time.Second))
		start := time.Now()
		_, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:80")
		if got := time.Since(start); got > 3*time.Second {
			t.Errorf("dial took %v, past WithTimeout (3s)", got)
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrAttemptTimeout) {
			t.Errorf("err = %v, want a timeout", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
		defer cancel()
		start = time.Now()
		_, err = d.DialContext(ctx, "tcp", "192.0.2.1:80")
		if got := time.Since(start); got != 700*time.Millisecond {
			t.Errorf("dial took %v, want the context's 700ms", got)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func netipMustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func assertStarts(t *testing.T, got, want []started) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("attempts = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].addr != want[i].addr || got[i].at != want[i].at {
			t.Errorf("attempt %d = %v at %v, want %v at %v", i, got[i].addr, got[i].at, want[i].addr, want[i].at)
		}
	}
}

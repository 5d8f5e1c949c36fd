package dialer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dialguard/dialguard/dialer/dialtest"
)

// How a destination is resolved after its name proved to resolve promptly
// to one family: exact
// timings inside synctest bubbles, over the table-driven resolver (whose
// Lookups counts every LookupNetIP call: two for a dial that asks per
// family, one for a dial that asks for both at once).

// newCountingDialer is newFakeDialer with the resolver handed back.
func newCountingDialer(t *testing.T, f *fakeNet, host string, h dialtest.Host, opts ...Option) (*Dialer, *dialtest.Resolver) {
	t.Helper()
	r := dialtest.NewResolver(map[string]dialtest.Host{host: h})
	d, err := New(append([]Option{WithResolver(r), WithMaxRetries(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	d.dialAddr = f.dial
	return d, r
}

// newDualFake is a fakeNet where 2001:db8::1 and 192.0.2.1 (port 80) both
// connect after 1 ms.
func newDualFake() *fakeNet {
	return newFakeNet(map[string]*script{
		"[2001:db8::1]:80": {after: time.Millisecond},
		"192.0.2.1:80":     {after: time.Millisecond},
	})
}

// dialedOnceV4 is a Dialer over host, which has one IPv4 address that
// connects after 1 ms, after one dial to host:80 (which makes it prompt,
// unless opts say otherwise).
func dialedOnceV4(t *testing.T, host string, opts ...Option) (*Dialer, *dialtest.Resolver) {
	t.Helper()
	f := newFakeNet(map[string]*script{"192.0.2.1:80": {after: time.Millisecond}})
	d, r := newCountingDialer(t, f, host, dialtest.Host{IPv4: addrs("192.0.2.1")}, opts...)
	timedDial(t, d, host+":80")
	return d, r
}

// wantLookups checks that host has been looked up want times in all, and
// stops the test there if fatal; why says what the count shows.
func wantLookups(t *testing.T, r *dialtest.Resolver, host string, want int, fatal bool, why string) {
	t.Helper()
	if n := r.Lookups(host); n != want {
		report := t.Errorf
		if fatal {
			report = t.Fatalf
		}
		report("%d lookups of %s, want %d: %s", n, host, want, why)
	}
}

// timedDial dials and closes, and returns how long the dial took.
func timedDial(t *testing.T, d *Dialer, address string) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := d.DialContext(t.Context(), "tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return time.Since(start)
}

func TestNameOfOneFamilyIsAskedForBothAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		host dialtest.Host
	}{
		{"IPv4 only", dialtest.Host{IPv4: addrs("192.0.2.1")}},
		{"IPv6 only", dialtest.Host{IPv6: addrs("2001:db8::1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, r := newCountingDialer(t, newDualFake(), "one.test", tc.host)
				timedDial(t, d, "one.test:80")
				wantLookups(t, r, "one.test", 2, true, "the first dial asks one per family")
				for i := 2; i <= 5; i++ {
					if got := timedDial(t, d, "one.test:80"); got != time.Millisecond {
						t.Errorf("dial %d took %v, want 1ms", i, got)
					}
					wantLookups(t, r, "one.test", i+1, true, "one for both families per later dial")
				}
			})
		})
	}
}

// A name with addresses of both families is always resolved per family:
// the first answer starts the race while the other is on its way, which
// one lookup of both would delay.
func TestNameOfBothFamiliesIsAskedPerFamily(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := newCountingDialer(t, newDualFake(), "both.test", dialtest.Host{IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")})
		for range 4 {
			timedDial(t, d, "both.test:80")
		}
		wantLookups(t, r, "both.test", 8, false, "two per dial")
	})
}

func TestNameThatGainsAFamilyIsAskedPerFamilyAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := dialedOnceV4(t, "grows.test")
		timedDial(t, d, "grows.test:80") // both at once: 3 lookups so far

		r.Set("grows.test", dialtest.Host{IPv6: addrs("2001:db8::1"), IPv4: addrs("192.0.2.1")})
		// The answer of both now has both families: this dial uses it (and
		// connects to the address that won before), and the next one asks
		// per family.
		timedDial(t, d, "grows.test:80")
		wantLookups(t, r, "grows.test", 4, true, "both at once")
		timedDial(t, d, "grows.test:80")
		wantLookups(t, r, "grows.test", 6, false, "the last dial asked per family")
	})
}

func TestResolverTurnedSlowIsAskedPerFamilyAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := dialedOnceV4(t, "slow.test")

		// AAAA ("none") now takes a second. The lookup of both gets the
		// resolution delay (50 ms) and no more; then each family is asked
		// on its own, and A, in at once, starts the race at once: the delay
		// is spent.
		r.Set("slow.test", dialtest.Host{IPv4: addrs("192.0.2.1"), IPv6Delay: time.Second})
		if got := timedDial(t, d, "slow.test:80"); got != DefaultResolutionDelay+time.Millisecond {
			t.Errorf("first slow dial took %v, want %v", got, DefaultResolutionDelay+time.Millisecond)
		}
		wantLookups(t, r, "slow.test", 2+3, true, "both at once, then one per family")

		// The destination is no longer prompt: the next dial asks per
		// family from the start, and (IPv4 having won) A starts it at once.
		if got := timedDial(t, d, "slow.test:80"); got != time.Millisecond {
			t.Errorf("next dial took %v, want 1ms", got)
		}
		wantLookups(t, r, "slow.test", 5+2, true, "one per family")
	})
}

func TestPromptNameThatVanishedFailsWithoutAskingAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := dialedOnceV4(t, "gone.test")

		r.Set("gone.test", dialtest.Host{}) // no records of either family
		_, err := d.DialContext(t.Context(), "tcp", "gone.test:80")
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Fatalf("err = %v, want a *net.DNSError with IsNotFound", err)
		}
		wantLookups(t, r, "gone.test", 2+1, false, `"not found" for both is final`)
	})
}

func TestNoResolutionDelayMeansAlwaysPerFamily(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := dialedOnceV4(t, "zero.test", WithResolutionDelay(0))
		for range 2 {
			timedDial(t, d, "zero.test:80")
		}
		wantLookups(t, r, "zero.test", 6, false, "with no resolution delay nothing is asked at once")
	})
}

func TestPromptLookupEndsWithTheDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r := dialedOnceV4(t, "late.test")

		r.Set("late.test", dialtest.Host{IPv4: addrs("192.0.2.1"), IPv4Delay: time.Second})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := d.DialContext(ctx, "tcp", "late.test:80")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != 20*time.Millisecond {
			t.Errorf("the dial took %v, want its 20ms deadline", got)
		}
		wantLookups(t, r, "late.test", 2+1, false, "nothing is asked per family after the deadline")
	})
}

// bothSlowResolver knows one IPv4 address and answers each family at once
// ("none" for IPv6). A lookup of both families answers at once the first
// time; after that it takes a second and honours its context, or, once
// ignoring is set, waits for release whatever its context says.
type bothSlowResolver struct {
	ignoring atomic.Bool
	release  chan struct{}
	both     atomic.Int32
}

func (r *bothSlowResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	switch network {
	case "ip6":
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	case "ip4":
		return addrs("192.0.2.1"), nil
	}
	if r.both.Add(1) == 1 {
		return addrs("192.0.2.1"), nil
	}
	if r.ignoring.Load() {
		<-r.release
		return nil, &net.DNSError{Err: "released", Name: host, IsTemporary: true}
	}
	select {
	case <-time.After(time.Second):
		return addrs("192.0.2.1"), nil
	case <-ctx.Done():
		return nil, &net.DNSError{Err: ctx.Err().Error(), Name: host, IsTimeout: true}
	}
}

func newBothSlowDialer(t *testing.T, r *bothSlowResolver) *Dialer {
	t.Helper()
	f := newDualFake()
	d, err := New(WithResolver(r), WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	d.dialAddr = f.dial
	return d
}

// A resolver that answers both families at once slowly but each family
// promptly costs the resolution delay once, not on every dial: the dial
// that found the lookup of both slow keeps the destination from being
// marked prompt again for the memory's ttl.
func TestSlowLookupOfBothIsPaidForOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &bothSlowResolver{}
		d := newBothSlowDialer(t, r)
		timedDial(t, d, "split.test:80") // per family: prompt
		timedDial(t, d, "split.test:80") // both at once, prompt (the resolver's first)
		if got := timedDial(t, d, "split.test:80"); got != DefaultResolutionDelay+time.Millisecond {
			t.Errorf("the dial that met the slow lookup took %v, want %v", got, DefaultResolutionDelay+time.Millisecond)
		}
		for i := range 5 {
			if got := timedDial(t, d, "split.test:80"); got != time.Millisecond {
				t.Errorf("dial %d after it took %v, want 1ms: per family, without the delay", i+1, got)
			}
		}
		if n := r.both.Load(); n != 2 {
			t.Errorf("both families were asked at once %d times, want 2", n)
		}
	})
}

// A resolver that does not honour its context cannot hold a dial that
// asks it for both families longer than the resolution delay.
func TestResolverThatIgnoresItsContextCannotHoldAPromptDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &bothSlowResolver{release: make(chan struct{})}
		defer close(r.release)
		d := newBothSlowDialer(t, r)
		timedDial(t, d, "stuck.test:80")
		timedDial(t, d, "stuck.test:80")
		r.ignoring.Store(true)
		if got := timedDial(t, d, "stuck.test:80"); got != DefaultResolutionDelay+time.Millisecond {
			t.Errorf("the dial took %v, want %v: the delay, then per family", got, DefaultResolutionDelay+time.Millisecond)
		}
	})
}

// tcp4 and tcp6 dials resolve one family and leave the destination's
// memory of a prompt resolver alone.
func TestOneFamilyDialKeepsThePromptMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newDualFake()
		d, r := newCountingDialer(t, f, "mixed.test", dialtest.Host{IPv4: addrs("192.0.2.1")})
		timedDial(t, d, "mixed.test:80") // per family: 2 lookups, prompt
		c, err := d.DialContext(t.Context(), "tcp4", "mixed.test:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		timedDial(t, d, "mixed.test:80")
		wantLookups(t, r, "mixed.test", 2+1+1, false, "the tcp4 dial made the next tcp dial ask per family")
	})
}

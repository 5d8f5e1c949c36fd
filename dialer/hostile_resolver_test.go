package dialer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Resolvers that misbehave (issue 20, items 1 and 2): one that ignores its
// context cannot hold a dial past its deadline, and one that panics fails
// the dial with an error naming it, on every network. The timing is exact:
// these run in synctest bubbles, with no socket.

// blockingResolver answers nothing until release is closed, whatever its
// context says: neither addresses nor service ports.
type blockingResolver struct {
	release chan struct{}
	calls   atomic.Int32
}

func newBlockingResolver(t *testing.T) *blockingResolver {
	r := &blockingResolver{release: make(chan struct{})}
	// Released when the test ends, so that the lookups the dials stopped
	// waiting for end too (goleak, and synctest, check that they do).
	t.Cleanup(func() { close(r.release) })
	return r
}

func (r *blockingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	<-r.release
	return nil, &net.DNSError{Err: "released", Name: host, IsTemporary: true}
}

func (r *blockingResolver) LookupPort(_ context.Context, _, service string) (int, error) {
	r.calls.Add(1)
	<-r.release
	return 0, &net.DNSError{Err: "released", Name: service, IsTemporary: true}
}

func TestAResolverThatIgnoresItsContextCannotHoldAnyDial(t *testing.T) {
	for _, tc := range []struct{ name, network, address string }{
		{"tcp", "tcp", "stuck.test:80"},
		{"tcp4", "tcp4", "stuck.test:80"},
		{"tcp6", "tcp6", "stuck.test:80"},
		{"a service name's port", "tcp", "stuck.test:http"},
		{"a service name's port on tcp4", "tcp4", "stuck.test:http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newBlockingResolver(t)
				d, err := New(WithResolver(r), WithTimeout(200*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				c, err := d.DialContext(t.Context(), tc.network, tc.address)
				if c != nil {
					c.Close()
				}
				got := time.Since(start)
				if got != 200*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("dial returned %v after %v, want a deadline error at 200ms", err, got)
				}
				if r.calls.Load() == 0 {
					t.Error("the resolver was never asked: the test shows nothing")
				}
			})
		})
	}
}

// The context's own deadline bounds the dial too, as WithTimeout does.
func TestAResolverThatIgnoresItsContextCannotHoldADialPastTheContextsDeadline(t *testing.T) {
	for _, network := range []string{"tcp", "tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, err := New(WithResolver(newBlockingResolver(t)))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
				defer cancel()
				start := time.Now()
				_, err = d.DialContext(ctx, network, "stuck.test:80")
				if got := time.Since(start); got != 150*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("dial returned %v after %v, want a deadline error at 150ms", err, got)
				}
			})
		})
	}
}

// panicResolver panics in the lookups of the networks in panicOn (and in
// LookupPort if port is set); it answers the others with 192.0.2.1 for
// "ip4" and "ip", and "no such host" for "ip6".
type panicResolver struct {
	panicOn map[string]bool
	port    bool
	panics  atomic.Int32
	lookups atomic.Int32
}

func (r *panicResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.lookups.Add(1)
	if r.panicOn[network] {
		r.panics.Add(1)
		panic("boom")
	}
	if network == "ip6" {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs("192.0.2.1"), nil
}

func (r *panicResolver) LookupPort(_ context.Context, _, service string) (int, error) {
	if r.port {
		r.panics.Add(1)
		panic("boom")
	}
	return 80, nil
}

func TestAResolverThatPanicsFailsTheDialWithAnErrorNamingIt(t *testing.T) {
	all := map[string]bool{"ip": true, "ip4": true, "ip6": true}
	for _, tc := range []struct {
		name, network, address string
		r                      *panicResolver
		method                 string
		lookups                int32 // made by the one dial: a panic is not retried
	}{
		{"tcp", "tcp", "boom.test:80", &panicResolver{panicOn: all}, "LookupNetIP", 2},
		{"tcp4", "tcp4", "boom.test:80", &panicResolver{panicOn: all}, "LookupNetIP", 1},
		{"tcp6", "tcp6", "boom.test:80", &panicResolver{panicOn: all}, "LookupNetIP", 1},
		{"tcp, one family panicking, the other without addresses", "tcp", "boom.test:80", &panicResolver{panicOn: map[string]bool{"ip4": true}}, "LookupNetIP", 2},
		{"a service name's port", "tcp", "boom.test:http", &panicResolver{port: true}, "LookupPort", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				core, logs := observer.New(zapcore.ErrorLevel)
				d, err := New(WithResolver(tc.r), WithLogger(zap.New(core)))
				if err != nil {
					t.Fatal(err)
				}
				d.dialAddr = newFakeNet(map[string]*script{"192.0.2.1:80": {after: time.Millisecond}}).dial
				c, err := d.DialContext(t.Context(), tc.network, tc.address)
				if c != nil {
					c.Close()
					t.Fatal("the dial connected")
				}
				var oe *net.OpError
				var dnsErr *net.DNSError
				var pe *ResolverPanicError
				if !errors.As(err, &oe) || oe.Op != "dial" || !errors.As(err, &dnsErr) || !errors.As(err, &pe) {
					t.Fatalf("err = %v (%T), want a dial *net.OpError wrapping a *net.DNSError wrapping a *ResolverPanicError", err, err)
				}
				if pe.Resolver != "*dialer.panicResolver" || pe.Method != tc.method || pe.Value != "boom" {
					t.Errorf("panic error = %+v, want resolver *dialer.panicResolver, method %s, value boom", pe, tc.method)
				}
				if !strings.Contains(err.Error(), "*dialer.panicResolver") || !strings.Contains(err.Error(), "boom") {
					t.Errorf("err = %q, want it to name the resolver and the panic", err)
				}
				if !strings.Contains(string(pe.Stack), "panicResolver") {
					t.Errorf("the stack does not show the resolver's frame:\n%s", pe.Stack)
				}
				if dnsErr.Temporary() || dnsErr.Timeout() {
					t.Errorf("the DNS error is temporary or a timeout: a panic would be retried")
				}
				if n := tc.r.lookups.Load(); n != tc.lookups {
					t.Errorf("%d lookups, want %d", n, tc.lookups)
				}
				entries := logs.FilterMessage("resolver panicked").All()
				if int32(len(entries)) != tc.r.panics.Load() || len(entries) == 0 {
					t.Fatalf("%d Error entries for %d panics", len(entries), tc.r.panics.Load())
				}
				if f := entries[0].ContextMap(); f["resolver"] != "*dialer.panicResolver" || f["panic"] != "boom" || f["stack"] == "" {
					t.Errorf("log fields = %v", f)
				}
			})
		})
	}
}

// A panic in the lookup of both families at once (made for a name known to
// have one family) is recovered too, and the dial goes on per family.
func TestAResolverThatPanicsAskedForBothFamiliesAtOnceLeavesTheDialPerFamily(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &panicResolver{panicOn: map[string]bool{"ip": true}}
		d, err := New(WithResolver(r), WithMaxRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		d.dialAddr = newFakeNet(map[string]*script{"192.0.2.1:80": {after: time.Millisecond}}).dial
		timedDial(t, d, "boom.test:80") // per family: the name is prompt, of one family
		timedDial(t, d, "boom.test:80") // asks "ip": it panics, then per family
		if n := r.panics.Load(); n != 1 {
			t.Errorf("%d panics, want 1: the lookup of both families was not made", n)
		}
	})
}

// On "tcp" a family whose lookup panicked is a failed lookup like any
// other: the other family's addresses are raced.
func TestAResolverThatPanicsForOneFamilyLeavesTheOtherToConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.ErrorLevel)
		r := &panicResolver{panicOn: map[string]bool{"ip6": true}}
		d, err := New(WithResolver(r), WithLogger(zap.New(core)))
		if err != nil {
			t.Fatal(err)
		}
		d.dialAddr = newFakeNet(map[string]*script{"192.0.2.1:80": {after: time.Millisecond}}).dial
		timedDial(t, d, "boom.test:80")
		if n := r.panics.Load(); n != 1 || logs.FilterMessage("resolver panicked").Len() != 1 {
			t.Errorf("%d panics, %d logged, want 1 of each", n, logs.FilterMessage("resolver panicked").Len())
		}
	})
}

package dialer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"go.uber.org/zap"
)

// The resolver is the user's code (WithResolver), and no dial may depend
// on it behaving: every call to it returns to the dial when the dial's
// context ends, whether or not the resolver honours that context, and a
// panic in it is recovered in the goroutine that made the call and becomes
// the lookup's error, on every network. *net.Resolver honours its context
// (it stops waiting when the context ends), so it is called in the dialing
// goroutine, for the cost of the healthy path; any other resolver is
// called from a goroutine of its own that the dial stops waiting for when
// its context ends, and that ends when the resolver returns.

// ResolverPanicError is the cause of a lookup in which the resolver given
// to WithResolver panicked. The dial does not crash: it fails with a
// *net.OpError wrapping a *net.DNSError (neither temporary nor a timeout,
// so it is not retried) that unwraps to this error. The panic is also
// logged at Error. (A *net.Resolver runs its lookups in goroutines of its
// own: a panic in its Dial function is beyond the dialer's reach, as it is
// beyond net.Dialer's.)
type ResolverPanicError struct {
	// Resolver is the resolver's type, as %T prints it.
	Resolver string
	// Method is the method that panicked: "LookupNetIP" or "LookupPort".
	Method string
	// Value is what the resolver panicked with.
	Value any
	// Stack is the stack of the goroutine that panicked, as runtime.Stack
	// gives it, cut at 16 KiB.
	Stack []byte
}

// Error names the resolver and what it panicked with.
func (e *ResolverPanicError) Error() string {
	return fmt.Sprintf("resolver %s panicked in %s: %v", e.Resolver, e.Method, e.Value)
}

// panicked turns a panic recovered from the resolver's method into the
// lookup's error, and logs it.
func (d *Dialer) panicked(method, host string, v any) error {
	stack := make([]byte, 16<<10)
	stack = stack[:runtime.Stack(stack, false)]
	e := &ResolverPanicError{Resolver: fmt.Sprintf("%T", d.cfg.resolver), Method: method, Value: v, Stack: stack}
	d.log.Error("resolver panicked",
		zap.String("host", host),
		zap.String("resolver", e.Resolver),
		zap.String("method", method),
		zap.String("panic", fmt.Sprint(v)),
		zap.ByteString("stack", stack),
	)
	return &net.DNSError{Err: e.Error(), Name: host, UnwrapErr: e}
}

// askNetIP is the resolver's LookupNetIP for one dial: it returns when the
// resolver does or when ctx ends, whichever is first.
func (d *Dialer) askNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if _, std := d.cfg.resolver.(*net.Resolver); std {
		return d.lookupNetIP(ctx, network, host)
	}
	answer := make(chan lookup, 1)
	go func() { a, err := d.lookupNetIP(ctx, network, host); answer <- lookup{addrs: a, err: err} }()
	select {
	case l := <-answer:
		return l.addrs, l.err
	case <-ctx.Done():
		return nil, ctxError(ctx)
	}
}

// lookupNetIP calls the resolver's LookupNetIP once, a panic recovered.
func (d *Dialer) lookupNetIP(ctx context.Context, network, host string) (addrs []netip.Addr, err error) {
	defer func() {
		if v := recover(); v != nil {
			addrs, err = nil, d.panicked("LookupNetIP", host, v)
		}
	}()
	return d.cfg.resolver.LookupNetIP(ctx, network, host)
}

// askPort is lookup's LookupPort for one dial, bounded by ctx as askNetIP
// is.
func (d *Dialer) askPort(ctx context.Context, lookup portLookup, network, service string) (int, error) {
	if _, std := lookup.(*net.Resolver); std {
		return d.lookupPort(ctx, lookup, network, service)
	}
	type answer struct {
		port int
		err  error
	}
	done := make(chan answer, 1)
	go func() { p, err := d.lookupPort(ctx, lookup, network, service); done <- answer{p, err} }()
	select {
	case a := <-done:
		return a.port, a.err
	case <-ctx.Done():
		return 0, ctxError(ctx)
	}
}

// lookupPort calls lookup's LookupPort once, a panic recovered.
func (d *Dialer) lookupPort(ctx context.Context, lookup portLookup, network, service string) (port int, err error) {
	defer func() {
		if v := recover(); v != nil {
			port, err = 0, d.panicked("LookupPort", service, v)
		}
	}()
	return lookup.LookupPort(ctx, network, service)
}

package dialer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// Resolver looks up the IP addresses of a host. network is "ip", "ip4" or
// "ip6". *net.Resolver satisfies it; dialtest.Resolver is a table-driven
// fake.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// lookup is one family's answer.
type lookup struct {
	addrs []netip.Addr
	err   error
}

// resolution is what the race starts with: the addresses known so far and,
// when one family has not answered yet, a channel that delivers its answer
// later (RFC 8305 section 3: the race does not wait for the slower family).
type resolution struct {
	addrs []netip.Addr
	late  <-chan lookup
	stop  context.CancelFunc // ends the outstanding lookup; never nil
}

func noStop() {}

// resolve finds the addresses of t. IP literals skip resolution; tcp4 and
// tcp6 ask for one family; tcp asks for both concurrently and starts as soon
// as AAAA answers, or ResolutionDelay after A if AAAA has not answered.
// prefer, when valid, is the destination's last winner: the race waits (at
// most ResolutionDelay) for its family rather than for IPv6.
func (d *Dialer) resolve(ctx context.Context, t target, prefer netip.Addr) (resolution, error) {
	if t.ip.IsValid() {
		return resolution{addrs: []netip.Addr{t.ip}, stop: noStop}, nil
	}
	switch t.family {
	case family4:
		addrs, err := d.lookupFamily(ctx, "ip4", t.host)
		return resolution{addrs: addrs, stop: noStop}, err
	case family6:
		addrs, err := d.lookupFamily(ctx, "ip6", t.host)
		return resolution{addrs: addrs, stop: noStop}, err
	}

	lctx, stop := context.WithCancel(ctx)
	v6, v4 := make(chan lookup, 1), make(chan lookup, 1)
	// Both goroutines end when their lookup returns; stop makes that prompt
	// once the dial no longer needs the answer.
	go func() { a, err := d.lookupFamily(lctx, "ip6", t.host); v6 <- lookup{a, err} }()
	go func() { a, err := d.lookupFamily(lctx, "ip4", t.host); v4 <- lookup{a, err} }()

	// Without memory, AAAA first starts the race at once and A first waits
	// the resolution delay for AAAA (section 3). With memory of a winner,
	// its family is the one worth waiting for, and the other one joins late.
	var a6, a4 lookup
	select {
	case a6 = <-v6:
		if len(a6.addrs) > 0 && !prefer.Is4() {
			select {
			case a4 = <-v4:
			default:
				return resolution{addrs: a6.addrs, late: v4, stop: stop}, nil
			}
			break
		}
		if len(a6.addrs) == 0 {
			// IPv6 has nothing: IPv4 is all there is.
			if a4 = awaitLookup(ctx, v4); a4.err == nil && ctx.Err() != nil {
				stop()
				return resolution{stop: noStop}, ctxError(ctx)
			}
			break
		}
		if r, ok := d.awaitOther(ctx, a6, v4, &a4, stop); ok {
			return r, nil
		}
	case a4 = <-v4:
		if len(a4.addrs) == 0 {
			if a6 = awaitLookup(ctx, v6); a6.err == nil && ctx.Err() != nil {
				stop()
				return resolution{stop: noStop}, ctxError(ctx)
			}
			break
		}
		if prefer.Is4() {
			select {
			case a6 = <-v6: // already in: one list, one race, no late joiner
			default:
				return resolution{addrs: a4.addrs, late: v6, stop: stop}, nil
			}
			break
		}
		if r, ok := d.awaitOther(ctx, a4, v6, &a6, stop); ok {
			return r, nil
		}
	case <-ctx.Done():
		stop()
		return resolution{stop: noStop}, ctxError(ctx)
	}
	stop()
	addrs := append(a6.addrs[:len(a6.addrs):len(a6.addrs)], a4.addrs...)
	if len(addrs) > 0 {
		return resolution{addrs: addrs, stop: noStop}, nil
	}
	return resolution{stop: noStop}, pickLookupError(t.host, a6.err, a4.err)
}

// lookupFamily resolves one family and unmaps IPv4-mapped answers.
func (d *Dialer) lookupFamily(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := d.cfg.resolver.LookupNetIP(ctx, network, host)
	for i, a := range addrs {
		if a.Is4In6() { // copy before writing: the slice may be the resolver's
			addrs = append([]netip.Addr(nil), addrs...)
			for j := i; j < len(addrs); j++ {
				addrs[j] = addrs[j].Unmap()
			}
			break
		}
	}
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no suitable address", Name: host, IsNotFound: true}
	}
	return addrs, err
}

// pickLookupError chooses which family's failure to report when both
// failed: a temporary one (worth a retry) over "not found".
func pickLookupError(host string, errs ...error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && (dnsErr.IsTemporary || dnsErr.IsTimeout) {
			return err
		}
	}
	if first == nil {
		first = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return first
}

// awaitOther waits up to the resolution delay for the other family's answer
// after first came in. It returns (resolution with the late channel, true)
// when the delay ran out, or (_, false) with *other filled in.
func (d *Dialer) awaitOther(ctx context.Context, first lookup, ch <-chan lookup, other *lookup, stop context.CancelFunc) (resolution, bool) {
	timer := time.NewTimer(d.cfg.resolutionDelay)
	defer timer.Stop()
	select {
	case *other = <-ch:
		return resolution{}, false
	case <-timer.C:
		return resolution{addrs: first.addrs, late: ch, stop: stop}, true
	case <-ctx.Done():
		// The race sees the context too and reports it.
		return resolution{addrs: first.addrs, late: ch, stop: stop}, true
	}
}

// awaitLookup waits for a family's answer, or for ctx: a resolver that
// ignores its context must not hold the dial past its deadline. When ctx
// ends first it returns an empty lookup whose err is nil; the caller checks
// ctx.
func awaitLookup(ctx context.Context, ch <-chan lookup) lookup {
	select {
	case l := <-ch:
		return l
	case <-ctx.Done():
		return lookup{}
	}
}

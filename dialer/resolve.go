package dialer

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// Resolver looks up the IP addresses of a host. network is "ip", "ip4" or
// "ip6". *net.Resolver satisfies it; dialtest.Resolver is a table-driven
// fake.
//
// An answer is taken by the same rules on every network, whatever the
// resolver returns: an answer that comes with an error is an error (its
// addresses are not dialled, as net.Dialer's lookups fail whole; on "tcp"
// the other family's answer is still raced); IPv4-mapped addresses are the
// IPv4 address they carry; only what the network reaches is kept (IPv4 for
// "tcp4", IPv6 for "tcp6", where a mapped address is left out as net
// leaves it out); invalid (zero) addresses are dropped; and an address is
// dialled at most once per dial, even if both families' answers give it.
// An answer left empty fails the dial with a *net.DNSError "no suitable
// address". See WithResolver for a resolver that hangs or panics.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// lookup is one family's answer.
type lookup struct {
	addrs []netip.Addr
	err   error
	v6    bool // the answer to AAAA, not A
}

// resolution is what the race starts with: the addresses known so far and,
// when one family has not answered yet, a channel that delivers its answer
// later (RFC 8305 section 3: the race does not wait for the slower family).
type resolution struct {
	addrs []netip.Addr
	late  <-chan lookup

	// promptBy: when late is set, the name is prompt (destination.promptAt)
	// if the late family answers "none" by then; zero: it cannot be.
	promptBy time.Time

	// trace, when a ClientTrace is watching and late is set, is the
	// round's DNS report, which the race finishes (trace.go).
	trace *dnsTrace
}

// resolveName resolves c's name for one round. A destination marked prompt
// is asked for both families at once (resolveAtOnce). Otherwise, or when
// that runs out, each family is asked on its own, beside the dial, under a
// context of the round's own that ends with the dial (resolve): resolveName
// returns that context, and its cancel, for the race that a late family may
// join. cancel is nil when the round made no context.
func (d *Dialer) resolveName(ctx context.Context, c *call) (context.Context, context.CancelFunc, resolution, error) {
	ctx, dt := startDNSTrace(ctx, c.t.host)
	rctx, cancel, res, err := d.resolveRound(ctx, c)
	dt.add(res.addrs)
	if err != nil || res.late == nil {
		dt.finish(err)
	} else {
		res.trace = dt
	}
	return rctx, cancel, res, err
}

// resolveRound is resolveName's work, traced or not.
func (d *Dialer) resolveRound(ctx context.Context, c *call) (context.Context, context.CancelFunc, resolution, error) {
	prefer, prompt := c.dst.resolutionHint(time.Now(), d.cfg.memoryTTL)
	if !prefer.IsValid() && c.t.family == familyAny && d.families.preferIPv4(time.Now()) {
		// IPv6 is broken for this process (family.go): wait for IPv4, as
		// for a destination whose last winner was IPv4, and race it first.
		prefer = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	waited := false
	if prompt && c.t.family == familyAny {
		start := time.Now()
		res, final, err := d.resolveAtOnce(ctx, c)
		if final {
			return ctx, nil, res, err
		}
		waited = time.Since(start) >= d.cfg.resolutionDelay
	}
	rctx, cancel := context.WithDeadlineCause(ctx, c.deadline, c.expired)
	res, err := d.resolve(rctx, c, prefer.Addr(), waited)
	return rctx, cancel, res, err
}

// resolve finds the addresses of c's name, per family: tcp4 and tcp6 ask
// for one; tcp asks for both concurrently and starts as soon as AAAA
// answers, or ResolutionDelay after A if AAAA has not answered. When both
// answers are in within the delay and one of them is "none", the
// destination is marked prompt.
// prefer, when valid, is the destination's last winner: the race waits (at
// most ResolutionDelay) for its family rather than for IPv6. waited says
// the resolution delay has already been spent (on resolveAtOnce): the race
// then starts on the first answer with addresses, whichever family it is.
//
// ctx must end when the dial does: an answer the dial no longer waits for
// is left to a lookup that ctx stops.
func (d *Dialer) resolve(ctx context.Context, c *call, prefer netip.Addr, waited bool) (resolution, error) {
	t := c.t
	start := time.Now()
	c.obs.lookupAt = start
	switch t.family {
	case family4, family6:
		network := "ip4"
		if t.family == family6 {
			network = "ip6"
		}
		// In the dialing goroutine for net's resolver, which honours ctx;
		// from a goroutine of its own for another (lookup.go).
		addrs, err := d.askNetIP(ctx, network, t.host)
		addrs, err = usable(addrs, err, t.family, t.host)
		if c.obs.on {
			c.obs.lookedUp(c, lookup{addrs: addrs, err: err, v6: t.family == family6})
		}
		return resolution{addrs: addrs}, err
	}

	// One channel for both answers: whichever is read second, by resolve or
	// by the race as a late family, is the other family's. Each goroutine
	// ends when its lookup returns: when ctx ends, for a resolver that
	// honours its context.
	answers := make(chan lookup, 2)
	go func() { a, err := d.lookupFamily(ctx, "ip6", &t); answers <- lookup{a, err, true} }()
	go func() { a, err := d.lookupFamily(ctx, "ip4", &t); answers <- lookup{a, err, false} }()

	var first, second lookup
	select {
	case first = <-answers:
	case <-ctx.Done():
		return resolution{}, ctxError(ctx)
	}
	if c.obs.on {
		c.obs.lookedUp(c, first)
	}
	// Without memory, AAAA first starts the race at once and A first waits
	// the resolution delay for AAAA (section 3). With memory of a winner,
	// its family is the one worth waiting for, and the other one joins late.
	eager := waited || first.v6 != prefer.Is4()
	switch {
	case len(first.addrs) == 0:
		// This family has nothing: the other one is all there is.
		select {
		case second = <-answers:
		case <-ctx.Done():
			return resolution{}, ctxError(ctx)
		}
	case eager:
		select {
		case second = <-answers: // already in: one list, one race, no late joiner
		default:
			return resolution{addrs: first.addrs, late: answers, promptBy: d.promptBy(start)}, nil
		}
	default:
		var ok bool
		if second, ok = d.awaitOther(ctx, answers); !ok {
			return resolution{addrs: first.addrs, late: answers}, nil
		}
	}
	if c.obs.on { // every way here has read the second answer
		c.obs.lookedUp(c, second)
	}
	a6, a4 := first, second
	if !first.v6 {
		a6, a4 = second, first
	}
	addrs := append(a6.addrs[:len(a6.addrs):len(a6.addrs)], a4.addrs...)
	if prefer.Is4() {
		// The preferred family leads the interleaving (order).
		addrs = append(a4.addrs[:len(a4.addrs):len(a4.addrs)], a6.addrs...)
	}
	if len(addrs) > 0 {
		if a6.none() || a4.none() {
			d.markPromptBy(c.dst, d.promptBy(start))
		}
		return resolution{addrs: addrs}, nil
	}
	return resolution{}, pickLookupError(t.host, a6.err, a4.err)
}

// none reports whether the answer was that the family has no address.
func (l lookup) none() bool { return len(l.addrs) == 0 && isNotFound(l.err) }

// promptBy returns when both families must have answered, for lookups
// that started at start, to count as prompt: within the resolution delay.
// With no resolution delay nothing is prompt (zero time): the shortcut
// would have no time to answer in.
func (d *Dialer) promptBy(start time.Time) time.Time {
	if d.cfg.resolutionDelay <= 0 {
		return time.Time{}
	}
	return start.Add(d.cfg.resolutionDelay)
}

// markPromptBy marks dst prompt if by is set and has not passed.
func (d *Dialer) markPromptBy(dst *destination, by time.Time) {
	if now := time.Now(); !by.IsZero() && !now.After(by) {
		dst.recordPrompt(now, d.cfg.memoryTTL)
	}
}

// resolveAtOnce asks for both families in one lookup of "ip", as net.Dialer
// does, for a destination whose name last resolved, within the resolution
// delay, to addresses of one family only (see destination.promptAt). For
// the standard resolver one lookup of both costs markedly less than two of
// one family each (bench's BenchmarkResolve), and for such a name it delays
// nothing: the family with addresses is the only one worth racing, and the
// empty answer, prompt, is in before a per-family race would have started
// anyway. (A name with both families is resolved per family: there the
// first answer starts the race while the second is on its way; an answer
// with both families drops the mark.)
//
// The lookup gets the resolution delay and no more. final is false when it
// ran out, or when the lookup failed in a way that asking per family may
// not: the mark is then forgotten and the caller resolves per family (RFC
// 8305 section 3), starting on the first answer with addresses if the delay
// has been spent. That is the price of the shortcut when a resolver that
// was prompt turns slow: the first slow answer costs up to one resolution
// delay more than RFC 8305 would, on one dial, after which the destination
// is resolved per family for the memory's ttl (destination.recordPrompt).
func (d *Dialer) resolveAtOnce(ctx context.Context, c *call) (res resolution, final bool, err error) {
	limit := time.Now().Add(d.cfg.resolutionDelay)
	if c.deadline.Before(limit) {
		limit = c.deadline
	}
	lctx, cancel := context.WithDeadline(ctx, limit)
	start := time.Now()
	addrs, err := d.lookupBoth(lctx, c.t.host, c.addrs[:0])
	cancel()
	if c.obs.on {
		c.obs.resolved(ResolveInfo{Destination: c.t.key, Network: "ip", Start: start, Elapsed: time.Since(start), Addrs: addrs, Err: err})
	}
	switch {
	case err == nil:
		if oneFamily(addrs) {
			c.dst.recordPrompt(time.Now(), d.cfg.memoryTTL)
		} else {
			c.dst.dropPrompt() // the name has both families now
		}
		return resolution{addrs: addrs}, true, nil
	case ctx.Err() != nil:
		return resolution{}, true, ctxError(ctx)
	case !time.Now().Before(c.deadline):
		return resolution{}, true, c.expired
	case isNotFound(err):
		return resolution{}, true, err // the name has no address of either family
	}
	c.dst.forgetPrompt(time.Now())
	return resolution{}, false, nil
}

// lookupBoth looks up both families of host, returning when lctx ends at
// the latest, with the answer rules applied (answer.go). *net.Resolver
// returns then (its lookups are shared between callers and it stops
// waiting when the context ends), so it is asked in the dialing goroutine,
// for the cost of the healthy path, and through LookupIPAddr, whose answer
// is appended to buf: LookupNetIP would copy it twice on the way. Another
// Resolver may not honour its context: it is asked from a goroutine that
// the dial stops waiting for when lctx ends (askNetIP), as the per-family
// lookups are.
func (d *Dialer) lookupBoth(lctx context.Context, host string, buf []netip.Addr) ([]netip.Addr, error) {
	r, std := d.cfg.resolver.(*net.Resolver)
	if !std {
		addrs, err := d.askNetIP(lctx, "ip", host)
		return usable(addrs, err, familyAny, host)
	}
	ips, err := r.LookupIPAddr(lctx, host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.IP); ok { // as LookupNetIP: no zone
			buf = append(buf, a)
		}
	}
	return usable(buf, nil, familyAny, host)
}

// oneFamily reports whether addrs are all of one family.
func oneFamily(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if a.Is4() != addrs[0].Is4() {
			return false
		}
	}
	return true
}

// isNotFound reports whether err says the name has no addresses. (A
// function of its own so that the healthy path's target of errors.As does
// not escape.)
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// lookupFamily resolves one family (network "ip4" or "ip6") for a dial on
// t, in the calling goroutine, with a panic recovered and the answer rules
// applied (answer.go).
func (d *Dialer) lookupFamily(ctx context.Context, network string, t *target) ([]netip.Addr, error) {
	addrs, err := d.lookupNetIP(ctx, network, t.host)
	return usable(addrs, err, t.family, t.host)
}

// noAddress is the error of a lookup that succeeded with no address.
func noAddress(host string) error {
	return &net.DNSError{Err: "no suitable address", Name: host, IsNotFound: true}
}

// pickLookupError chooses which family's failure to report when both
// failed: a temporary one (worth a retry) first, then one that is not "not
// found" (the family that answered "none" explains less than the one that
// broke: a resolver that panicked, say), then the first.
func pickLookupError(host string, errs ...error) error {
	var first, broken error
	for _, err := range errs {
		if err == nil {
			continue
		}
		first = cmp.Or(first, err)
		var dnsErr *net.DNSError
		isDNS := errors.As(err, &dnsErr)
		if isDNS && (dnsErr.IsTemporary || dnsErr.IsTimeout) {
			return err
		}
		if !isDNS || !dnsErr.IsNotFound {
			broken = cmp.Or(broken, err)
		}
	}
	if first == nil {
		first = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return cmp.Or(broken, first)
}

// awaitOther waits up to the resolution delay for the other family's
// answer. It returns false when the delay ran out, or when ctx ended (the
// race sees ctx too and reports it).
func (d *Dialer) awaitOther(ctx context.Context, answers <-chan lookup) (lookup, bool) {
	timer := time.NewTimer(d.cfg.resolutionDelay)
	defer timer.Stop()
	select {
	case l := <-answers:
		return l, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return lookup{}, false
}

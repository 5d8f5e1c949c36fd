package dialer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// race runs RFC 8305 section 5 over the ordered candidates: one attempt at a
// time, the next one started when the running attempt has not answered
// within its attempt delay (it is suspect: see timing.go), or at once when
// it fails. A suspect attempt goes on until its stall bound. The first connection
// wins; the others are cancelled, and any that connects anyway is closed.
// race returns only after every attempt it started has finished, so no
// goroutine or socket outlives it. In a TLS dial an attempt is TCP and the
// handshake together, a late winner is a *tls.Conn and is closed the same
// way, and a rejected handshake (Rejected) ends the race at once with its
// error: another address of the same name would present the same
// certificate.
//
// It runs in the dialing goroutine; the ledger, the memory and the
// observer are called from here only.
type race struct {
	d   *Dialer
	c   *call
	try int

	pending  []netip.AddrPort // not yet tried, in order
	late     <-chan lookup    // a family that has not answered yet
	promptBy time.Time        // late answers "none" by then: the name is prompt (resolution)
	launched int

	tried    int
	firstErr error
	firstAt  netip.AddrPort
	canceled error // the error of an attempt the caller's context cut short
	denied   error // the first address the policy refused
	rejected error // a TLS handshake rejected (certificate, protocol): final

	dns       *dnsTrace // the round's DNS report, when traced and a family is late
	v6Suspect bool      // an IPv6 attempt was suspect or stalled (family memory)
	fresh     int       // fresh SYNs started to addresses already tried (startFresh)
}

// maxFreshSYNs bounds the fresh SYNs of one round.
const maxFreshSYNs = 2

// run races and returns the winning connection, or the error that explains
// the failure.
func (r *race) run(ctx context.Context) (net.Conn, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make(chan attemptResult)
	running := 0
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	defer delay.Stop()

	d, c := r.d, r.c
	b := c.bounds()
	var lastStart time.Time
	var lastDelay time.Duration  // the attempt delay of the attempt started last
	var started []netip.AddrPort // the addresses launched, in order
	launch := func(a netip.AddrPort) {
		running++
		key := c.led.keyOf(a)
		lastStart = time.Now()
		tm := d.timing(c.dst, a, lastStart)
		tm.launched = lastStart
		go func() { results <- d.attempt(rctx, nil, b, a, key, tm) }()
		// The next address starts after the stagger; once none is left,
		// the timer is for a fresh SYN (startFresh), at suspicion.
		next := tm.stagger
		if len(r.pending) == 0 && r.late == nil {
			next = tm.delay
		}
		lastDelay = next
		delay.Reset(next)
	}
	startNext := func() {
		for len(r.pending) > 0 && r.launched < r.d.cfg.maxAddresses {
			a := r.pending[0]
			r.pending = r.pending[1:]
			if !c.led.admitAddr(a) {
				r.observe(&attemptResult{addr: a, start: time.Now(), outcome: Skipped, err: ErrCircuitOpen})
				continue
			}
			r.launched++
			started = append(started, a)
			launch(a)
			return
		}
	}
	// startFresh is for a suspect attempt with nothing left to start: on a
	// destination that has lost packets recently (timing.go), a fresh SYN
	// to an address already tried, on a new socket, is answered in a round
	// trip where the lost one waits for the kernel's retransmission (1 s).
	// At most maxFreshSYNs a round, and only there: toward a destination
	// that has not shown loss, suspicion more likely means it is gone, and
	// fresh SYNs would only park more sockets on it.
	startFresh := func() {
		if len(r.pending) > 0 || r.late != nil || running == 0 || len(started) == 0 || r.fresh >= maxFreshSYNs ||
			!c.dst.lossy(time.Now(), d.cfg.memoryTTL) {
			return
		}
		a := started[r.fresh%len(started)]
		r.fresh++
		launch(a)
	}
	drain := func() {
		for ; running > 0; running-- {
			res := <-results
			if res.conn != nil {
				// A late winner: it answered, but after the race was
				// decided. Closed, and neutral: not the address to prefer;
				// but its handshake teaches the estimates.
				r.learnLate(&res)
				res.conn.Close()
				res.conn, res.outcome, res.err = nil, Lost, errLostRace
			}
			r.settle(&res)
		}
	}

	startNext()
	for {
		if running == 0 && (len(r.pending) == 0 || r.launched >= r.d.cfg.maxAddresses) && r.late == nil {
			return nil, r.failure()
		}
		select {
		case res := <-results:
			running--
			if res.conn != nil {
				cancel(errLostRace)
				r.settle(&res)
				drain()
				if r.v6Suspect && res.addr.Addr().Unmap().Is4() {
					if d.families.failedBeside(c.t.key, time.Now(), d.cfg.memoryTTL) {
						d.familyChanged(true)
					}
				}
				return res.conn, nil
			}
			if res.outcome == Rejected {
				cancel(errRaceRejected)
				r.settle(&res)
				drain()
				return nil, res.err
			}
			r.settle(&res)
			startNext() // a failure starts the next attempt at once
		case <-delay.C:
			if len(r.pending) > 0 {
				startNext()
			} else {
				startFresh()
			}
		case l := <-r.late:
			r.late = nil
			if c.obs.on {
				c.obs.lookedUp(c, l)
			}
			r.dns.add(l.addrs)
			r.dns.finish(nil)
			if l.none() {
				r.d.markPromptBy(c.dst, r.promptBy)
			}
			if len(l.addrs) > 0 {
				merged := r.d.mergeLate(r.pending, started, l.addrs, c.t.port, c.dst, time.Now(), d.cfg.maxAddresses-r.launched)
				r.pending, r.denied = r.d.admissible(c, merged, r.denied)
				// Start at once if nothing runs, or if the attempt delay has
				// already passed with nothing left to start (section 5);
				// otherwise the pending delay timer starts it.
				if running == 0 || time.Since(lastStart) >= lastDelay {
					startNext()
				}
			}
		case <-ctx.Done():
			cancel(context.Cause(ctx))
			drain()
			return nil, ctxError(ctx)
		}
	}
}

// settle books one finished attempt: first error, memory, breakers, log.
func (r *race) settle(res *attemptResult) {
	if (res.outcome == Failed || res.outcome == Stalled) && r.firstErr == nil {
		r.firstErr, r.firstAt = innerCause(res.err), res.addr
	}
	if res.outcome != Skipped {
		r.tried++
	}
	if res.outcome == Canceled && r.canceled == nil {
		r.canceled = res.err
	}
	if res.outcome == Skipped && r.denied == nil && errors.Is(res.err, ErrDenied) {
		r.denied = res.err
	}
	if res.outcome == Rejected && r.rejected == nil {
		r.rejected = res.err // kept whole: a remote alert is a *net.OpError
	}
	switch now := time.Now(); res.outcome {
	case Connected:
		r.d.learn(r.c.dst, res.addr, res.elapsed-res.handshake, res.handshake, res.timing, true, now)
		if r.d.families.worked(res.addr.Addr()) {
			r.d.familyChanged(false)
		}
	case Failed:
		r.c.dst.answered(now)
	case LostSlow:
		r.c.dst.recordLostSlow(res.addr, now)
		if res.addr.Addr().Unmap().Is6() {
			r.v6Suspect = true
		}
	case Stalled:
		r.c.dst.recordStall(res.addr, now)
		if res.addr.Addr().Unmap().Is6() {
			r.v6Suspect = true
		}
	}
	r.c.led.attempted(res)
	r.observe(res)
}

// learnLate teaches the estimates the handshakes of an attempt that
// connected after the race was decided (not a winner).
func (r *race) learnLate(res *attemptResult) {
	r.d.learn(r.c.dst, res.addr, res.elapsed-res.handshake, res.handshake, res.timing, false, time.Now())
}

// observe logs the attempt at Debug and hands it to the observer.
func (r *race) observe(res *attemptResult) {
	r.d.logAttempt(r.c.t.key, r.try, res)
	fn := r.d.cfg.onAttempt
	if fn == nil && !r.c.obs.on {
		return
	}
	info := AttemptInfo{
		Destination: r.c.t.key, Address: res.addr, Try: r.try,
		DialStart: r.c.start, Start: res.start, Elapsed: res.elapsed,
		Handshake: res.handshake, Outcome: res.outcome, Err: res.err,
	}
	if fn != nil {
		fn(info)
	}
	if r.c.obs.on {
		r.c.obs.attempt(info)
	}
}

// failure explains a race in which nothing connected.
func (r *race) failure() error {
	switch {
	case r.rejected != nil:
		return r.rejected // a configuration problem outranks the rest
	case r.firstErr == nil && r.canceled != nil:
		return r.canceled // the deadline, seen by the socket before the context
	case r.firstErr == nil && r.tried == 0 && r.denied != nil:
		return r.denied // every address was refused by the policy
	case r.firstErr == nil && r.tried == 0:
		return ErrCircuitOpen // every address was skipped by its breaker
	case r.firstErr == nil:
		return errNoAddresses
	case r.tried == 1:
		return r.firstErr
	}
	return &AddressesError{Tried: r.tried, FirstAddr: r.firstAt, First: r.firstErr}
}

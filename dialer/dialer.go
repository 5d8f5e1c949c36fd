package dialer

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/dialguard/dialguard/breaker"
)

// Dialer is a drop-in replacement for net.Dialer that never lets a stalled
// TCP handshake hold its caller. Its methods have net.Dialer's signatures,
// its errors net.Dialer's shapes, and it returns the connection the
// operating system gave (a *net.TCPConn for TCP), never a wrapper.
//
// A Dialer is safe for concurrent use, and is meant to be shared: what it
// learns about destinations (which address won, which stalled, whether a
// breaker is open) lives in it. Create one with New.
type Dialer struct {
	cfg   config
	log   *zap.Logger
	dests *destinations

	// destBreakers is keyed by destination (host:port as asked),
	// addrBreakers by address (ip:port). Both nil when breakers are off.
	destBreakers, addrBreakers *breaker.Registry

	// dialAddr makes one attempt; tests replace it to drive the race inside
	// a testing/synctest bubble.
	dialAddr attemptFunc
}

// New returns a Dialer configured by opts, applied in order. Each option
// checks its value, and New reports the first bad one in an error that
// names it; with no options every documented default applies.
func New(opts ...Option) (*Dialer, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, errNilOption
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	d := &Dialer{cfg: cfg, log: cfg.logger.Named("dialguard")}
	d.dialAddr = d.dialNet
	dests, err := newDestinations(cfg.memorySize)
	if err != nil {
		return nil, fmt.Errorf("dialguard: stall memory: %w", err)
	}
	d.dests = dests
	if cfg.breakerOn {
		if d.destBreakers, err = d.newRegistry("destination", true); err != nil {
			return nil, err
		}
		if d.addrBreakers, err = d.newRegistry("address", false); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// newRegistry builds one breaker registry. The destination registry wakes
// the callers waiting for admission whenever its breaker changes state, so
// an opening breaker fails them at once.
func (d *Dialer) newRegistry(kind string, wakesAdmission bool) (*breaker.Registry, error) {
	s := d.cfg.breakerSettings
	if s.Logger == nil {
		s.Logger = d.log.With(zap.String("breaker", kind))
	}
	userHook := s.OnStateChange
	s.OnStateChange = func(key string, from, to breaker.State) {
		if wakesAdmission {
			if dst, ok := d.dests.peek(key); ok {
				dst.wakeUp()
			}
		}
		if userHook != nil {
			userHook(key, from, to)
		}
	}
	r, err := breaker.NewRegistry(s)
	if err != nil {
		return nil, fmt.Errorf("dialguard: WithBreaker: %w", err)
	}
	return r, nil
}

// Dial connects to address on network with context.Background; see
// DialContext.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address on network, as net.Dialer.DialContext
// does, bounded by the earlier of ctx's deadline and WithTimeout.
//
// For "tcp", "tcp4" and "tcp6" it validates the address, fails fast if the
// destination's breaker is open, waits for admission if the destination is
// not answering, resolves AAAA and A concurrently, races the addresses (RFC
// 8305), and retries what a retry can fix. Other networks that net.Dialer
// knows are handed to it with the deadline applied.
//
// Errors are *net.OpError with Op "dial". Bad input fails before any I/O.
// The cause keeps its identity: errors.Is(err, syscall.ECONNREFUSED),
// errors.Is(err, context.Canceled), errors.Is(err, ErrCircuitOpen),
// errors.Is(err, ErrAttemptTimeout), errors.As(err, new(*net.DNSError)) and
// err.(net.Error).Timeout() all work.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if ctx == nil {
		return nil, opError(network, address, errNilContext)
	}
	t, err := parseTarget(network, address)
	if err != nil {
		if _, unknown := err.(net.UnknownNetworkError); unknown && passThroughNetwork(network) {
			return d.dialPassThrough(ctx, network, address)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	ctx, cancel := d.withDeadline(ctx)
	conn, err := d.dialTCP(ctx, &t)
	cancel()
	if err != nil {
		return nil, opError(network, t.key, err)
	}
	return conn, nil
}

// dialTimeoutError is the cause of a dial that ran out of WithTimeout. It
// is a timeout and matches context.DeadlineExceeded, like the context's own.
type dialTimeoutError struct{ after time.Duration }

func (e dialTimeoutError) Error() string {
	return fmt.Sprintf("dial timeout after %v (WithTimeout)", e.after)
}
func (dialTimeoutError) Timeout() bool        { return true }
func (dialTimeoutError) Temporary() bool      { return true }
func (dialTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// withDeadline applies WithTimeout unless ctx already ends earlier.
func (d *Dialer) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	limit := time.Now().Add(d.cfg.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(limit) {
		return context.WithCancel(ctx)
	}
	return context.WithDeadlineCause(ctx, limit, dialTimeoutError{d.cfg.timeout})
}

// dialPassThrough hands networks other than tcp* to net.Dialer with the
// deadline applied.
func (d *Dialer) dialPassThrough(ctx context.Context, network, address string) (net.Conn, error) {
	ctx, cancel := d.withDeadline(ctx)
	defer cancel()
	return d.cfg.netDialer.DialContext(ctx, network, address)
}

// dialTCP is the pipeline of one dial: breaker, admission, then rounds of
// resolve-order-race with retries in between.
func (d *Dialer) dialTCP(ctx context.Context, t *target) (net.Conn, error) {
	start := time.Now()
	if d.destBreakers != nil && d.destBreakers.State(t.key) == breaker.Open {
		return nil, ErrCircuitOpen
	}
	dst := d.dests.get(t.key)
	if err := dst.admit(ctx, d.cfg.admissionLimit, d.cfg.memoryTTL, d.destBreakers, t.key); err != nil {
		return nil, err
	}
	defer dst.leave()
	dst.recordDial(start)

	var led ledger
	led.init(d.destBreakers, d.addrBreakers, t.key, dst)
	if err := led.openDest(); err != nil {
		return nil, err
	}
	var schedule backoff.BackOff
	for try := 1; ; try++ {
		conn, err := d.dialRound(ctx, t, dst, &led, try, start)
		if err == nil {
			led.finish(true)
			return conn, nil
		}
		if err = d.nextRound(ctx, t, dst, &led, try, err, &schedule); err != nil {
			led.finish(false)
			return nil, err
		}
	}
}

// dialRound resolves, orders and races once.
func (d *Dialer) dialRound(ctx context.Context, t *target, dst *destination, led *ledger, try int, start time.Time) (net.Conn, error) {
	prefer, _ := dst.preferred(time.Now(), d.cfg.memoryTTL)
	res, err := d.resolve(ctx, *t, prefer.Addr())
	if err != nil {
		return nil, err
	}
	defer res.stop()
	cands := d.order(res.addrs, t.port, dst, time.Now())
	open := cands[:0]
	for _, a := range cands {
		if !led.addrOpen(a) {
			open = append(open, a)
		}
	}
	led.startRound()
	r := race{d: d, t: t, dst: dst, led: led, try: try, started: start, pending: open, late: res.late}
	if len(open) == 1 && res.late == nil {
		return r.single(ctx)
	}
	return r.run(ctx)
}

// single is the race of one address, made in the dialing goroutine.
func (r *race) single(ctx context.Context) (net.Conn, error) {
	a := r.pending[0]
	if !r.led.admitAddr(a) {
		r.observe(&attemptResult{addr: a, start: time.Now(), outcome: Skipped, err: ErrCircuitOpen})
		return nil, ErrCircuitOpen
	}
	res := r.d.attempt(ctx, r.t.network, a)
	r.settle(&res)
	if res.conn != nil {
		return res.conn, nil
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return nil, r.failure()
}

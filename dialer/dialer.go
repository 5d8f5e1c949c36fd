package dialer

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
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
// breaker is open) lives in it. Create one with New, which validates its
// options; the zero value, like net.Dialer's, is a Dialer with every
// default (what New() returns), set up on its first use, from any number
// of goroutines at once. A Dialer must not be copied after first use.
type Dialer struct {
	// ready sets a zero Dialer up on its first use (init); New sets it.
	ready sync.Once

	cfg   config
	log   *zap.Logger
	dests *destinations

	// destBreakers is keyed by destination (host:port as asked),
	// addrBreakers by address (ip:port). Both nil when breakers are off.
	destBreakers, addrBreakers *breaker.Registry

	// timeoutErr and stallErr are the causes of a dial that ran out of
	// WithTimeout and of an attempt that stalled, boxed once.
	timeoutErr, stallErr error

	// quiet stands in for a dial's context that cannot be cancelled, in
	// its attempts' contexts (see attemptCtx). quietCancel is never called.
	quiet       context.Context
	quietCancel context.CancelFunc

	// dialAddr makes one attempt; tests replace it to drive the race inside
	// a testing/synctest bubble.
	dialAddr attemptFunc

	// localFamily is the family of WithNetDialer's LocalAddr, when it has
	// one (not a wildcard): addresses of the other family cannot be
	// reached from it, and are left out, as net.Dialer leaves them out.
	localFamily family

	// priors is what the process has seen of each family and class of
	// address (timing.go); families, whether IPv6 is broken (family.go).
	priors   priors
	families families
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
	d := new(Dialer)
	var err error
	d.ready.Do(func() { err = d.setUp(cfg) })
	if err == nil {
		err = d.attachShared()
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// init sets up a zero Dialer with every default, once; a Dialer from New
// is set up already. Every exported method calls it first.
func (d *Dialer) init() {
	d.ready.Do(func() {
		if err := d.setUp(defaultConfig()); err != nil {
			// The defaults are valid (TestZeroDialerHasEveryDefault): this cannot
			// happen short of a bug, and a Dialer half set up must not dial.
			panic("dialguard: setting up a zero Dialer: " + err.Error())
		}
	})
}

// setUp builds d from a validated configuration.
func (d *Dialer) setUp(cfg config) error {
	d.cfg, d.log = cfg, cfg.logger.Named("dialguard")
	d.timeoutErr, d.stallErr = dialTimeoutError{cfg.timeout}, stallError{cfg.attemptTimeout}
	d.dialAddr = d.dialNet
	d.localFamily = localFamilyOf(cfg.netDialer.LocalAddr)
	d.quiet, d.quietCancel = newQuietContext()
	nd := &d.cfg.netDialer
	if nd.ControlContext != nil {
		nd.ControlContext = boundedHook(nd.ControlContext)
	}
	if cfg.policy != nil {
		next := nd.ControlContext
		if next == nil && nd.Control != nil {
			plain := nd.Control
			next = func(_ context.Context, network, address string, c syscall.RawConn) error {
				return plain(network, address, c)
			}
		}
		nd.Control, nd.ControlContext = nil, cfg.policy.guardControl(next)
	}
	dests, err := newDestinations(cfg.memorySize)
	if err != nil {
		return fmt.Errorf("dialguard: stall memory: %w", err)
	}
	d.dests = dests
	if cfg.breakerOn {
		if d.destBreakers, err = d.newRegistry("destination", true); err != nil {
			return err
		}
		if d.addrBreakers, err = d.newRegistry("address", false); err != nil {
			return err
		}
	}
	return nil
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
				dst.setTripped(to != breaker.Closed)
				dst.wakeUp()
			}
		}
		if userHook != nil {
			userHook(key, from, to)
		}
		d.breakerChanged(kind, key, from, to)
	}
	if wakesAdmission { // the destination registry
		s.ProbeGate = d.probeGate(s.ProbeGate)
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
// An empty host (":8080") is the local system, as in net.Dialer: "tcp" and
// "tcp4" dial 0.0.0.0, "tcp6" dials ::, which the kernel connects to its
// loopback address.
//
// Errors are *net.OpError with Op "dial". Bad input fails before any I/O;
// a nil context (on which net.Dialer panics) with the cause ErrNilContext.
// The cause keeps its identity: errors.Is(err, syscall.ECONNREFUSED),
// errors.Is(err, context.Canceled), errors.Is(err, ErrCircuitOpen),
// errors.Is(err, ErrAttemptTimeout), errors.As(err, new(*net.DNSError)) and
// err.(net.Error).Timeout() all work.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d.dial(ctx, network, address, false)
}

// dial is DialContext and, with handshake set, DialTLSContext (tls.go),
// whose attempts run the TLS handshake after TCP connects.
func (d *Dialer) dial(ctx context.Context, network, address string, handshake bool) (net.Conn, error) {
	d.init()
	if ctx == nil {
		return nil, opError(network, address, ErrNilContext)
	}
	t, err := parseTarget(network, address)
	if err != nil {
		if _, unknown := err.(net.UnknownNetworkError); unknown && passThroughNetwork(network) {
			if handshake {
				return d.dialTLSPassThrough(ctx, network, address)
			}
			return d.dialPassThrough(ctx, network, address)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if ctx.Err() != nil { // already over: no I/O at all
		return nil, opError(network, cmp.Or(t.key, address), ctxError(ctx))
	}
	start := time.Now()
	if err := d.resolveService(ctx, &t, start); err != nil {
		return nil, opError(network, address, err)
	}
	c := newCall(t, start)
	defer c.release()
	if d.observed(ctx) {
		ctx = c.obs.begin(ctx, d, c, handshake)
	}
	conn, err := d.dialCall(ctx, c, handshake)
	if err != nil {
		err = opError(network, t.key, err)
	}
	if c.obs.on {
		c.obs.end(d, c, conn, err)
	}
	return conn, err
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

// deadline returns when a dial that starts now must end: the earlier of
// ctx's deadline and WithTimeout, with the cause to report when it passes.
func (d *Dialer) deadline(ctx context.Context, now time.Time) (time.Time, error) {
	limit := now.Add(d.cfg.timeout)
	if dl, ok := ctx.Deadline(); ok && !dl.After(limit) {
		return dl, context.DeadlineExceeded
	}
	return limit, d.timeoutErr
}

// dialPassThrough hands networks other than tcp* to net.Dialer with the
// deadline applied.
func (d *Dialer) dialPassThrough(ctx context.Context, network, address string) (net.Conn, error) {
	ctx, cancel, err := d.passThroughContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return d.cfg.netDialer.DialContext(ctx, network, address)
}

// call is the state of one dial, owned by the goroutine that dials.
type call struct {
	t        target
	start    time.Time
	deadline time.Time
	expired  error // the cause reported when the deadline passes
	dst      *destination
	led      ledger
	actx     attemptCtx        // the context of an attempt made in the dialing goroutine
	obs      watcher           // the dial's hooks and report, when watched (observe.go)
	one      [1]netip.AddrPort // the candidates of a name with one address
	addrs    [4]netip.Addr     // room for a lookup's answer (resolveAtOnce)
}

// calls recycles call values: a call points into itself (its ledger's
// entries start in the ledger's own array), which puts it on the heap, and
// the healthy path is counted in allocations.
var calls = sync.Pool{New: func() any { return new(call) }}

// newCall returns a zeroed call for t, started at start. Give it back with
// release when the dial is over; nothing may keep it after that.
func newCall(t target, start time.Time) *call {
	c := calls.Get().(*call)
	c.t, c.start = t, start
	return c
}

func (c *call) release() {
	*c = call{}
	calls.Put(c)
}

func (c *call) bounds() bounds {
	return bounds{network: c.t.network, deadline: c.deadline, expired: c.expired, tls: c.t.tls}
}

// dialCall is the pipeline of one TCP dial: the destination's breaker,
// admission, then rounds of resolve-order-race with retries in between,
// all before the deadline.
//
// A round gets a context with the dial's deadline only where something
// waits without an attempt of its own: lookups per family, and the race
// that a late family may join (resolveName). Otherwise the dial makes no
// context and no timer of its own: its attempts carry the deadline to the
// socket (attemptCtx), and admission and retries watch it themselves.
func (d *Dialer) dialCall(ctx context.Context, c *call, handshake bool) (net.Conn, error) {
	t := &c.t
	// An open destination fails here, before anything is set up for it, and
	// so does a half-open one whose probe is out: its breaker would refuse
	// the dial anyway, after admission, where a crowd of such callers
	// waking each other starves the probe (issue 20, item 8).
	if d.destBreakers != nil && d.destBreakers.Refuses(t.key) {
		c.obs.failedFast = true
		return nil, ErrCircuitOpen
	}
	if handshake {
		t.tls = d.tlsConfigFor(t.host)
	}
	c.deadline, c.expired = d.deadline(ctx, c.start)
	c.dst = d.dests.get(t.key)
	waitedFrom, err := c.dst.admit(ctx, c.deadline, c.expired, d.cfg.admissionLimit, d.cfg.memoryTTL, d.destBreakers, t.key)
	if c.obs.on && !waitedFrom.IsZero() {
		c.obs.admitted(AdmissionInfo{Destination: t.key, Waited: time.Since(waitedFrom), Err: err})
	}
	if err != nil {
		return nil, err
	}
	defer c.dst.leave()

	addrs := d.addrBreakers
	if t.ip.IsValid() {
		addrs = nil // a literal's one address is the destination: one breaker
	}
	c.led.init(d.destBreakers, addrs, t.key, c.dst)
	if err := c.led.openDest(); err != nil {
		return nil, err
	}
	var schedule backoff.BackOff
	for try := 1; ; try++ {
		c.obs.tries = try
		conn, err := d.dialRound(ctx, c, try)
		if err == nil {
			c.led.finish(true)
			return conn, nil
		}
		c.led.roundFailed()
		if err = d.nextRound(ctx, c, try, err, &schedule); err != nil {
			c.led.finish(false)
			if answered(err) {
				c.dst.refusedDial()
			}
			return nil, err
		}
	}
}

// dialRound resolves, orders and races once.
func (d *Dialer) dialRound(ctx context.Context, c *call, try int) (net.Conn, error) {
	c.led.startRound()
	if c.t.ip.IsValid() {
		a := netip.AddrPortFrom(c.t.ip, c.t.port)
		if err := d.cfg.policy.check(a); err != nil {
			return nil, err
		}
		s := race{d: d, c: c, try: try}
		return s.single(ctx, false, a, c.t.key)
	}
	ctx, cancel, res, err := d.resolveName(ctx, c)
	if cancel != nil {
		defer cancel()
	}
	if err != nil {
		return nil, err
	}
	var cands []netip.AddrPort
	if len(res.addrs) == 1 { // the common case, in the call's own array
		c.one[0] = netip.AddrPortFrom(res.addrs[0], c.t.port)
		cands = c.one[:]
	} else {
		cands = d.order(res.addrs, c.t.port, c.dst, time.Now())
	}
	open, denied := d.admissible(c, cands, nil)
	if len(open) == 0 && denied != nil && res.late == nil {
		return nil, denied // every address is denied: nothing was dialled
	}
	if len(open) == 1 && res.late == nil {
		s := race{d: d, c: c, try: try}
		return s.single(ctx, cancel != nil, open[0], c.led.keyOf(open[0]))
	}
	r := race{d: d, c: c, try: try, pending: open, late: res.late, promptBy: res.promptBy, denied: denied, dns: res.trace}
	defer res.trace.finish(nil) // the race ended before the late family answered
	return r.run(ctx)
}

// localFamilyOf returns the family a local address confines a dial to:
// any for none, a wildcard, or an address that is not TCP's.
func localFamilyOf(la net.Addr) family {
	tcp, ok := la.(*net.TCPAddr)
	if !ok || tcp == nil || tcp.IP == nil || tcp.IP.IsUnspecified() {
		return familyAny
	}
	if tcp.IP.To4() != nil {
		return family4
	}
	return family6
}

// reachable reports whether a can be dialled from the local address.
func (d *Dialer) reachable(a netip.AddrPort) bool {
	switch d.localFamily {
	case family4:
		return a.Addr().Unmap().Is4()
	case family6:
		return !a.Addr().Unmap().Is4()
	}
	return true
}

// admissible keeps, in order, the candidates the policy allows and whose
// breaker is not open, and returns the first denial (or the one given).
// Candidates the local address cannot reach are left out first; if that
// leaves none, the error is net's "no suitable address found".
func (d *Dialer) admissible(c *call, cands []netip.AddrPort, denied error) ([]netip.AddrPort, error) {
	open := cands[:0]
	if d.localFamily != familyAny {
		reach := cands[:0]
		for _, a := range cands {
			if d.reachable(a) {
				reach = append(reach, a)
			}
		}
		if len(reach) == 0 && len(cands) > 0 {
			return nil, cmp.Or(denied, error(&net.AddrError{Err: "no suitable address found", Addr: d.cfg.netDialer.LocalAddr.String()}))
		}
		cands, open = reach, reach[:0]
	}
	for _, a := range cands {
		if err := d.cfg.policy.check(a); err != nil {
			denied = cmp.Or(denied, err)
			continue
		}
		if !c.led.addrOpen(a) {
			open = append(open, a)
		}
	}
	return open, denied
}

// single is the race of one address, made in the dialing goroutine. own
// says ctx is a context the dial made itself (resolveName); key is the
// address as text, for net.Dialer.
func (r *race) single(ctx context.Context, own bool, a netip.AddrPort, key string) (net.Conn, error) {
	if !r.c.led.admitAddr(a) {
		r.observe(&attemptResult{addr: a, start: time.Now(), outcome: Skipped, err: ErrCircuitOpen})
		return nil, ErrCircuitOpen
	}
	// The call's attempt context may be reused when nothing can keep it
	// (see attemptCtx): over the dial's own context (made in resolveName) or
	// a caller's that cannot be cancelled.
	reusable := &r.c.actx
	if !own && ctx.Done() != nil {
		reusable = nil
	}
	res := r.d.attempt(ctx, reusable, r.c.bounds(), a, key, r.d.timing(r.c.dst, a, time.Now()))
	r.settle(&res)
	if res.conn != nil {
		return res.conn, nil
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	return nil, r.failure()
}

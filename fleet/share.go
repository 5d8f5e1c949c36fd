package fleet

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
)

// Share connects one Dialer to the others of its fleet through Redis. It
// implements dialer.SharedState: give it to dialer.New with Option, and
// Close it when the Dialer is no longer used. Create one with New.
//
// A Share owns two goroutines, started when it is attached to its Dialer
// and stopped by Close: one sends what the Dialer confirms, from a bounded
// queue; the other receives what the other processes send, and keeps the
// link to Redis (reconnecting with backoff).
type Share struct {
	client redis.UniversalClient
	cfg    config
	log    *zap.Logger

	openKey, channel, probePrefix, familyKey string

	d     *dialer.Dialer // set by Attach
	queue chan event
	// leaseReqs carries MayProbe's requests to the leaser (probe.go).
	leaseReqs chan leaseRequest
	up        atomic.Bool // the link to Redis works, as last seen
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	// applying is the destination whose message the receiver is applying:
	// the breaker changes it causes are the sender's, not to be sent again.
	applying atomic.Pointer[string]
	// charging is the destination whose stall (another process's) the
	// receiver is charging: an opening it causes is recorded in the
	// open set, for processes that start later, but not published: the
	// others trip on the same stalls.
	charging atomic.Pointer[string]

	// denied holds, per destination, until when another process holds
	// the right to probe it; leases the destinations whose probe this
	// process won and has not yet reported, until the lease ends.
	denied, leases expiring

	psMu   sync.Mutex
	ps     *redis.PubSub
	closed bool

	// timings are the estimates shared (timing.go); localBroken is this
	// process's own IPv6 verdict, brokenHeard when the fleet last heard
	// one (Unix nanoseconds; family.go).
	timings     timings
	localBroken atomic.Bool
	brokenHeard atomic.Int64

	stats counters
}

// event is what the hooks hand to the sender: a message, and for a stall
// the dial round it happened in, so that one round sends one stall.
type event struct {
	message
	dialStart time.Time
	try       int
	quiet     bool // record in the open set, do not publish
}

// New returns a Share on client (any go-redis client: a single node, a
// Sentinel failover or a Cluster client). It sends no command until the
// Share is attached to a Dialer. Options are applied in order; the first
// bad one is reported.
func New(client redis.UniversalClient, opts ...Option) (*Share, error) {
	if client == nil {
		return nil, errors.New("fleet: New: nil client")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("fleet: New: nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.id == "" {
		cfg.id = randomID()
	}
	s := &Share{
		client: client, cfg: cfg, log: cfg.logger.Named("fleet"),
		openKey:     cfg.prefix + ":open",
		channel:     cfg.prefix + ":events",
		probePrefix: cfg.prefix + ":probe:",
		familyKey:   cfg.prefix + ":ipv6broken",
		queue:       make(chan event, cfg.queueSize),
		leaseReqs:   make(chan leaseRequest, 1),
	}
	return s, nil
}

// Option is the dialer.Option that attaches the Share to a Dialer:
// dialer.New(share.Option(), ...). A Share serves one Dialer.
func (s *Share) Option() dialer.Option { return dialer.WithSharedState(s) }

// ID returns the name the Share's process goes by in its messages.
func (s *Share) ID() string { return s.cfg.id }

// Attach is called by dialer.New (see dialer.SharedState). It starts the
// Share's goroutines and waits, at most WithStartTimeout, for the
// destinations open now across the fleet, so that the Dialer's first dial
// to one of them fails fast. Redis being unreachable is no error: the Dialer
// dials alone until the link comes up.
func (s *Share) Attach(d *dialer.Dialer) error {
	s.psMu.Lock()
	switch {
	case s.d != nil:
		s.psMu.Unlock()
		return errors.New("fleet: Share already attached to a Dialer")
	case s.closed:
		s.psMu.Unlock()
		return errors.New("fleet: Share is closed")
	}
	s.d = d
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan struct{})
	s.wg.Add(3)
	go s.receive(ctx, ready)
	go s.send(ctx)
	go s.lease(ctx)
	s.psMu.Unlock()

	// The receiver's first subscription reads the open set: wait for it,
	// but no longer than the start timeout.
	t := time.NewTimer(s.cfg.startTimeout)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
	}
	return nil
}

// Close stops the Share's goroutines and waits for them: at once, unless
// one is inside a Redis command, which ends within the client's read and
// write timeouts (go-redis ignores a context's cancellation unless
// ContextTimeoutEnabled is set). Messages still queued are dropped. The
// client is the caller's and stays open. Close is idempotent; the Dialer
// keeps working alone.
func (s *Share) Close() error {
	s.psMu.Lock()
	if s.closed {
		s.psMu.Unlock()
		return nil
	}
	s.closed = true
	s.up.Store(false) // from now on the Dialer decides alone, at once
	if s.cancel != nil {
		s.cancel()
	}
	if s.ps != nil {
		s.ps.Close() // ends the receiver's wait at once
		s.ps = nil
	}
	s.psMu.Unlock()
	s.wg.Wait()
	return nil
}

// Hooks are the Dialer hooks through which the Share learns what to send
// (see dialer.SharedState). They only queue: the dial never waits.
func (s *Share) Hooks() dialer.Hooks {
	h := dialer.Hooks{BreakerChange: s.breakerChanged}
	if s.cfg.shareStalls {
		h.Attempt = s.attempted
	}
	if s.cfg.shareTiming {
		h.DialStart, h.DialDone = s.dialStarting, s.dialDone
	}
	if s.cfg.shareFamily {
		h.FamilyChange = s.familyChanged
	}
	return h
}

func (s *Share) breakerChanged(c dialer.BreakerChange) {
	if c.Kind != "destination" || c.To == breaker.HalfOpen {
		return
	}
	if p := s.applying.Load(); p != nil && *p == c.Key {
		return // caused by another process's message: it was sent
	}
	quiet := false
	if p := s.charging.Load(); p != nil && *p == c.Key {
		quiet = true
	}
	m := message{kind: closed, from: s.cfg.id, dest: c.Key}
	if c.To == breaker.Open {
		m.kind = opened
		if c.From == breaker.HalfOpen {
			m.kind = reopened // its probe failed
		}
		m.until = c.At.Add(breaker.DefaultOpenTimeout)
		if d := s.d; d != nil {
			if st, ok := d.DestinationState(c.Key); ok && st.OpenUntil.After(c.At) {
				m.until = st.OpenUntil
			}
		}
	}
	s.enqueue(event{message: m, quiet: quiet})
}

func (s *Share) attempted(_ context.Context, a dialer.AttemptInfo) {
	if a.Outcome != dialer.Stalled {
		return
	}
	s.enqueue(event{message: message{kind: stall, from: s.cfg.id, dest: a.Destination}, dialStart: a.DialStart, try: a.Try})
}

func (s *Share) enqueue(e event) {
	select {
	case s.queue <- e:
	default:
		s.stats.dropped.Add(1)
	}
}

// linkUp and linkDown record the link's state, logging its changes only.
func (s *Share) linkUp() {
	s.stats.linkSeen.Store(true)
	if !s.up.Swap(true) {
		s.log.Info("redis link up: sharing breaker state", zap.String("id", s.cfg.id))
	}
}

func (s *Share) linkDown(err error) {
	wasUp := s.up.Swap(false)
	if first := s.stats.linkSeen.CompareAndSwap(false, true); wasUp || first {
		s.log.Warn("redis link down: dialling alone until it is back", zap.String("id", s.cfg.id), zap.Error(err))
	}
}

package fleet

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// leaseScript takes or renews the probe lease KEYS[1] for the process
// ARGV[1], for ARGV[2] milliseconds: 1 if it holds it now, 0 if another
// process does. The holder renews its own lease, so that a destination
// still down is probed by the same process each period.
var leaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return 1
end
if v then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// leaseRequest asks the leaser goroutine for a destination's probe lease;
// the answer goes to reply (capacity 1, so the leaser never waits for a
// caller that gave up).
type leaseRequest struct {
	dest  string
	reply chan bool
}

// MayProbe is asked by the Dialer when a destination's half-open breaker
// would send its probe (see dialer.SharedState). One process in the fleet
// wins the right, for WithProbeLease or until it reports how the probe
// went: a lease on the destination's probe key, taken like SET NX PX and
// renewed by its holder. A failed probe's lease ends when the breakers it
// reopened become half-open; a successful one's a second after the close.
// The others fail fast, asking Redis again only when the lease would be
// over or a message about the destination arrives.
//
// The dial waits at most WithProbeTimeout: the command is made by the
// Share's own goroutine (go-redis clients ignore a context's deadline
// unless ContextTimeoutEnabled is set), and with the link down, Redis
// slower than that, or a request already waiting, the process probes as
// it would alone.
func (s *Share) MayProbe(destination string) bool {
	if !s.up.Load() {
		s.stats.probesAlone.Add(1)
		return true
	}
	if s.denied.live(destination, time.Now()) {
		return false
	}
	req := leaseRequest{dest: destination, reply: make(chan bool, 1)}
	select {
	case s.leaseReqs <- req:
	default:
		s.stats.probesAlone.Add(1)
		return true
	}
	t := time.NewTimer(s.cfg.probeTimeout)
	defer t.Stop()
	select {
	case won := <-req.reply:
		return won
	case <-t.C:
		s.stats.probesAlone.Add(1)
		return true
	}
}

// lease is the leaser goroutine: it takes the probe leases MayProbe asks
// for, one at a time, until ctx is done.
func (s *Share) lease(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-s.leaseReqs:
			req.reply <- s.takeLease(ctx, req.dest)
		}
	}
}

// takeLease runs the lease script; it says true when Redis does not
// answer: the process then probes alone.
func (s *Share) takeLease(ctx context.Context, dest string) bool {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.commandTimeout)
	defer cancel()
	won, err := leaseScript.Run(ctx, s.client, []string{s.probePrefix + dest},
		s.cfg.id, s.cfg.probeLease.Milliseconds()).Bool()
	switch {
	case err != nil:
		return true // counted as alone by MayProbe, if it still waits
	case won:
		s.stats.probesWon.Add(1)
		s.leases.store(dest, time.Now().Add(s.cfg.probeLease))
	default:
		s.stats.probesLost.Add(1)
		s.denied.store(dest, time.Now().Add(s.cfg.probeLease))
	}
	return won
}

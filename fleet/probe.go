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

// MayProbe is asked by the Dialer when a destination's half-open breaker
// would send its probe (see dialer.SharedState). One process in the fleet
// wins the right, for WithProbeLease or until it reports how the probe
// went: a lease on the destination's probe key, taken like SET NX PX and
// renewed by its holder. A failed probe's lease ends when the breakers it
// reopened become half-open; a successful one's a second after the close. The others fail fast, asking Redis again only
// when the lease would be over or a message about the destination
// arrives. With the link down, or Redis slower than WithProbeTimeout, the
// process probes, as it would alone.
func (s *Share) MayProbe(destination string) bool {
	if !s.up.Load() {
		s.stats.probesAlone.Add(1)
		return true
	}
	now := time.Now()
	if v, ok := s.denied.Load(destination); ok && now.Before(v.(time.Time)) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.probeTimeout)
	defer cancel()
	won, err := leaseScript.Run(ctx, s.client, []string{s.probePrefix + destination},
		s.cfg.id, s.cfg.probeLease.Milliseconds()).Bool()
	if err != nil {
		s.stats.probesAlone.Add(1)
		return true
	}
	if !won {
		s.stats.probesLost.Add(1)
		s.denied.Store(destination, now.Add(s.cfg.probeLease))
		return false
	}
	s.stats.probesWon.Add(1)
	s.leases.Store(destination, struct{}{})
	return true
}

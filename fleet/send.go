package fleet

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// openSlack is how much longer than its last open time the open set is
// kept: a process starting then still finds the entry, and its breaker is
// half-open at once.
const openSlack = time.Second

// closeLease is how long a probe lease outlives the probe that closed
// the breakers: about as long as the close takes to reach the fleet.
const closeLease = time.Second

// maxRounds bounds the memory of the rounds whose stall was sent.
const maxRounds = 4096

// send is the sender goroutine: it drains the queue, one message (one
// pipeline of commands) at a time, until ctx is done.
func (s *Share) send(ctx context.Context) {
	defer s.wg.Done()
	rounds := make(map[string]round)
	// A verdict on IPv6 is said again while it stands (family.go).
	refresh := time.NewTicker(s.cfg.familyTTL / 4)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-refresh.C:
			if m, ok := s.familyRefresh(now); ok && s.up.Load() {
				s.publish(ctx, m, false)
			}
		case e := <-s.queue:
			if e.kind == stall {
				r := round{e.dialStart, e.try}
				if rounds[e.dest] == r {
					continue // this round's stall is sent: one is charged per round
				}
				if len(rounds) >= maxRounds {
					clear(rounds)
				}
				rounds[e.dest] = r
			}
			if !s.up.Load() {
				s.stats.dropped.Add(1) // alone: the open set is read again on reconnect
				continue
			}
			if e.kind == timing && !s.fillTiming(&e.message) {
				continue // forgotten since
			}
			s.publish(ctx, e.message, e.quiet)
		}
	}
}

type round struct {
	start time.Time
	try   int
}

// publish sends one message, with what it changes in the open set, and
// shortens the lease of the probe it reports.
func (s *Share) publish(ctx context.Context, m message, quiet bool) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.commandTimeout)
	defer cancel()
	payload := m.encode()
	held := false
	if m.kind.breaker() {
		held = s.leases.take(m.dest, time.Now())
	}
	if m.kind == v6broken {
		s.heardBroken(time.Now())
	}
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		now := time.Now()
		switch m.kind {
		case opened, reopened:
			ttl := m.until.Sub(now) + openSlack
			p.ZAddGT(ctx, s.openKey, redis.Z{Score: float64(m.until.UnixMilli()), Member: m.dest})
			p.ZRemRangeByScore(ctx, s.openKey, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
			// Every key has a ttl: NX gives one to a new set, GT
			// lengthens it for a later entry.
			ms := ttl.Milliseconds()
			p.Do(ctx, "PEXPIRE", s.openKey, ms, "NX")
			p.Do(ctx, "PEXPIRE", s.openKey, ms, "GT")
		case closed:
			p.ZRem(ctx, s.openKey, m.dest)
		case v6broken:
			// A process starting reads it (subscribe).
			p.Set(ctx, s.familyKey, s.cfg.id, max(m.until.Sub(now), time.Millisecond))
		case v6mended:
			p.Del(ctx, s.familyKey)
		}
		switch {
		case held && m.kind == closed:
			// The probe connected. The lease is kept a little longer,
			// so that a process that has not yet heard of the close
			// does not probe, then let go.
			p.PExpire(ctx, s.probePrefix+m.dest, closeLease)
		case held:
			// The probe failed: the lease ends as the breakers it
			// reopened become half-open, so that whichever process
			// dials first then probes, and none before.
			p.PExpire(ctx, s.probePrefix+m.dest, max(m.until.Sub(now), time.Millisecond))
		}
		if !quiet {
			p.Publish(ctx, s.channel, payload)
		}
		return nil
	})
	if err != nil {
		s.stats.failed.Add(1)
		return
	}
	if !quiet {
		s.stats.sent.Add(1)
		s.stats.sentBytes.Add(int64(len(payload)))
	}
}

package fleet

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// holderGrace is how long after an opening's end the other processes
// leave the probe to its sender: a period of its dials, so that one
// process asks Redis for the lease per open period, not every process.
const holderGrace = time.Second

// maxOpenRead bounds the open set read at start and on reconnect: the
// breakers a Dialer keeps by default (breaker.DefaultMaxBreakers).
const maxOpenRead = 10000

// firstReconnectWait is the backoff's first wait; it doubles up to
// WithMaxReconnectWait.
const firstReconnectWait = 50 * time.Millisecond

// subscribe subscribes to the channel, loads the lease script, then reads
// the open set and holds every destination in it: subscribing first, so
// that no opening falls between the two.
func (s *Share) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := s.client.Subscribe(ctx, s.channel)
	if _, err := ps.ReceiveTimeout(ctx, s.cfg.commandTimeout); err != nil {
		ps.Close()
		return nil, err
	}
	// The lease script is loaded now, so that a probe's lease is one
	// round trip (EVALSHA), not two.
	if err := leaseScript.Load(ctx, s.client).Err(); err != nil {
		ps.Close()
		return nil, err
	}
	now := time.Now()
	open, err := s.client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: s.openKey, ByScore: true,
		Start: "(" + strconv.FormatInt(now.UnixMilli(), 10), Stop: "+inf",
		Count: maxOpenRead,
	}).Result()
	if err != nil {
		ps.Close()
		return nil, err
	}
	for _, z := range open {
		dest, ok := z.Member.(string)
		if !ok {
			continue
		}
		s.apply(message{kind: opened, dest: dest, until: time.UnixMilli(int64(z.Score))})
	}
	if s.cfg.shareFamily {
		// The fleet's verdict on IPv6, if one stands.
		left, err := s.client.PTTL(ctx, s.familyKey).Result()
		if err != nil {
			ps.Close()
			return nil, err
		}
		if left > 0 {
			s.apply(message{kind: v6broken, dest: familyDest, until: now.Add(left)})
		}
	}
	return ps, nil
}

// receive is the receiver goroutine: it subscribes (closing ready after
// the first try), applies the other processes' messages, checks a quiet
// link with a PING, and when the link is lost subscribes again after a
// backoff, until ctx is done.
func (s *Share) receive(ctx context.Context, ready chan struct{}) {
	defer s.wg.Done()
	wait := firstReconnectWait
	pinged := false
	var ps *redis.PubSub
	defer func() {
		if ps != nil {
			s.drop(ps)
		}
	}()
	for ctx.Err() == nil {
		if ps == nil {
			if ready == nil && !sleep(ctx, wait) {
				return
			}
			if ready != nil {
				wait = firstReconnectWait
			} else {
				wait = min(2*wait, s.cfg.maxReconnectWait)
			}
			sub, cancel := context.WithTimeout(ctx, s.cfg.commandTimeout)
			var err error
			ps, err = s.subscribe(sub)
			cancel()
			if err != nil {
				s.linkDown(err)
				ready = started(ready)
				continue
			}
			if !s.keep(ps) {
				ps = nil
				started(ready)
				return
			}
			wait, pinged = firstReconnectWait, false
			if !s.up.Load() && s.stats.linkSeen.Load() {
				s.stats.reconnects.Add(1)
			}
			// Up before Attach returns: what the Dialer's first dials
			// queue is sent, not dropped as if the link were down.
			s.linkUp()
			ready = started(ready)
		}
		msg, err := ps.ReceiveTimeout(ctx, s.cfg.healthInterval)
		if err != nil {
			var ne net.Error
			if ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() && !pinged {
				// Quiet for a while: ask, and take no answer as a loss.
				pinged = true
				if ps.Ping(ctx) == nil {
					continue
				}
			}
			if ctx.Err() != nil {
				return
			}
			s.linkDown(err)
			s.drop(ps)
			ps = nil
			continue
		}
		pinged = false
		if m, ok := msg.(*redis.Message); ok {
			if dm, err := decode(m.Payload); err == nil && dm.from != s.cfg.id {
				s.stats.received.Add(1)
				s.apply(dm)
			}
		}
	}
}

// started closes ready, if not nil, and returns nil: the first
// subscription was tried.
func started(ready chan struct{}) chan struct{} {
	if ready != nil {
		close(ready)
	}
	return nil
}

// keep makes ps the Share's subscription, which Close closes; false if
// the Share is closed already (ps is then closed).
func (s *Share) keep(ps *redis.PubSub) bool {
	s.psMu.Lock()
	defer s.psMu.Unlock()
	if s.closed {
		ps.Close()
		return false
	}
	s.ps = ps
	return true
}

func (s *Share) drop(ps *redis.PubSub) {
	s.psMu.Lock()
	if s.ps == ps {
		s.ps = nil
	}
	s.psMu.Unlock()
	ps.Close()
}

// apply tells the Dialer what another process saw. The breaker changes it
// causes are not sent again (breakerChanged).
func (s *Share) apply(m message) {
	d := s.d
	if d == nil {
		return
	}
	// What an opening or a closing causes is the sender's news; an
	// opening a charged stall causes is this process's (charging).
	mark := &s.applying
	if m.kind == stall {
		mark = &s.charging
	}
	mark.Store(&m.dest)
	defer mark.Store(nil)
	switch m.kind {
	case opened:
		s.denied.take(m.dest, time.Time{})
		d.HoldDestination(m.dest, m.until)
	case reopened:
		// The sender's probe failed: it may renew its lease when its
		// breaker is half-open again, and the others leave it a grace
		// period to do so before asking for the lease themselves.
		s.denied.store(m.dest, m.until.Add(holderGrace))
		d.HoldDestination(m.dest, m.until)
	case closed:
		s.denied.take(m.dest, time.Time{})
		d.ReleaseDestination(m.dest)
	case stall:
		if s.cfg.shareStalls {
			d.ChargeStall(m.dest)
		}
	case timing:
		if s.cfg.shareTiming {
			now := time.Now()
			s.timings.heard(m.dest, now)
			s.timings.offer(m.dest, seed{srtt: m.srtt, rttvar: m.rttvar, until: now.Add(seedTTL)}, now)
		}
	case v6broken:
		if s.cfg.shareFamily {
			s.heardBroken(time.Now())
			d.NoteIPv6Broken(m.until)
		}
	case v6mended:
		if s.cfg.shareFamily {
			d.NoteIPv6Working()
		}
	}
}

// sleep waits d or until ctx is done, reporting whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

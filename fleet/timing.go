package fleet

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialguard/dialguard/dialer"
)

// Round-trip estimates shared.
//
// A process publishes a destination's estimate when it has one of its own
// for the first time, and afterwards when its smoothed round trip has
// moved by more than timingMove from what it last shared or took from the
// fleet, at most once per WithTimingInterval since it or another process
// last published the destination's: a path whose round trip
// holds steady costs one message per process that learns it, whatever the
// dial rate. The others keep what they receive as a pending seed for the
// destination (for the Dialer's memory ttl) and hand it to their Dialer
// (SeedTiming) only as they begin dialling it, so that a fleet's worth of
// destinations a process never dials does not crowd its Dialer's memory
// of those it does. A process that already has an estimate of its own
// keeps it (SeedTiming refuses).

// timingMove is the relative change of a destination's srtt worth a
// message: a quarter.
const timingMove = 4 // |new-old| > old/timingMove

// seedTTL is how long a received estimate waits for a dial: the Dialer's
// default memory of an estimate.
const seedTTL = dialer.DefaultMemoryTTL

// maxTimings bounds the destinations whose shared estimate a process
// remembers, and its pending seeds.
const maxTimings = 16384

// timings is a Share's memory of shared estimates.
type timings struct {
	mu      sync.Mutex
	shared  map[string]sharedRTT // what this process last shared, or took
	pending map[string]seed      // received and not yet used
	// nPending is len(pending), read without the lock by every dial.
	nPending atomic.Int64
}

type sharedRTT struct {
	srtt time.Duration
	at   time.Time
}

type seed struct {
	srtt, rttvar time.Duration
	until        time.Time
}

// due reports whether a dial that left destination's estimate at srtt
// should publish it, and if so records it as shared.
func (t *timings) due(dest string, srtt time.Duration, now time.Time, interval time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.shared[dest]; ok {
		diff := srtt - last.srtt
		if diff < 0 {
			diff = -diff
		}
		if diff <= last.srtt/timingMove || now.Sub(last.at) < interval {
			return false
		}
	}
	t.recordLocked(dest, srtt, now)
	return true
}

// heard records that another process published destination's estimate
// at now: this process's next one waits an interval from then, so that a
// destination's estimate moving costs about one message per interval for
// the whole fleet, not one per process.
func (t *timings) heard(dest string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.shared[dest]; ok && now.After(last.at) {
		last.at = now
		t.shared[dest] = last
	}
}

// took records srtt as destination's estimate here, taken from the fleet,
// unless this process has shared one of its own.
func (t *timings) took(dest string, srtt time.Duration, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.shared[dest]; !ok {
		t.recordLocked(dest, srtt, now)
	}
}

func (t *timings) recordLocked(dest string, srtt time.Duration, now time.Time) {
	if t.shared == nil {
		t.shared = make(map[string]sharedRTT)
	}
	if _, ok := t.shared[dest]; !ok && len(t.shared) >= maxTimings {
		// Forget what is older than an estimate lives; if that is not
		// enough, all: at worst, one more message per destination.
		for k, v := range t.shared {
			if now.Sub(v.at) >= seedTTL {
				delete(t.shared, k)
			}
		}
		if len(t.shared) >= maxTimings {
			clear(t.shared)
		}
	}
	t.shared[dest] = sharedRTT{srtt: srtt, at: now}
}

// offer keeps another process's estimate of destination until a dial to
// it begins.
func (t *timings) offer(dest string, s seed, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		t.pending = make(map[string]seed)
	}
	if _, ok := t.pending[dest]; !ok && len(t.pending) >= maxTimings {
		// As for shared: the expired first, then all if need be.
		for k, v := range t.pending {
			if !now.Before(v.until) {
				delete(t.pending, k)
			}
		}
		if len(t.pending) >= maxTimings {
			clear(t.pending)
		}
	}
	t.pending[dest] = s
	t.nPending.Store(int64(len(t.pending)))
}

// take removes destination's pending seed, if any is live.
func (t *timings) take(dest string, now time.Time) (seed, bool) {
	if t.nPending.Load() == 0 {
		return seed{}, false // the usual path: no lock
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.pending[dest]
	if !ok {
		return seed{}, false
	}
	delete(t.pending, dest)
	t.nPending.Store(int64(len(t.pending)))
	return s, now.Before(s.until)
}

// dialStarting is the Share's DialStart hook: a dial to a destination
// with a pending seed hands it to the Dialer before its first attempt is
// timed.
func (s *Share) dialStarting(ctx context.Context, i dialer.DialStartInfo) context.Context {
	if sd, ok := s.timings.take(i.Destination, i.Start); ok && s.d != nil {
		if s.d.SeedTiming(i.Destination, sd.srtt, sd.rttvar) {
			s.timings.took(i.Destination, sd.srtt, i.Start)
			s.stats.seeded.Add(1)
		}
	}
	return ctx
}

// dialDone is the Share's DialDone hook: a dial that connected and left
// its destination's estimate materially changed queues the estimate.
func (s *Share) dialDone(_ context.Context, i dialer.DialDoneInfo) {
	if i.Err != nil || i.RTT <= 0 || !s.up.Load() {
		return // with the link down, the estimate waits for a dial after it is back
	}
	if s.timings.due(i.Destination, i.RTT, i.Start.Add(i.Elapsed), s.cfg.timingInterval) {
		s.enqueue(event{message: message{kind: timing, from: s.cfg.id, dest: i.Destination}})
	}
}

// fillTiming completes a queued estimate with the Dialer's current
// srtt and rttvar, off the dial's path; false if it has none.
func (s *Share) fillTiming(m *message) bool {
	tm, ok := s.d.DestinationTiming(m.dest)
	if !ok || tm.SRTT <= 0 {
		return false
	}
	m.srtt, m.rttvar = tm.SRTT, tm.RTTVar
	return true
}

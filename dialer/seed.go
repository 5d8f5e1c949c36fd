package dialer

import "time"

// Seeded timing: a process that has never dialled a destination times its
// first attempt by its address's class (timing.go), which for anything but
// loopback means the fixed 250 ms attempt delay and a 2 s stall bound.
// Another process of the same fleet may have dialled it a thousand times:
// its estimate is better evidence than the class, and SeedTiming lets a
// SharedState hand it over.

// seedSamples is how many handshakes a seed counts for: enough that the
// first local handshake moves it by an eighth (RFC 6298's gain), not
// replaces it, and few enough that the destination's own history takes
// over within a handful of dials.
const seedSamples = 3

// maxSeedRTT bounds a seed's round trip: a seed comes from another
// process, and one beyond the longest stall bound says nothing an attempt
// could use.
const maxSeedRTT = maxStallAfter

// SeedTiming gives destination (as DestinationState takes it) a starting
// round-trip estimate, srtt and rttvar, learnt elsewhere (another process
// of the fleet): its next attempts are timed by it as by a few handshakes
// of its own (see DestinationTiming), until handshakes of its own refine
// it. It never replaces an estimate the Dialer learnt itself, only one
// that is missing, expired, or an earlier seed; it expires with the
// memory's ttl (WithStallMemory) counted from now. It reports whether the
// seed was taken; a srtt not above zero or beyond 15 s, or a negative
// rttvar, is not.
func (d *Dialer) SeedTiming(destination string, srtt, rttvar time.Duration) bool {
	if srtt <= 0 || srtt > maxSeedRTT || rttvar < 0 || rttvar > maxSeedRTT {
		return false
	}
	d.init()
	dst := d.dests.get(d.destinationKey(destination))
	return dst.seed(rtt{srtt: srtt, rttvar: rttvar, samples: seedSamples, at: time.Now()}, d.cfg.memoryTTL)
}

// seed takes e as the destination's estimate unless it has one of its own
// within ttl.
func (dst *destination) seed(e rtt, ttl time.Duration) bool {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if dst.rtt.known(e.at, ttl) && !dst.seeded {
		return false
	}
	dst.rtt, dst.seeded = e, true
	return true
}

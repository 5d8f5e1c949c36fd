package dialer

import (
	"net/netip"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// DestinationState returns the breaker state and counts of a destination,
// given as it is dialled ("host:port"; host names lower-cased). The second
// result is false when the dialer holds no breaker for it (never dialled,
// forgotten, or breakers off).
func (d *Dialer) DestinationState(destination string) (breaker.Snapshot, bool) {
	d.init()
	if d.destBreakers == nil {
		return breaker.Snapshot{}, false
	}
	return d.destBreakers.Snapshot(d.destinationKey(destination))
}

// AddressState returns the breaker state and counts of one address. The
// second result is false when the dialer holds no breaker for it. An
// address dialled as an IP literal has one breaker, its destination's, and
// AddressState reports that one.
func (d *Dialer) AddressState(addr netip.AddrPort) (breaker.Snapshot, bool) {
	d.init()
	if d.addrBreakers == nil {
		return breaker.Snapshot{}, false
	}
	if s, ok := d.addrBreakers.Snapshot(addr.String()); ok {
		return s, true
	}
	return d.destBreakers.Snapshot(addr.String())
}

// DestinationTiming returns what the dialer has learnt of a destination's
// handshakes (given as DestinationState takes it), and how its next attempt
// would be timed: the basis of the attempt delay and the stall bound (see
// WithAttemptDelay and WithAttemptTimeout). The second result is false
// when the destination has connected no handshake within the memory's ttl
// (WithStallMemory), or is forgotten; its attempts are then timed by their
// address's class.
func (d *Dialer) DestinationTiming(destination string) (Timing, bool) {
	d.init()
	dst, ok := d.dests.peek(d.destinationKey(destination))
	if !ok {
		return Timing{}, false
	}
	now := time.Now()
	dst.mu.Lock()
	e, tlsE, lossy := dst.rtt, dst.tlsRTT, dst.lossyLocked(now, d.cfg.memoryTTL)
	dst.mu.Unlock()
	if !e.known(now, d.cfg.memoryTTL) {
		return Timing{}, false
	}
	tm := d.fixed(timingOf(&e, lossy))
	return Timing{
		SRTT: e.srtt, RTTVar: e.rttvar, Samples: e.samples,
		TLSSRTT: tlsE.srtt, TLSSamples: tlsE.samples,
		AttemptDelay: tm.delay, StallAfter: tm.stallAfter, Lossy: lossy,
	}, true
}

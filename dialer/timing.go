package dialer

import (
	"net/netip"
	"sync"
	"time"
)

// Timing learnt per destination.
//
// A handshake's round trip is the best evidence the dialer has of how long
// the next one should take: 50 µs over loopback, a millisecond on a LAN,
// 700 ms over a satellite. One fixed attempt timeout cannot fit both ends:
// too short, and a far host that answers every time is cut off as a stall;
// too long, and a near one that stopped answering holds its callers and
// sockets thousands of round trips past the point where it has plainly
// gone. So every completed handshake teaches an estimate (RFC 6298's
// smoothed round trip and variation, per address and per destination), and
// each attempt is timed from it:
//
//   - Suspicion: an attempt that has run past its retransmission timeout
//     (srtt + 4 rttvar, within RFC 8305's 10 ms to 2 s) is suspect. The next
//     address starts beside it (the attempt delay of RFC 8305 section 5,
//     from history as that section recommends), and the destination's
//     admission limit engages. A suspect attempt goes on running: it wins
//     if it answers, and its answer teaches the estimate.
//   - Confirmation: the attempt is a stall, charged to the breakers, only
//     at ten times that timeout (100 ms at least), a wait a path with that
//     history practically never needs. Where ten times would come near the
//     kernel's own SYN retransmission (1 s, RFC 6298 section 2.1), or the
//     destination has answered late before (a lossy path), the bound is at
//     least that retransmission plus two timeouts, so a lost SYN can be
//     answered by the kernel's second one before the dialer gives up.
//
// Without history of its own, an address gets a prior: loopback vouches
// for a short path by its nature (a suspect after 10 ms, a stall after
// 100 ms); other classes (private and link-local, public, per family) give
// the attempt delay from what the process has seen of them, but never
// vouch for the stall bound, which is then DefaultAttemptTimeout (2 s): no
// stall before the kernel's first SYN retransmission has had its chance.
// WithAttemptDelay and WithAttemptTimeout fix either value instead.
const (
	// stallFactor times an estimate's retransmission timeout is how long
	// an attempt runs before its stall is confirmed.
	stallFactor = 10
	// minStallAfter and maxStallAfter bound the confirmed stall.
	minStallAfter = 100 * time.Millisecond
	maxStallAfter = 15 * time.Second
	// synRetransmission is when Linux sends a SYN the second time: its
	// initial retransmission timeout (RFC 6298 section 2.1, 1 s).
	synRetransmission = time.Second
	// rttGranularity is the G of RFC 6298's RTO: the least margin over
	// the smoothed round trip.
	rttGranularity = time.Millisecond
	// priorSamples is how many handshakes a destination teaches its
	// address class's prior: after that it has history of its own, and
	// the prior's lock stays off its path.
	priorSamples = 8
)

// loopbackRTT is what loopback vouches for before the process has seen a
// handshake on it: a path of a millisecond at most.
var loopbackRTT = rtt{srtt: time.Millisecond, samples: 1}

// rtt is RFC 6298's estimator of one path's round trip, fed with the
// durations of completed handshakes.
type rtt struct {
	srtt, rttvar time.Duration
	samples      int
	at           time.Time // the last sample
}

// add folds in one handshake of r, taken at now (RFC 6298 section 2: the
// first sample sets srtt to r and rttvar to r/2, later ones move srtt by an
// eighth and rttvar by a quarter).
func (e *rtt) add(r time.Duration, now time.Time) {
	if e.samples == 0 {
		e.srtt, e.rttvar = r, r/2
	} else {
		diff := e.srtt - r
		if diff < 0 {
			diff = -diff
		}
		e.rttvar = (3*e.rttvar + diff) / 4
		e.srtt = (7*e.srtt + r) / 8
	}
	e.samples++
	e.at = now
}

// rto is the estimate's retransmission timeout: srtt + max(G, 4 rttvar).
func (e *rtt) rto() time.Duration {
	return e.srtt + max(rttGranularity, 4*e.rttvar)
}

// known reports whether the estimate has a sample taken within ttl.
func (e *rtt) known(now time.Time, ttl time.Duration) bool {
	return e.samples > 0 && now.Sub(e.at) < ttl
}

// retransmitted reports whether a handshake of r was most likely answered
// only after the kernel sent its SYN again: it took longer than both the
// kernel's first retransmission and what the estimate predicts. Such a
// sample measures the loss, not the path (Karn's rule, RFC 6298 section
// 3), and is left out of the estimate.
func (e *rtt) retransmitted(r time.Duration) bool {
	return e.samples > 0 && r >= synRetransmission && r > e.rto()
}

// attemptTiming is how one attempt is timed: suspect after delay, a stall
// after stallAfter. stagger is when the race starts the next address
// beside it: the delay, except toward a destination that has lost packets
// recently, where two SYNs racing from the start (10 ms apart, RFC 8305's
// least delay) are both lost far less often than one is. own says it comes
// from the address's or destination's own history.
type attemptTiming struct {
	delay, stallAfter, stagger time.Duration
	own                        bool
	// launched is when the race started the attempt's goroutine (zero for
	// an attempt made in the dialing goroutine): the attempt is timed from
	// then, as the race times its delay, so a goroutine that a loaded
	// machine starts late does not make a suspect attempt look prompt.
	launched time.Time
}

// timingOf times an attempt on a path with estimate e; lossy says the
// destination answered late recently.
func timingOf(e *rtt, lossy bool) attemptTiming {
	rto := e.rto()
	stall := max(minStallAfter, stallFactor*rto)
	if lossy || stall > synRetransmission/2 {
		stall = max(stall, synRetransmission+2*rto)
	}
	delay := min(max(rto, MinAttemptDelay), MaxAttemptDelay)
	stagger := delay
	if lossy {
		stagger = MinAttemptDelay
	}
	return attemptTiming{delay: delay, stallAfter: min(stall, maxStallAfter), stagger: stagger}
}

// addrClass is an address's class for its prior.
type addrClass int8

const (
	classLoopback addrClass = iota
	classPrivate            // private and link-local
	classPublic
	numClasses
)

func classOf(a netip.Addr) addrClass {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return classLoopback
	case a.IsPrivate(), a.IsLinkLocalUnicast():
		return classPrivate
	}
	return classPublic
}

// priors is what the process has seen of each family and class of
// address: the estimate a fresh destination starts from.
type priors struct {
	mu  sync.Mutex
	est [2][numClasses]rtt // [IPv4, IPv6][class]
}

func familyOf(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 0
	}
	return 1
}

// add teaches a's class one handshake of r.
func (p *priors) add(a netip.Addr, r time.Duration, now time.Time) {
	p.mu.Lock()
	e := &p.est[familyOf(a)][classOf(a)]
	if !e.retransmitted(r) {
		e.add(r, now)
	}
	p.mu.Unlock()
}

// get returns a's class's estimate, if the process has seen one.
func (p *priors) get(a netip.Addr) (rtt, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.est[familyOf(a)][classOf(a)]
	return e, e.samples > 0
}

// timing returns how an attempt to a (of destination dst) is timed now.
func (d *Dialer) timing(dst *destination, a netip.AddrPort, now time.Time) attemptTiming {
	var tm attemptTiming
	if e, lossy, ok := dst.estimate(a, now, d.cfg.memoryTTL); ok {
		tm = timingOf(&e, lossy)
		tm.own = true
	} else if classOf(a.Addr()) == classLoopback {
		e, ok := d.priors.get(a.Addr())
		if !ok {
			e = loopbackRTT
		}
		tm = timingOf(&e, false)
	} else {
		tm = attemptTiming{delay: DefaultAttemptDelay, stallAfter: DefaultAttemptTimeout}
		if e, ok := d.priors.get(a.Addr()); ok {
			tm.delay = min(max(e.rto(), MinAttemptDelay), MaxAttemptDelay)
		}
		tm.stagger = tm.delay
	}
	return d.fixed(tm)
}

// fixed applies WithAttemptDelay and WithAttemptTimeout to a learnt
// timing.
func (d *Dialer) fixed(tm attemptTiming) attemptTiming {
	if d.cfg.attemptDelay != 0 {
		tm.delay, tm.stagger = d.cfg.attemptDelay, d.cfg.attemptDelay
	}
	// An attempt is suspect before it can be a stall: a learnt bound is at
	// least twice the delay (a fixed one is the user's to set).
	tm.stallAfter = max(tm.stallAfter, 2*tm.delay)
	if d.cfg.attemptTimeout != 0 {
		tm.stallAfter = d.cfg.attemptTimeout
	}
	return tm
}

// learn teaches the estimates one attempt that connected: its TCP
// handshake took tcp and, in a TLS dial, its TLS handshake tls after it;
// tm is how it was timed; winner says it won its race (destination.learn).
func (d *Dialer) learn(dst *destination, a netip.AddrPort, tcp, tls time.Duration, tm attemptTiming, winner bool, now time.Time) {
	// Late for its own history: the path lost a packet, or got slower.
	late := tm.own && tcp > tm.delay
	if n := dst.learn(a, tcp, tls, late, winner, now); n <= priorSamples {
		d.priors.add(a.Addr(), tcp, now)
	}
}

// Timing is what a Dialer has learnt of one destination's handshakes; see
// DestinationTiming.
type Timing struct {
	// SRTT and RTTVar are the smoothed round trip of its TCP handshakes
	// and its variation (RFC 6298), over Samples handshakes.
	SRTT, RTTVar time.Duration
	Samples      int
	// TLSSRTT is the smoothed duration of its TLS handshakes (after TCP),
	// over TLSSamples; zero without any.
	TLSSRTT    time.Duration
	TLSSamples int
	// AttemptDelay and StallAfter are how its next attempt would be timed:
	// the next address starts beside it after AttemptDelay, and it is a
	// stall after StallAfter.
	AttemptDelay, StallAfter time.Duration
	// Lossy reports that a handshake was answered late for its history
	// within the memory's ttl: the stall bound then leaves room for the
	// kernel's SYN retransmission.
	Lossy bool
}

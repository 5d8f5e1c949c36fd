package dialer

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/internal/tierlru"
)

// destination is what the dialer remembers about one host:port: which
// address won last, which stalled, whether it has answered recently, how
// many dials are in flight, and its retry budget. Destinations live in a
// bounded cache (destinations); forgetting a healthy one costs only its
// memory, and one that is in trouble is forgotten last (see tierLocked).
type destination struct {
	mu sync.Mutex

	// key and home are where the destination is remembered; tier is the
	// tier it is filed under there (see tierLocked), and tripped whether
	// its breaker is open or half-open.
	key     string
	home    *destinations
	tier    int
	tripped bool

	winner   netip.AddrPort // last address that connected
	winnerAt time.Time
	stalled  map[netip.AddrPort]time.Time // addresses that stalled, and when
	keys     map[netip.AddrPort]string    // cached breaker keys (ip:port)

	lastSuccess time.Time
	lastStall   time.Time
	refusedRun  int // dials in a row that failed with refusals (or resets)

	// promptAt is when the name last resolved, within the resolution
	// delay, to addresses of one family only: until it is older than the
	// memory's ttl, the dial asks for both families in one lookup
	// (resolveAtOnce). Zero: ask for each family on its own.
	promptAt time.Time
	slowAt   time.Time // when asking for both at once last ran out

	// Timing (timing.go): the destination's handshakes, all addresses
	// together and per address (bounded like the stall memory), when one
	// was last answered late for its history, and, for admission, when an
	// attempt last got an answer and since when dials have been in flight.
	rtt, tlsRTT rtt
	seeded      bool // rtt is another process's (SeedTiming), not refined here
	addrRTT     map[netip.AddrPort]rtt
	lateAt      time.Time
	answeredAt  time.Time
	busySince   time.Time

	inFlight int
	wake     chan struct{} // closed to wake admission waiters; nil if none wait

	budget retryBudget
}

// maxStalledPerDestination bounds the stall memory of one destination.
const maxStalledPerDestination = 64

// destinations is the bounded set of remembered destinations. When it is
// full, the least recently dialled destination of the lowest tier that has
// any is forgotten: idle ones first, then those with dials in flight, and
// those in trouble last. A stream of fresh names must not make the dialer
// forget a destination whose dials are in flight (its admission count is
// what holds a storm back), that is stalling (its stall memory), or whose
// breaker is open.
type destinations struct {
	cache *tierlru.Cache[string, *destination]
}

// The tiers of destinations, evicted lowest first.
const (
	tierIdle     = iota // no dial in flight, and not in trouble
	tierInFlight        // dials in flight
	tierTrouble         // stalled since it last connected, or its breaker is not closed
	destinationTiers
)

func newDestinations(size int) (*destinations, error) {
	c, err := tierlru.New[string, *destination](size, destinationTiers)
	if err != nil {
		return nil, err
	}
	return &destinations{cache: c}, nil
}

// get returns key's destination, creating it on first use.
func (ds *destinations) get(key string) *destination {
	if d, ok := ds.cache.Get(key); ok {
		return d
	}
	// Someone may add it between Get and GetOrAdd: then theirs is returned.
	d, _ := ds.cache.GetOrAdd(key, &destination{key: key, home: ds})
	return d
}

// peek returns key's destination if it is remembered.
func (ds *destinations) peek(key string) (*destination, bool) {
	return ds.cache.Peek(key)
}

// tierLocked returns the tier the destination's state calls for.
func (dst *destination) tierLocked() int {
	switch {
	case dst.tripped || dst.lastStall.After(dst.lastSuccess):
		return tierTrouble
	case dst.inFlight > 0:
		return tierInFlight
	}
	return tierIdle
}

// refileLocked files the destination under the tier its state calls for,
// when that changed. It runs under dst.mu, so that one destination's moves
// are made in order; the cache takes its own lock inside, never dst.mu.
func (dst *destination) refileLocked() {
	tier := dst.tierLocked()
	if tier == dst.tier || dst.home == nil {
		return
	}
	dst.tier = tier
	dst.home.cache.SetTier(dst.key, dst, filedTier)
}

// filedTier is the tier a destination was last filed under; the cache
// calls it while refileLocked holds dst.mu.
func filedTier(dst *destination) int { return dst.tier }

// setTripped notes whether the destination's breaker is open or half-open.
func (dst *destination) setTripped(tripped bool) {
	dst.mu.Lock()
	dst.tripped = tripped
	dst.refileLocked()
	dst.mu.Unlock()
}

// addrKey returns the breaker key of a, cached so that the hot path does not
// format addresses.
func (dst *destination) addrKey(a netip.AddrPort) string {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if k, ok := dst.keys[a]; ok {
		return k
	}
	if dst.keys == nil || len(dst.keys) >= maxStalledPerDestination {
		dst.keys = make(map[netip.AddrPort]string)
	}
	k := a.String()
	dst.keys[a] = k
	return k
}

// addrSamples is how many handshakes an address needs before its own
// estimate times it.
const addrSamples = 4

// estimate returns the estimate an attempt to a is timed by: a's own if it
// has enough within ttl, else the destination's; lossy reports a late
// answer within ttl.
func (dst *destination) estimate(a netip.AddrPort, now time.Time, ttl time.Duration) (e rtt, lossy, ok bool) {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	lossy = dst.lossyLocked(now, ttl)
	// An address's own estimate once it has addrSamples handshakes (its
	// family may take another path); before that the destination's, whose
	// variation has settled sooner (RFC 6298 starts rttvar at half the
	// first sample, so one handshake alone gives three round trips).
	if e, ok := dst.addrRTT[a]; ok && e.known(now, ttl) && (e.samples >= addrSamples || !dst.rtt.known(now, ttl)) {
		return e, lossy, true
	}
	if dst.rtt.known(now, ttl) {
		return dst.rtt, lossy, true
	}
	return rtt{}, lossy, false
}

// learn folds one connected attempt to a into the estimates (a TLS
// handshake of tls, when there was one, into its own) and returns how many
// samples the destination's estimate holds. A handshake that was answered
// only after the kernel's SYN retransmission, or late for its history,
// marks the destination lossy; the former is left out of the estimates.
// With winner (the attempt won its race, rather than connecting after the
// race was decided), it also remembers a as the address the next dial
// starts with, and wakes admission's waiters: one lock for both.
func (dst *destination) learn(a netip.AddrPort, tcp, tls time.Duration, late, winner bool, now time.Time) int {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if winner {
		dst.winner, dst.winnerAt, dst.lastSuccess, dst.answeredAt = a, now, now, now
		dst.refusedRun = 0
		delete(dst.stalled, a)
		dst.wakeLocked()
		dst.refileLocked()
	}
	retransmitted := dst.rtt.retransmitted(tcp)
	if (late || retransmitted) && mayLosePackets(a) {
		dst.lateAt = now
	}
	if !retransmitted {
		dst.rtt.add(tcp, now)
		dst.seeded = false
		if dst.addrRTT == nil || len(dst.addrRTT) >= maxStalledPerDestination {
			dst.addrRTT = make(map[netip.AddrPort]rtt)
		}
		e := dst.addrRTT[a]
		if !e.retransmitted(tcp) {
			e.add(tcp, now)
			dst.addrRTT[a] = e
		}
	}
	if tls > 0 {
		dst.tlsRTT.add(tls, now)
	}
	return dst.rtt.samples
}

// lossy reports whether the destination answered late (after its
// attempt delay, or only after the kernel's SYN retransmission) within ttl.
func (dst *destination) lossy(now time.Time, ttl time.Duration) bool {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	return dst.lossyLocked(now, ttl)
}

func (dst *destination) lossyLocked(now time.Time, ttl time.Duration) bool {
	return !dst.lateAt.IsZero() && now.Sub(dst.lateAt) < ttl
}

// answered notes that an attempt got an answer (connected or refused): the
// destination is alive, whatever the answer.
func (dst *destination) answered(now time.Time) {
	dst.mu.Lock()
	dst.answeredAt = now
	dst.mu.Unlock()
}

// recordStall remembers that a stalled: the next dial starts elsewhere,
// and the destination is not answering (admission, the memory's tiers)
// until it connects again.
func (dst *destination) recordStall(a netip.AddrPort, now time.Time) {
	dst.mu.Lock()
	dst.stalledLocked(a, now)
	dst.lastStall = now
	dst.refileLocked()
	dst.mu.Unlock()
}

// recordLostSlow remembers that a lost a race while unanswered past its
// attempt delay: the next dial starts elsewhere, as after a stall. But a
// sibling won, so the destination answered: unlike recordStall this does
// not mark it as stalling, or every dial whose other family lost slow
// would leave the destination looking dead to admission (a far host's
// burst waited for slots after it had answered).
func (dst *destination) recordLostSlow(a netip.AddrPort, now time.Time) {
	dst.mu.Lock()
	dst.stalledLocked(a, now)
	// If a has connected before (within the estimates' memory), the path is
	// more likely losing packets than a is dead, and the destination is
	// marked lossy, as a late answer marks it; an address that never
	// connected (the incident's ::1) says nothing about loss.
	if e, ok := dst.addrRTT[a]; ok && e.samples > 0 && mayLosePackets(a) {
		dst.lateAt = now
	}
	dst.mu.Unlock()
}

// mayLosePackets reports whether a late answer from a can mean a lost
// packet. Loopback loses none: its late answers are a busy CPU or a full
// accept queue (an overloaded server, which is what a stall is), and
// marking it lossy would stretch its stall bound past a second, beyond
// the connect timeout of clients such as pgxpool's (1 s), which then never
// see a stall confirmed and never trip the breaker (examples/clients'
// TestPgx failed so on a loaded machine).
func mayLosePackets(a netip.AddrPort) bool {
	return classOf(a.Addr()) != classLoopback
}

func (dst *destination) stalledLocked(a netip.AddrPort, now time.Time) {
	if dst.stalled == nil || len(dst.stalled) >= maxStalledPerDestination {
		dst.stalled = make(map[netip.AddrPort]time.Time)
	}
	dst.stalled[a] = now
	if dst.winner == a {
		dst.winner = netip.AddrPort{}
	}
}

// resolutionHint returns what resolution needs from the memory, under one
// lock: the address that won within ttl (invalid if none), and whether the
// name resolved promptly to one family within ttl (promptAt).
func (dst *destination) resolutionHint(now time.Time, ttl time.Duration) (winner netip.AddrPort, prompt bool) {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	winner, _ = dst.winnerLocked(now, ttl)
	return winner, !dst.promptAt.IsZero() && now.Sub(dst.promptAt) < ttl
}

// recordPrompt remembers that the name resolved promptly to one family,
// unless asking for both at once ran out within ttl: a resolver can
// answer each family promptly and both at once slowly (a middlebox that
// drops one of two parallel queries from one socket), and such a
// destination must not pay the delay on every dial.
func (dst *destination) recordPrompt(now time.Time, ttl time.Duration) {
	dst.mu.Lock()
	if dst.slowAt.IsZero() || now.Sub(dst.slowAt) >= ttl {
		dst.promptAt = now
	}
	dst.mu.Unlock()
}

// dropPrompt forgets the mark: the name has addresses of both families.
func (dst *destination) dropPrompt() {
	dst.mu.Lock()
	dst.promptAt = time.Time{}
	dst.mu.Unlock()
}

// forgetPrompt forgets the mark and remembers that asking for both at once
// ran out.
func (dst *destination) forgetPrompt(now time.Time) {
	dst.mu.Lock()
	dst.promptAt, dst.slowAt = time.Time{}, now
	dst.mu.Unlock()
}

func (dst *destination) winnerLocked(now time.Time, ttl time.Duration) (netip.AddrPort, bool) {
	if dst.winner.IsValid() && now.Sub(dst.winnerAt) < ttl {
		return dst.winner, true
	}
	return netip.AddrPort{}, false
}

// arrange applies the memory to a race's schedule, under one lock: the
// address that won within ttl moves to the front, addresses that stalled
// within ttl move to the back, and the order is kept otherwise.
func (dst *destination) arrange(list []netip.AddrPort, now time.Time, ttl time.Duration) []netip.AddrPort {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if w, ok := dst.winnerLocked(now, ttl); ok {
		for i, a := range list {
			if a == w {
				copy(list[1:i+1], list[:i])
				list[0] = w
				break
			}
		}
	}
	if len(dst.stalled) == 0 {
		return list
	}
	var healthy, stalled []netip.AddrPort
	for _, a := range list {
		if at, ok := dst.stalled[a]; ok && now.Sub(at) < ttl {
			stalled = append(stalled, a)
		} else {
			healthy = append(healthy, a)
		}
	}
	if len(stalled) == 0 {
		return list
	}
	return append(healthy, stalled...)
}

// refusedRunNoRetry is how many dials in a row must fail with refusals
// before refusals are no longer retried: a server restarting refuses for a
// moment and the first dial's retries find it; one whose dials keep
// failing, retries and all, is down, and retrying every dial to it only
// multiplies the attempts (and delays its breaker, which counts dials).
const refusedRunNoRetry = 5

// retriesHelp reports whether a refusal of this destination is worth a
// retry: it connected within ttl, and fewer than refusedRunNoRetry dials
// in a row have failed since.
func (dst *destination) retriesHelp(now time.Time, ttl time.Duration) bool {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	return !dst.lastSuccess.IsZero() && now.Sub(dst.lastSuccess) < ttl && dst.refusedRun < refusedRunNoRetry
}

// refusedDial notes a dial that failed with refusals.
func (dst *destination) refusedDial() {
	dst.mu.Lock()
	dst.refusedRun++
	dst.mu.Unlock()
}

// connectedWithin reports whether the destination has connected within ttl.
func (dst *destination) connectedWithin(now time.Time, ttl time.Duration) bool {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	return !dst.lastSuccess.IsZero() && now.Sub(dst.lastSuccess) < ttl
}

// answering reports whether the destination has connected within ttl and
// has not stalled since. Such a destination is never throttled.
func (dst *destination) answeringLocked(now time.Time, ttl time.Duration) bool {
	return !dst.lastSuccess.IsZero() && now.Sub(dst.lastSuccess) < ttl && !dst.lastStall.After(dst.lastSuccess)
}

// admit lets the dial in, or makes it wait while the destination is not
// answering and limit dials are already in flight. It returns when a slot
// frees, the destination answers, its breaker (in breakers, under key) opens
// (ErrCircuitOpen), the deadline passes (expired) or ctx ends (its cause).
// A nil error must be paired with one call to leave. It also counts the dial
// for the retry budget.
func (dst *destination) admit(ctx context.Context, deadline time.Time, expired error, limit int, ttl time.Duration, breakers *breaker.Registry, key string) (waitedFrom time.Time, err error) {
	now := time.Now()
	dst.mu.Lock()
	dst.budget.roll(now)
	dst.budget.dials++
	in := dst.enterLocked(now, limit, ttl)
	dst.mu.Unlock()
	if in {
		return time.Time{}, nil
	}
	return now, dst.waitToEnter(ctx, deadline, expired, limit, ttl, breakers, key)
}

// enterLocked takes a slot if the dial may go now: within the limit, or
// past it while the destination is answering, and answering within its
// history.
func (dst *destination) enterLocked(now time.Time, limit int, ttl time.Duration) bool {
	if limit == 0 || dst.inFlight < limit || (dst.answeringLocked(now, ttl) && !dst.overdueLocked(now, ttl)) {
		if dst.inFlight == 0 {
			dst.busySince = now
		}
		dst.inFlight++
		dst.refileLocked()
		return true
	}
	return false
}

// overdueLocked reports whether the destination's dials in flight have had
// no answer for longer than its history predicts (its suspicion delay):
// the first sign that it stopped answering, seen before any attempt has
// run into its stall bound.
func (dst *destination) overdueLocked(now time.Time, ttl time.Duration) bool {
	if dst.inFlight == 0 || !dst.rtt.known(now, ttl) {
		return false
	}
	lossy := dst.lossyLocked(now, ttl)
	since := dst.busySince
	if dst.answeredAt.After(since) {
		since = dst.answeredAt
	}
	return now.Sub(since) > timingOf(&dst.rtt, lossy).delay
}

// waitToEnter is admission's slow path: the destination is not answering
// and its slots are taken.
func (dst *destination) waitToEnter(ctx context.Context, deadline time.Time, expired error, limit int, ttl time.Duration, breakers *breaker.Registry, key string) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		dst.mu.Lock()
		if dst.enterLocked(time.Now(), limit, ttl) {
			dst.mu.Unlock()
			return nil
		}
		if dst.wake == nil {
			dst.wake = make(chan struct{})
		}
		wake := dst.wake
		dst.mu.Unlock()
		// The breaker is read with no lock of ours held: reading it may move
		// it to half-open, and its hook wakes this destination's waiters
		// (taking dst.mu). It is read after taking wake, so an opening that
		// comes after the read closes wake and is seen on the next turn. A
		// half-open breaker whose probe is out refuses the dial too.
		if breakers != nil && breakers.Refuses(key) {
			return ErrCircuitOpen
		}
		select {
		case <-wake:
		case <-timer.C:
			return expired
		case <-ctx.Done():
			return ctxError(ctx)
		}
	}
}

// leave ends an admitted dial.
func (dst *destination) leave() {
	dst.mu.Lock()
	dst.inFlight--
	dst.wakeLocked()
	dst.refileLocked()
	dst.mu.Unlock()
}

// wakeUp wakes every admission waiter so it looks again (called when the
// destination's breaker changes state).
func (dst *destination) wakeUp() {
	dst.mu.Lock()
	dst.wakeLocked()
	dst.mu.Unlock()
}

func (dst *destination) wakeLocked() {
	if dst.wake != nil {
		close(dst.wake)
		dst.wake = nil
	}
}

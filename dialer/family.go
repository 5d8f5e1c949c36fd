package dialer

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Family memory: a host whose IPv6 is broken (a tunnel that black-holes,
// a router advertising a prefix it cannot route) stalls every IPv6 attempt
// at every destination while IPv4 connects. Each destination learns that
// alone, at the price of one attempt delay on its first dial; the family
// memory learns it for the process. When one family's attempts have been
// suspect or stalled, while the other family connected in the same dial,
// at brokenAfter distinct destinations within the memory's ttl, the
// family is broken: a destination with no winner of its own then waits
// for the other family's answer and races it first, so its first dial pays
// no attempt delay. A connection over the broken family, at any
// destination, mends it.
//
// While a family is broken, one dial per familyProbeEvery is let through
// in the usual order (RFC 8305 section 4): the probe. If the family works
// again it connects and mends itself; if not, that one dial pays one
// attempt delay. So the broken family is probed at most once per
// familyProbeEvery per process, on a dial that would have been made
// anyway, and no goroutine outlives a dial for it.
const (
	brokenAfter      = 2
	familyProbeEvery = 10 * time.Second
	// maxFamilyWitnesses bounds the destinations remembered as evidence.
	maxFamilyWitnesses = 16
)

// families is the family memory of a Dialer.
type families struct {
	// broken6 is set while IPv6 is broken (IPv4 is never held broken:
	// RFC 8305 prefers IPv6, so only its failure costs a delay on every
	// new destination). It is read on every dial without a lock.
	broken6 atomic.Bool
	// evidence is set while witnesses holds any: what a connection over
	// IPv6 must clear. Also read without a lock.
	evidence atomic.Bool

	mu        sync.Mutex
	witnesses map[string]time.Time // destinations where IPv6 failed beside IPv4
	probedAt  time.Time
	// local is set while this process's own witnesses hold IPv6 broken;
	// heldUntil is until when another process's verdict does (holdBroken).
	// broken6 is either.
	local     bool
	heldUntil time.Time
}

// failedBeside records that at destination key an IPv6 attempt was
// suspect or stalled while IPv4 connected. It reports whether that made
// this process's own verdict broken.
func (f *families) failedBeside(key string, now time.Time, ttl time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.witnesses == nil {
		f.witnesses = make(map[string]time.Time)
	}
	for k, at := range f.witnesses {
		if now.Sub(at) >= ttl {
			delete(f.witnesses, k)
		}
	}
	if len(f.witnesses) >= maxFamilyWitnesses {
		clear(f.witnesses)
	}
	f.witnesses[key] = now
	f.evidence.Store(true)
	if len(f.witnesses) < brokenAfter || f.local {
		return false
	}
	f.local = true
	if !f.broken6.Load() {
		f.broken6.Store(true)
		f.probedAt = now
	}
	return true
}

// worked records a connection over IPv6: the family is not broken, whoever
// held it so. It reports whether it was held broken.
func (f *families) worked(a netip.Addr) bool {
	if !a.Unmap().Is6() || !f.evidence.Load() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.witnesses)
	f.local, f.heldUntil = false, time.Time{}
	f.evidence.Store(false)
	return f.broken6.Swap(false)
}

// preferIPv4 reports whether a dial to a destination with no winner of its
// own should wait for IPv4 and race it first: IPv6 is broken and this dial
// is not the probe.
func (f *families) preferIPv4(now time.Time) bool {
	if !f.broken6.Load() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.local && !now.Before(f.heldUntil) {
		f.broken6.Store(false) // another process's verdict, expired
		return false
	}
	if now.Sub(f.probedAt) >= familyProbeEvery {
		f.probedAt = now
		return false // this dial is the probe
	}
	return true
}

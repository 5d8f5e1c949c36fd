package dialer

import (
	"net/netip"

	"github.com/dialguard/dialguard/breaker"
)

// ledger records one dial's outcomes into the breakers, following one rule
// set:
//
//   - A stall is charged at once, to its address and (once per round) to the
//     destination: it is expensive evidence, it parks a socket for the whole
//     attempt timeout, and a storm must trip the breaker while it is still
//     arriving.
//   - A refusal (any error the address answered with) is held until the
//     dial ends. If the dial connects to that address (or the destination)
//     after all, nothing is charged: a server that refuses for a moment
//     while it restarts is reached by the retries, not cut off by its own
//     refusals. If the dial fails, each refusing address and the
//     destination are charged one breaker.Refused: a cheap failure, which
//     trips a breaker only when nearly every outcome fails, so a flaky
//     destination that still serves some of its callers stays reachable.
//   - A connection is a success for its address and the destination. In a
//     TLS dial a connection is TCP and the handshake: a handshake that
//     stalls is a stall, and a TCP connect followed by a stalled handshake
//     is never counted as a success first.
//   - A rejected TLS handshake (certificate, protocol) is neutral for both:
//     it is a configuration problem, not an outage, and it ends the dial
//     without a retry (rejected).
//   - Cancellation by the caller, a deadline that cut an attempt short,
//     and losing a race are neutral. An attempt that lost after running
//     past its attempt delay (LostSlow: the incident's stalled ::1) was
//     suspect, never confirmed: the memory puts its address last for the
//     next dials, but no breaker is charged, so a lossy path whose SYNs are
//     sometimes lost is not cut off by the races it loses.
//
// Each breaker ticket (Allow) records exactly one outcome, so a ticket spent
// on a stall is taken again for the next round, and a retry whose breaker
// has opened meanwhile is not made. A ledger is used by one goroutine: the
// dial's.
type ledger struct {
	dests, addrs *breaker.Registry // nil when breakers are off
	key          string
	dst          *destination

	destDone    breaker.Ticket // the destination's ticket, if held (held: destHeld)
	destHeld    bool
	destRefused bool // a refusal awaits the dial's end
	roundStall  bool // this round already charged a stall (or holds one)
	destProbe   bool // the destination ticket is its half-open probe
	stallHeld   bool // a stall the probe's round will charge if it fails
	rejected    bool // a TLS handshake was rejected: the dial is not retried

	entries []addrEntry
	buf     [4]addrEntry
}

// addrEntry is one address's ticket and pending refusal within the dial.
type addrEntry struct {
	addr    netip.AddrPort
	key     string // addr as text: the breaker key, and what net.Dialer dials
	ticket  breaker.Ticket
	held    bool
	refused bool
}

func (l *ledger) init(dests, addrs *breaker.Registry, key string, dst *destination) {
	l.dests, l.addrs, l.key, l.dst = dests, addrs, key, dst
	l.entries = l.buf[:0]
}

// openDest takes a destination ticket if none is held. It fails with
// ErrCircuitOpen when the breaker is open or its half-open probe is out.
func (l *ledger) openDest() error {
	if l.dests == nil || l.destHeld {
		return nil
	}
	tk, err := l.dests.Allow(l.key)
	if err != nil {
		return ErrCircuitOpen
	}
	l.destDone, l.destHeld = tk, true
	l.destProbe = tk.Probe()
	return nil
}

// startRound resets the per-round state.
func (l *ledger) startRound() { l.roundStall, l.stallHeld = false, false }

// keyOf returns a as text, looked up once per dial (the destination caches
// it across dials).
func (l *ledger) keyOf(a netip.AddrPort) string {
	e := l.entry(a)
	if e.key == "" {
		e.key = l.dst.addrKey(a)
	}
	return e.key
}

// addrOpen reports whether a's breaker is open, without taking a ticket.
func (l *ledger) addrOpen(a netip.AddrPort) bool {
	return l.addrs != nil && l.addrs.State(l.keyOf(a)) == breaker.Open
}

// admitAddr takes (or reuses) a's ticket; false means a must be skipped.
func (l *ledger) admitAddr(a netip.AddrPort) bool {
	if l.addrs == nil {
		return true
	}
	e := l.entry(a)
	if e.held {
		return true
	}
	tk, err := l.addrs.Allow(l.keyOf(a))
	if err != nil {
		return false
	}
	e.ticket, e.held = tk, true
	return true
}

func (l *ledger) entry(a netip.AddrPort) *addrEntry {
	for i := range l.entries {
		if l.entries[i].addr == a {
			return &l.entries[i]
		}
	}
	l.entries = append(l.entries, addrEntry{addr: a})
	return &l.entries[len(l.entries)-1]
}

// attempted records one finished attempt.
func (l *ledger) attempted(r *attemptResult) {
	if r.outcome == Rejected {
		l.rejected = true // its tickets are settled neutral by finish
	}
	if l.addrs == nil && l.dests == nil {
		return
	}
	e := l.entry(r.addr)
	switch r.outcome {
	case Connected:
		e.spend(breaker.Success)
		e.refused = false
	case Stalled:
		e.spend(breaker.Failure)
		if !l.roundStall && l.destHeld {
			l.roundStall = true
			if l.destProbe {
				// The probe decides the breaker: one stalled address must
				// not reopen it while a sibling may still connect.
				l.stallHeld = true
			} else {
				l.spendDest(breaker.Failure)
			}
		}
	case Failed:
		e.refused = true
		l.destRefused = true
	}
}

func (e *addrEntry) spend(o breaker.Outcome) {
	if e.held {
		e.ticket.Done(o)
		e.ticket, e.held = breaker.Ticket{}, false
	}
}

func (l *ledger) spendDest(o breaker.Outcome) {
	if l.destHeld {
		l.destDone.Done(o)
		l.destDone, l.destHeld = breaker.Ticket{}, false
	}
}

// roundFailed charges the stall a probe's round held back, now that no
// address of the round connected.
func (l *ledger) roundFailed() {
	if l.stallHeld {
		l.stallHeld = false
		l.spendDest(breaker.Failure)
	}
}

// finish settles every ticket still held when the dial ends.
func (l *ledger) finish(connected bool) {
	for i := range l.entries {
		e := &l.entries[i]
		if e.refused && !connected {
			e.spend(breaker.Refused)
		} else {
			e.spend(breaker.Neutral)
		}
	}
	switch {
	case connected:
		l.spendDest(breaker.Success)
	case l.destRefused:
		l.spendDest(breaker.Refused)
	default:
		l.spendDest(breaker.Neutral)
	}
}

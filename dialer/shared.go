package dialer

import (
	"context"
	"errors"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// SharedState is what a Dialer shares with other processes dialling the
// same destinations: what their breakers learn. The Dialer's own state
// stays authoritative and its dials never wait for the shared state: the
// SharedState learns through its Hooks, tells the Dialer what others
// learnt through HoldDestination, ReleaseDestination and ChargeStall, and
// is asked, by MayProbe, only when a destination's breaker would send its
// half-open probe. Package github.com/dialguard/dialguard/fleet is one,
// on Redis.
type SharedState interface {
	// Attach is called once by New, with the Dialer it is about to
	// return, set up; an error fails New.
	Attach(d *Dialer) error

	// Hooks are added to the Dialer's, after those of WithHooks given
	// before WithSharedState. They must not block (see Hooks).
	Hooks() Hooks

	// MayProbe is asked when destination's half-open breaker would let
	// a dial through as its probe: true lets it, false fails it with
	// ErrCircuitOpen (another process probes). It is never asked for a
	// closed or an open breaker. It runs on the dial's path: it must
	// return within a few milliseconds, and say true when it cannot tell.
	MayProbe(destination string) bool
}

// WithSharedState connects the Dialer to state shared with other
// processes (see SharedState). It needs breakers (not WithoutBreaker) and
// may be given once. A nil s is an error.
func WithSharedState(s SharedState) Option {
	return func(c *config) error {
		if s == nil {
			return optionError("WithSharedState", "nil SharedState")
		}
		if c.shared != nil {
			return optionError("WithSharedState", "given twice")
		}
		c.shared = s
		if h := s.Hooks(); !h.empty() {
			c.hooks = append(c.hooks[:len(c.hooks):len(c.hooks)], h)
		}
		return nil
	}
}

var errSharedNoBreakers = errors.New("dialguard: WithSharedState: breakers are off (WithoutBreaker)")

// attachShared wires the shared state, if any, into the built Dialer: the
// destination breakers ask it before probing (newRegistry), and it is
// handed the Dialer.
func (d *Dialer) attachShared() error {
	if d.cfg.shared == nil {
		return nil
	}
	if d.destBreakers == nil {
		return errSharedNoBreakers
	}
	return d.cfg.shared.Attach(d)
}

// probeGate is the destination registry's ProbeGate: the user's, if
// WithBreaker gave one, and the shared state's.
func (d *Dialer) probeGate(user func(string) bool) func(string) bool {
	shared := d.cfg.shared
	if shared == nil {
		return user
	}
	return func(key string) bool {
		return (user == nil || user(key)) && shared.MayProbe(key)
	}
}

// destinationKey is destination as the Dialer keys it (see
// DestinationState).
func (d *Dialer) destinationKey(destination string) string {
	if t, err := parseTarget("tcp", destination); err == nil && d.resolveService(context.Background(), &t, time.Now()) == nil {
		return t.key
	}
	return destination
}

// HoldDestination opens destination's breaker until until, as another
// process saw it trip: dials to it fail fast with ErrCircuitOpen until
// then, and afterwards one is its probe. A breaker open until later stays
// so. It does nothing when breakers are off or until has passed.
func (d *Dialer) HoldDestination(destination string, until time.Time) {
	d.init()
	if d.destBreakers != nil {
		d.destBreakers.Hold(d.destinationKey(destination), until)
	}
}

// ReleaseDestination closes destination's breaker if it is open or
// half-open, as another process's probe found it answering. It does
// nothing when breakers are off or the Dialer holds no breaker for it.
func (d *Dialer) ReleaseDestination(destination string) {
	d.init()
	if d.destBreakers != nil {
		d.destBreakers.Release(d.destinationKey(destination))
	}
}

// ChargeStall counts a stall that another process confirmed at
// destination against its breaker here, as a stall of this Dialer's
// counts (see breaker.Registry.Charge): enough of them, from anywhere, in
// a row, open it. It does nothing when breakers are off or the breaker is
// not closed.
func (d *Dialer) ChargeStall(destination string) {
	d.init()
	if d.destBreakers != nil {
		d.destBreakers.Charge(d.destinationKey(destination), breaker.Failure)
	}
}

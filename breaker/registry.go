package breaker

import (
	"github.com/dialguard/dialguard/internal/tierlru"
)

// Registry is a bounded set of circuit breakers keyed by string, created on
// first use. It is safe for concurrent use. Create one with [NewRegistry].
//
// When the bound is reached, an idle closed breaker (no failure since its
// last success, no request in flight) is forgotten first, then one with
// requests in flight, then a closed one with failures, and an open or
// half-open one only when every breaker kept is open or half-open: traffic
// to many fresh keys must not make the registry forget the breaker that is
// cutting a dead key off, nor one whose requests are about to trip it.
type Registry struct {
	s     Settings
	cache *tierlru.Cache[string, *entry]
}

// The tiers of the registry's cache, evicted lowest first.
const (
	tierHealthy = iota // closed, no failure since its last success, idle
	tierBusy           // closed, no failure, requests in flight
	tierFailing        // closed, with failures since its last success
	tierTripped        // open or half-open
	tiers
)

// NewRegistry returns an empty Registry configured by s, with the defaults
// of [Settings] applied. It returns the error of s.Validate if s is invalid.
func NewRegistry(s Settings) (*Registry, error) {
	eff, err := s.effective()
	if err != nil {
		return nil, err
	}
	cache, err := tierlru.New[string, *entry](eff.MaxBreakers, tiers)
	if err != nil {
		return nil, err
	}
	return &Registry{s: eff, cache: cache}, nil
}

// Allow asks key's breaker whether a request may go ahead, creating a
// closed breaker for a key it has not seen (or has evicted). If the breaker
// is open, or half-open with its probe already in flight, Allow returns
// [ErrOpen] and the zero Ticket. Otherwise the caller must call the
// ticket's Done exactly once with the request's outcome; an outcome reported
// after the breaker has changed state since Allow is ignored. A ticket whose Done
// is never called leaves a half-open breaker waiting for its probe, so no
// other request for the key is let through.
//
// Allow marks key as recently used.
func (r *Registry) Allow(key string) (Ticket, error) {
	// The request is counted in flight as the breaker is looked up, in one
	// step with filing it under the tier that calls for.
	e, ok := r.cache.Use(key, (*entry).enter)
	if !ok {
		e = r.cache.UseOrAdd(key, newEntry(key, r), (*entry).enter)
	}
	t, err := e.allow()
	if err != nil {
		e.leave()
	}
	return t, err
}

// retier files e under the tier its state calls for, if e is still the
// registry's breaker for its key.
func (r *Registry) retier(e *entry) { r.cache.SetTier(e.key, e, (*entry).tier) }

// State returns the state of key's breaker, [Closed] if the registry has no
// breaker for key. It creates no breaker and does not mark key as recently
// used.
func (r *Registry) State(key string) State {
	e, ok := r.cache.Peek(key)
	if !ok {
		return Closed
	}
	return e.state()
}

// Refuses reports whether Allow would refuse key now with [ErrOpen]: its
// breaker is open, or half-open with its probe out. Like State it creates
// no breaker, takes no ticket and does not mark key as recently used, and
// it moves an open breaker whose open time is over to half-open. A caller
// that would only be refused can fail here, before doing anything else
// for the key: while a probe is out, every other request for the key is
// refused, and refusing it cheaply keeps a crowd of callers from starving
// the probe.
func (r *Registry) Refuses(key string) bool {
	e, ok := r.cache.Peek(key)
	return ok && e.refuses()
}

// Snapshot returns the state and counts of key's breaker, and false if the
// registry has no breaker for key. It creates no breaker and does not mark
// key as recently used.
func (r *Registry) Snapshot(key string) (Snapshot, bool) {
	e, ok := r.cache.Peek(key)
	if !ok {
		return Snapshot{Key: key}, false
	}
	return e.snapshot(), true
}

// Len returns the number of breakers in the registry, at most
// Settings().MaxBreakers.
func (r *Registry) Len() int { return r.cache.Len() }

// Settings returns the settings in effect, with defaults applied.
func (r *Registry) Settings() Settings { return r.s }

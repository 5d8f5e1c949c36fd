package breaker

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// Registry is a bounded set of circuit breakers keyed by string, created on
// first use. It is safe for concurrent use. Create one with [NewRegistry].
type Registry struct {
	s     Settings
	cache *lru.Cache[string, *entry]
}

// NewRegistry returns an empty Registry configured by s, with the defaults
// of [Settings] applied. It returns the error of s.Validate if s is invalid.
func NewRegistry(s Settings) (*Registry, error) {
	eff, err := s.effective()
	if err != nil {
		return nil, err
	}
	cache, err := lru.New[string, *entry](eff.MaxBreakers)
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
	e, ok := r.cache.Get(key)
	if !ok {
		e = r.create(key)
	}
	return e.allow()
}

// create adds a breaker for key, or returns the one another goroutine added
// first.
func (r *Registry) create(key string) *entry {
	e := newEntry(key, r)
	if prev, ok, _ := r.cache.PeekOrAdd(key, e); ok {
		return prev
	}
	return e
}

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

package tierlru

import (
	"errors"
	"sync"
)

// Cache is a bounded set of entries keyed by K, each in one of a fixed
// number of tiers, each tier a list in order of use. It holds at most
// size entries in all; adding one more evicts the least recently used
// entry of the lowest non-empty tier. It is safe for concurrent use.
//
// Values are compared (==) so that SetTier moves only the entry it was
// asked about, not one that replaced it after an eviction. Moving an
// entry between tiers allocates nothing: a breaker that fails and
// recovers on every request is on the dial path.
type Cache[K comparable, V comparable] struct {
	mu    sync.Mutex
	size  int
	items map[K]*node[K, V]
	tiers []node[K, V] // sentinels of circular lists, most recent first
}

type node[K comparable, V comparable] struct {
	key        K
	value      V
	tier       int
	prev, next *node[K, V]
}

// New returns an empty Cache of at most size entries in tiers tiers. Both
// must be positive.
func New[K comparable, V comparable](size, tiers int) (*Cache[K, V], error) {
	if size <= 0 {
		return nil, errors.New("tierlru: size must be positive")
	}
	if tiers <= 0 {
		return nil, errors.New("tierlru: tiers must be positive")
	}
	c := &Cache[K, V]{size: size, items: make(map[K]*node[K, V]), tiers: make([]node[K, V], tiers)}
	for i := range c.tiers {
		s := &c.tiers[i]
		s.prev, s.next = s, s
	}
	return c, nil
}

func (c *Cache[K, V]) unlink(n *node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

// pushFront puts n at the front (most recent) of tier.
func (c *Cache[K, V]) pushFront(n *node[K, V], tier int) {
	s := &c.tiers[tier]
	n.tier = tier
	n.prev, n.next = s, s.next
	s.next.prev = n
	s.next = n
}

// Get returns key's value and marks it recently used within its tier.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(key)
}

func (c *Cache[K, V]) getLocked(key K) (V, bool) {
	n, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	if c.tiers[n.tier].next != n {
		c.unlink(n)
		c.pushFront(n, n.tier)
	}
	return n.value, true
}

// Peek returns key's value without marking it recently used.
func (c *Cache[K, V]) Peek(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.items[key]; ok {
		return n.value, true
	}
	var zero V
	return zero, false
}

// GetOrAdd returns key's value, marking it recently used, and true if key
// is present; otherwise it adds value in the lowest tier, evicting an
// entry if the cache is full, and returns value and false.
func (c *Cache[K, V]) GetOrAdd(key K, value V) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.getLocked(key); ok {
		return v, true
	}
	c.addLocked(key, value)
	return value, false
}

// Use returns key's value, if present, after filing it as the most
// recently used entry of the tier tier returns for it. tier is called with
// the cache's lock held (see SetTier); it may update the value's own
// state, so that a use and the tier it calls for are one step.
func (c *Cache[K, V]) Use(key K, tier func(V) int) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.fileLocked(n, tier(n.value))
	return n.value, true
}

// UseOrAdd is Use, adding value first if key is absent (evicting an entry
// if the cache is full). It returns the value used: the one present, or
// value.
func (c *Cache[K, V]) UseOrAdd(key K, value V, tier func(V) int) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.items[key]
	if !ok {
		n = c.addLocked(key, value)
	}
	c.fileLocked(n, tier(n.value))
	return n.value
}

func (c *Cache[K, V]) addLocked(key K, value V) *node[K, V] {
	if len(c.items) >= c.size {
		c.evictLocked()
	}
	n := &node[K, V]{key: key, value: value}
	c.items[key] = n
	c.pushFront(n, 0)
	return n
}

// fileLocked makes n the most recently used entry of tier (clamped to the
// tiers there are).
func (c *Cache[K, V]) fileLocked(n *node[K, V], tier int) {
	tier = min(max(tier, 0), len(c.tiers)-1)
	if n.tier == tier && c.tiers[tier].next == n {
		return
	}
	c.unlink(n)
	c.pushFront(n, tier)
}

// evictLocked removes the least recently used entry of the lowest
// non-empty tier.
func (c *Cache[K, V]) evictLocked() {
	for i := range c.tiers {
		s := &c.tiers[i]
		if oldest := s.prev; oldest != s {
			c.unlink(oldest)
			delete(c.items, oldest.key)
			return
		}
	}
}

// SetTier moves key to the tier tier returns for its value (clamped to
// the tiers there are), as its most recently used entry, if key is present
// with value: an entry evicted and added again since the caller looked it
// up is left alone. An entry already in that tier keeps its place. tier is
// called with the cache's lock held, so that concurrent moves of one entry
// are applied in order, each reading the entry's state afresh: it must be
// quick and must not call the cache.
func (c *Cache[K, V]) SetTier(key K, value V, tier func(V) int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.items[key]
	if !ok || n.value != value {
		return
	}
	to := min(max(tier(n.value), 0), len(c.tiers)-1)
	if to == n.tier {
		return
	}
	c.unlink(n)
	c.pushFront(n, to)
}

// Len returns the number of entries, at most the size given to New.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// TierLen returns the number of entries in tier.
func (c *Cache[K, V]) TierLen(tier int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tier < 0 || tier >= len(c.tiers) {
		return 0
	}
	n := 0
	for s, e := &c.tiers[tier], c.tiers[tier].next; e != s; e = e.next {
		n++
	}
	return n
}

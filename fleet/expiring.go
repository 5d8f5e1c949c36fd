package fleet

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxExpiring is how many entries an expiring map holds before a store
// sweeps out those whose time has passed.
const maxExpiring = 10000

// expiring is a map from destination to a time after which its entry no
// longer counts, bounded: a store that finds it over maxExpiring entries
// removes the expired ones first. It holds the probe denials and leases
// of the destinations the fleet has seen fail, which a long-lived process
// would otherwise keep for every destination it ever heard of.
type expiring struct {
	m sync.Map // string -> time.Time
	n atomic.Int64
}

// live reports whether key's entry exists and its time has not passed.
func (e *expiring) live(key string, now time.Time) bool {
	v, ok := e.m.Load(key)
	return ok && now.Before(v.(time.Time))
}

func (e *expiring) store(key string, until time.Time) {
	if _, loaded := e.m.Swap(key, until); !loaded && e.n.Add(1) > maxExpiring {
		e.sweep(time.Now())
	}
}

// take removes key's entry, reporting whether it was live.
func (e *expiring) take(key string, now time.Time) bool {
	v, ok := e.m.LoadAndDelete(key)
	if ok {
		e.n.Add(-1)
	}
	return ok && now.Before(v.(time.Time))
}

func (e *expiring) sweep(now time.Time) {
	e.m.Range(func(k, v any) bool {
		if !now.Before(v.(time.Time)) {
			if _, ok := e.m.LoadAndDelete(k); ok {
				e.n.Add(-1)
			}
		}
		return true
	})
}

package fleet

import (
	"strconv"
	"testing"
	"time"
)

// The maps of denials and leases stay bounded: past maxExpiring entries a
// store sweeps out the expired ones, and live entries are kept.
func TestExpiringStaysBounded(t *testing.T) {
	var e expiring
	now := time.Now()
	for i := range 3 * maxExpiring {
		e.store("gone"+strconv.Itoa(i), now.Add(-time.Second))
	}
	e.store("live", now.Add(time.Hour))
	if n := e.n.Load(); n > maxExpiring+1 {
		t.Fatalf("%d entries after %d expired stores, want at most %d", n, 3*maxExpiring, maxExpiring+1)
	}
	if !e.live("live", now) || e.live("gone1", now) {
		t.Fatal("a live entry was lost, or an expired one counts")
	}
	if !e.take("live", now) || e.live("live", now) {
		t.Fatal("take did not remove the live entry")
	}
}

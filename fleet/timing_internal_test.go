package fleet

import (
	"strconv"
	"testing"
	"time"
)

// TestTimingIsDueOnMaterialChange: the first estimate is due at once;
// afterwards only a move of more than a quarter, and no sooner than the
// interval; an estimate taken from the fleet counts as shared.
func TestTimingIsDueOnMaterialChange(t *testing.T) {
	var tm timings
	t0 := time.Unix(1_800_000_000, 0)
	const iv = time.Minute
	ms := time.Millisecond
	for i, c := range []struct {
		srtt time.Duration
		at   time.Duration
		want bool
	}{
		{20 * ms, 0, true},                   // first estimate
		{21 * ms, time.Second, false},        // steady
		{30 * ms, time.Second, false},        // moved by half, within the interval
		{24 * ms, 2 * iv, false},             // a fifth: not material
		{30 * ms, 2 * iv, true},              // a half, past the interval
		{10 * ms, 2*iv + time.Second, false}, // material again, but just sent
		{10 * ms, 3*iv + time.Second, true},
	} {
		if got := tm.due("d:1", c.srtt, t0.Add(c.at), iv); got != c.want {
			t.Errorf("step %d: due(%v at +%v) = %v, want %v", i, c.srtt, c.at, got, c.want)
		}
	}
	tm.heard("d:1", t0.Add(4*iv))
	if tm.due("d:1", 30*ms, t0.Add(4*iv+time.Second), iv) {
		t.Error("due just after another process published the destination's estimate")
	}
	if !tm.due("d:1", 30*ms, t0.Add(5*iv), iv) {
		t.Error("not due an interval after another process published")
	}
	tm.took("e:1", 50*ms, t0)
	if tm.due("e:1", 55*ms, t0.Add(time.Second), iv) {
		t.Error("an estimate near the one taken from the fleet was due: an echo")
	}
	tm.took("d:1", 500*ms, t0.Add(6*iv))
	if tm.due("d:1", 31*ms, t0.Add(7*iv), iv) {
		t.Error("taking the fleet's estimate replaced this process's own shared one")
	}
}

// TestTimingsStayBounded: a fleet's worth of estimates fits in bounded
// memory, both those shared and those pending.
func TestTimingsStayBounded(t *testing.T) {
	var tm timings
	now := time.Now()
	for i := range 3 * maxTimings {
		d := "h" + strconv.Itoa(i) + ":1"
		tm.due(d, time.Millisecond, now, time.Minute)
		tm.offer(d, seed{srtt: time.Millisecond, until: now.Add(time.Minute)}, now)
	}
	if n := len(tm.shared); n > maxTimings {
		t.Errorf("%d shared estimates kept, want at most %d", n, maxTimings)
	}
	if n := tm.nPending.Load(); n > maxTimings {
		t.Errorf("%d pending seeds kept, want at most %d", n, maxTimings)
	}
	if _, ok := tm.take("h"+strconv.Itoa(3*maxTimings-1)+":1", now); !ok {
		t.Error("the last seed offered is not kept")
	}
	if _, ok := tm.take("nowhere:1", now); ok {
		t.Error("a seed taken for a destination never offered")
	}
}

// TestPendingSeedExpires: a seed no dial took within its ttl is not used.
func TestPendingSeedExpires(t *testing.T) {
	var tm timings
	now := time.Now()
	tm.offer("d:1", seed{srtt: time.Millisecond, until: now.Add(time.Second)}, now)
	if _, ok := tm.take("d:1", now.Add(time.Second)); ok {
		t.Error("expired seed taken")
	}
	if tm.nPending.Load() != 0 {
		t.Error("expired seed still counted")
	}
}

package dialer

import "time"

// retryBudget limits the retries made toward one destination to a fraction
// of its recent dials plus a small floor, so that a dead destination under
// load sees at most about 1+ratio attempts per dial rather than 1+MaxRetries
// (and its breaker soon fails the dials at once). It
// counts in two consecutive windows of RetryBudgetWindow (the current one
// and the one before), so "recent" means the last 10 to 20 seconds. Guarded
// by the destination's mutex.
type retryBudget struct {
	windowStart       time.Time
	dials, retries    int // current window
	prevDials, prevRe int // previous window
}

// roll moves the windows forward to now.
func (b *retryBudget) roll(now time.Time) {
	switch age := now.Sub(b.windowStart); {
	case age < RetryBudgetWindow:
		return
	case age < 2*RetryBudgetWindow:
		b.prevDials, b.prevRe = b.dials, b.retries
	default:
		b.prevDials, b.prevRe = 0, 0
	}
	b.dials, b.retries = 0, 0
	b.windowStart = now
}

// spendRetry takes one retry from the budget, reporting false when the
// budget is spent.
func (dst *destination) spendRetry(now time.Time, ratio float64, floor int) bool {
	dst.mu.Lock()
	defer dst.mu.Unlock()
	b := &dst.budget
	b.roll(now)
	allowed := ratio*float64(b.dials+b.prevDials) + float64(floor)
	if float64(b.retries+b.prevRe) >= allowed {
		return false
	}
	b.retries++
	return true
}

package dialer

import "time"

// NoteIPv6Broken holds IPv6 broken for the Dialer until until, as another
// process of the fleet found it (see FamilyChange): destinations with no
// winner of their own race IPv4 first, and one dial per 10 s probes IPv6,
// as when the Dialer's own dials found it broken. A connection over IPv6
// ends it at once. A later until extends it; one beyond the memory's ttl
// (WithStallMemory) from now is cut to it, and one that has passed does
// nothing.
func (d *Dialer) NoteIPv6Broken(until time.Time) {
	d.init()
	now := time.Now()
	if limit := now.Add(d.cfg.memoryTTL); until.After(limit) {
		until = limit
	}
	if !until.After(now) {
		return
	}
	d.families.holdBroken(until, now)
}

// NoteIPv6Working ends a verdict given by NoteIPv6Broken, as another
// process found IPv6 working again. Evidence of the Dialer's own dials
// stays: only a connection over IPv6 here ends that.
func (d *Dialer) NoteIPv6Working() {
	d.init()
	d.families.releaseHeld()
}

// IPv6Broken reports whether the Dialer holds IPv6 broken now, by its own
// dials' evidence or by NoteIPv6Broken's.
func (d *Dialer) IPv6Broken() bool {
	d.init()
	return d.families.brokenNow(time.Now())
}

// holdBroken records another process's verdict, until until.
func (f *families) holdBroken(until, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if until.After(f.heldUntil) {
		f.heldUntil = until
	}
	// A connection over IPv6 must clear it, as it clears local evidence.
	f.evidence.Store(true)
	if !f.broken6.Load() {
		f.broken6.Store(true)
		// The first probe comes a probe period from now, as after a
		// local verdict.
		f.probedAt = now
	}
}

// releaseHeld ends another process's verdict.
func (f *families) releaseHeld() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heldUntil = time.Time{}
	if !f.local {
		f.broken6.Store(false)
	}
}

// brokenNow reports whether IPv6 is held broken at now.
func (f *families) brokenNow(now time.Time) bool {
	if !f.broken6.Load() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.local || now.Before(f.heldUntil)
}

// familyChanged hands a change of the Dialer's own verdict on IPv6 to every
// FamilyChange hook.
func (d *Dialer) familyChanged(broken bool) {
	if len(d.cfg.hooks) == 0 {
		return
	}
	info := FamilyChange{IPv6Broken: broken, At: time.Now()}
	for i := range d.cfg.hooks {
		if fn := d.cfg.hooks[i].FamilyChange; fn != nil {
			fn(info)
		}
	}
}

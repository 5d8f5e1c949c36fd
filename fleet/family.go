package fleet

import (
	"time"

	"github.com/dialguard/dialguard/dialer"
)

// Family health shared.
//
// When this process's own dials find IPv6 broken (dialer.FamilyChange),
// it publishes a verdict lasting WithFamilyTTL and stores it in a key of
// that ttl, which a process starting reads; the others hold IPv6 broken
// until then (Dialer.NoteIPv6Broken), probing it as their own verdict
// would. While its verdict stands, a process publishes it again each half
// ttl unless it heard one from the fleet in that time: about one message
// per half ttl for the whole fleet, not one per broken process. When its
// IPv6 connects again it publishes that, deletes the key, and the others
// end the verdict at once (Dialer.NoteIPv6Working); their own evidence,
// if any, they keep.

// familyChanged is the Share's FamilyChange hook.
func (s *Share) familyChanged(c dialer.FamilyChange) {
	s.localBroken.Store(c.IPv6Broken)
	m := message{kind: v6mended, from: s.cfg.id, dest: familyDest}
	if c.IPv6Broken {
		m.kind, m.until = v6broken, c.At.Add(s.cfg.familyTTL)
	}
	s.enqueue(event{message: m})
}

// familyRefresh returns the verdict to publish again at now, if this
// process holds IPv6 broken by its own evidence and the fleet has heard
// no verdict for half a ttl.
func (s *Share) familyRefresh(now time.Time) (message, bool) {
	if !s.localBroken.Load() || now.Sub(time.Unix(0, s.brokenHeard.Load())) < s.cfg.familyTTL/2 {
		return message{}, false
	}
	return message{kind: v6broken, from: s.cfg.id, dest: familyDest, until: now.Add(s.cfg.familyTTL)}, true
}

// heardBroken records that a verdict was sent or received at now.
func (s *Share) heardBroken(now time.Time) { s.brokenHeard.Store(now.UnixNano()) }

// Package fleet shares what dialguard Dialers learn about their
// destinations across processes, through Redis: what one process learns,
// the fleet knows.
//
// Alone, each process of a fleet pays the stalls its breaker needs before
// it fails fast, a process that starts knows nothing, and when the
// destination comes back every process probes it at once. A [Share],
// plugged into a Dialer with [Share.Option], publishes what its Dialer
// confirms (a destination's breaker opening, with its open time; its
// closing after a probe connected; each stalled handshake) and applies
// what the others publish: their openings hold its breaker open until the
// same time, their closings close it, their stalls count toward it, so the
// fleet trips after a few stalls in all. A process reads the destinations
// open now when it starts, so its first dial to one fails fast. When an
// open time ends, one process per destination wins a lease and probes for
// the fleet; the others keep failing fast until its probe closes them all.
//
// It shares two more things a process would otherwise learn alone. A
// destination's round-trip estimate is published when a process first
// learns it and when it moves by more than a quarter (at most once per
// WithTimingInterval for the fleet), and seeds the first dial of the
// processes that have none (dialer.Dialer.SeedTiming), which is then timed
// by the path's history rather than by its address's class. A process
// whose dials find IPv6 broken says so, for WithFamilyTTL, restated while
// it stands; the others race IPv4 first on fresh destinations until then
// (dialer.Dialer.NoteIPv6Broken) or until its IPv6 connects again.
//
// The Dialer's own state stays authoritative and its dials never wait on
// Redis: healthy dials make no Redis command at all; messages go through a
// bounded queue that a goroutine of the Share drains (dropping when full);
// the one command a dial may wait for, the half-open probe's lease, is
// given WithProbeTimeout (25 ms), after which the process probes alone.
// Redis down, slow or partitioned leaves every process dialling exactly as
// without sharing; the link is retried with backoff, logged once per
// change, and on its return the open set is read again. Everything the
// Share stores has a time limit: the open set (a sorted set, by open time)
// expires a second after its last entry, probe leases after
// WithProbeLease.
//
// A process is only as current as its link: messages published while it
// was cut off are not replayed (the open set is), and it learns of a
// closing it missed by probing itself when its hold ends.
//
// Give the Share a go-redis client with ContextTimeoutEnabled set, so
// that its commands end at WithCommandTimeout and Close returns promptly
// when Redis does not answer; without it they end at the client's read
// and write timeouts.
//
// The README of this directory gives measured figures, and what a fleet
// of 1,000 processes and 100,000 destinations would send.
package fleet

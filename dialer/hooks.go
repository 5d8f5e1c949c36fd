package dialer

import (
	"context"
	"net/netip"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

// Hooks are functions a Dialer calls as its TCP dials (tcp, tcp4, tcp6,
// plain or TLS) progress: how tracers, metrics and shared state see what it
// does. Register them with WithHooks. Every field may be nil.
//
// The dial's hooks are called from the dialing goroutine, in order: one
// DialStart, then Resolved, Admission, Attempt and Retry as they happen,
// then one DialDone before DialContext returns. They must not block: a
// hook that waits holds the caller. BreakerChange is called from whichever
// goroutine moved the breaker, which may be another caller's.
//
// A Dialer with no hooks, and no Report asked for through the context
// (ContextWithReport), does none of this work.
type Hooks struct {
	// DialStart is called as a dial begins, once its address is valid.
	// The context it returns is the one the dial and its other hooks
	// carry (a tracer puts its span there); it must be ctx or derived
	// from it. A nil return means ctx.
	DialStart func(ctx context.Context, info DialStartInfo) context.Context

	// DialDone is called once for every dial DialStart saw, with how it
	// ended.
	DialDone func(ctx context.Context, info DialDoneInfo)

	// Resolved is called for every answer of the resolver the dial used:
	// one per family when the families are asked apart, one for both
	// when they are asked at once (Network "ip").
	Resolved func(ctx context.Context, info ResolveInfo)

	// Admission is called when the dial had to wait to be let through to
	// a destination that is not answering (see WithAdmissionLimit), with
	// how long it waited; not called when it went at once.
	Admission func(ctx context.Context, info AdmissionInfo)

	// Attempt is called for every finished or skipped connection attempt,
	// as WithAttemptObserver's function is.
	Attempt func(ctx context.Context, info AttemptInfo)

	// Retry is called when a failed round is retried, before the wait.
	Retry func(ctx context.Context, info RetryInfo)

	// BreakerChange is called whenever a destination's or an address's
	// circuit breaker changes state.
	BreakerChange func(info BreakerChange)

	// FamilyChange is called when what the Dialer's own dials show of
	// IPv6 changes: it is held broken, or a connection over it mends it
	// (see NoteIPv6Broken). It is called from the dialing goroutine that
	// saw it; a verdict given by NoteIPv6Broken, or its expiry, calls it
	// not.
	FamilyChange func(info FamilyChange)
}

// DialStartInfo describes a dial that begins.
type DialStartInfo struct {
	// Network is "tcp", "tcp4" or "tcp6"; Destination the host:port asked
	// for (a service name resolved to its number).
	Network, Destination string
	// TLS is set for DialTLSContext.
	TLS bool
	// Start is when the dial began.
	Start time.Time
}

// DialDoneInfo describes a dial that ended.
type DialDoneInfo struct {
	Network, Destination string
	TLS                  bool
	Start                time.Time
	// Elapsed is how long the dial took, admission, resolution and
	// retries included.
	Elapsed time.Duration
	// Winner is the address connected to; zero when the dial failed.
	Winner netip.AddrPort
	// Tries counts the rounds made (1 without retries; 0 when the dial
	// failed before its first round, at an open breaker or in admission).
	Tries int
	// FailedFast is set when the destination's breaker was open as the
	// dial began: it failed with ErrCircuitOpen and nothing was tried.
	FailedFast bool
	// Probe is set when the dial was its destination's half-open probe.
	Probe bool
	// RTT is the destination's smoothed round-trip estimate after the
	// dial (see Timing); zero until it has one.
	RTT time.Duration
	// Err is the error DialContext returns, nil on success.
	Err error
}

// ResolveInfo describes one answer of the resolver.
type ResolveInfo struct {
	Destination string
	// Network is what was asked: "ip6" (AAAA), "ip4" (A), or "ip" (both
	// at once).
	Network string
	// Start is when the lookup began; Elapsed how long its answer took.
	Start   time.Time
	Elapsed time.Duration
	// Addrs is the answer (not to be kept or changed); Err its error.
	Addrs []netip.Addr
	Err   error
}

// AdmissionInfo describes a dial that waited for admission.
type AdmissionInfo struct {
	Destination string
	// Waited is how long the dial waited.
	Waited time.Duration
	// Err is why it was not let through (ErrCircuitOpen, the deadline,
	// the caller's cancellation); nil when it was.
	Err error
}

// RetryInfo describes a retry decided after a failed round.
type RetryInfo struct {
	Destination string
	// Try is the round about to start: 2 for the first retry.
	Try int
	// Wait is the backoff before it.
	Wait time.Duration
	// Cause is the failure of the round before.
	Cause error
}

// BreakerChange describes a circuit breaker that changed state.
type BreakerChange struct {
	// Kind is "destination" (keyed by host:port as asked) or "address"
	// (keyed by ip:port).
	Kind string
	Key  string
	From breaker.State
	To   breaker.State
	// At is when the change was seen.
	At time.Time
}

// WithHooks adds hooks to the Dialer. It may be given several times (a
// tracer and a metrics exporter, say): each set is called in the order
// given. A Hooks with no function set is an error.
func WithHooks(h Hooks) Option {
	return func(c *config) error {
		if h.empty() {
			return optionError("WithHooks", "no hook set")
		}
		c.hooks = append(c.hooks[:len(c.hooks):len(c.hooks)], h)
		return nil
	}
}

// empty reports whether no hook is set.
func (h *Hooks) empty() bool {
	return h.DialStart == nil && h.DialDone == nil && h.Resolved == nil && h.Admission == nil &&
		h.Attempt == nil && h.Retry == nil && h.BreakerChange == nil && h.FamilyChange == nil
}

// FamilyChange describes a change of the Dialer's verdict on IPv6 (the
// only family it holds broken: RFC 8305 prefers it, so only its failure
// costs every new destination an attempt delay).
type FamilyChange struct {
	// IPv6Broken is the verdict: IPv6 attempts stalled while IPv4
	// connected at two destinations (true), or one connected over IPv6
	// while it was held broken (false).
	IPv6Broken bool
	// At is when the change was seen.
	At time.Time
}

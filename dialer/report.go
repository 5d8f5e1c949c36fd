package dialer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Report is the story of one dial: how long each family took to resolve,
// every attempt (address, when it started, how it ended, how long it
// took), the winner, the retries, and what the breakers and admission
// decided. Ask for one through the dial's context with ContextWithReport;
// the Dialer fills it before DialContext returns. A dial whose context
// asks for no report does none of this work.
//
// A Report belongs to one dial at a time: dials that share a context that
// asks for a report must not run at once. A second dial with the same
// context starts the report afresh.
type Report struct {
	// DialDoneInfo is how the dial ended, as the DialDone hook sees it:
	// the network and destination, start, elapsed time, winner, rounds,
	// whether it failed fast or was the probe, the rtt estimate, the error.
	DialDoneInfo

	// Resolutions are the resolver's answers, in the order they came.
	Resolutions []ResolveInfo
	// Admission is how long the dial waited for admission; zero when it
	// went at once.
	Admission time.Duration
	// Attempts are every finished or skipped attempt, in the order they
	// finished (their Start gives the order they began).
	Attempts []AttemptInfo
	// Retries are the retries decided, in order.
	Retries []RetryInfo
}

type reportKey struct{}

// ContextWithReport returns a copy of ctx that asks the Dialer's dials
// made with it to fill r. r must not be nil.
func ContextWithReport(ctx context.Context, r *Report) context.Context {
	if r == nil {
		panic("dialguard: ContextWithReport: nil *Report")
	}
	return context.WithValue(ctx, reportKey{}, r)
}

// reportFrom returns the report ctx asks for, or nil.
func reportFrom(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}

// String writes the report as dialprobe prints it: one line for the dial,
// then one per resolution, admission wait, attempt (in the order they
// began, with the address's family) and retry, with their offsets from
// the dial's start.
func (r *Report) String() string {
	var b strings.Builder
	outcome := "connected to " + r.Winner.String()
	if r.Err != nil {
		outcome = "failed: " + r.Err.Error()
	}
	kind := r.Network
	if r.TLS {
		kind += "+tls"
	}
	fmt.Fprintf(&b, "dial %s %s: %s in %v", kind, r.Destination, outcome, r.Elapsed.Round(time.Microsecond))
	if r.Tries > 1 {
		fmt.Fprintf(&b, " after %d rounds", r.Tries)
	}
	switch {
	case r.FailedFast:
		b.WriteString(" (breaker open: nothing tried)")
	case r.Probe:
		b.WriteString(" (the half-open breaker's probe)")
	}
	if r.RTT > 0 {
		fmt.Fprintf(&b, "; rtt estimate %v", r.RTT.Round(time.Microsecond))
	}
	b.WriteByte('\n')
	at := func(t time.Time) string {
		return fmt.Sprintf("%+10.3fms", float64(t.Sub(r.Start))/float64(time.Millisecond))
	}
	for _, res := range r.Resolutions {
		fmt.Fprintf(&b, "  %s  resolve %-3s %8v  ", at(res.Start), res.Network, res.Elapsed.Round(time.Microsecond))
		if res.Err != nil {
			fmt.Fprintf(&b, "error: %v", res.Err)
		} else {
			fmt.Fprintf(&b, "%v", res.Addrs)
		}
		b.WriteByte('\n')
	}
	if r.Admission > 0 {
		fmt.Fprintf(&b, "  %s  admission waited %v\n", at(r.Start), r.Admission.Round(time.Microsecond))
	}
	attempts := slices.Clone(r.Attempts)
	slices.SortStableFunc(attempts, func(a, b AttemptInfo) int { return a.Start.Compare(b.Start) })
	for _, a := range attempts {
		fmt.Fprintf(&b, "  %s  try %d %-40s %s  %-9s %8v", at(a.Start), a.Try, a.Address, familyName(a.Address.Addr().Unmap()), a.Outcome, a.Elapsed.Round(time.Microsecond))
		if a.Handshake > 0 {
			fmt.Fprintf(&b, " (tls %v)", a.Handshake.Round(time.Microsecond))
		}
		if a.Err != nil && a.Outcome != Connected {
			fmt.Fprintf(&b, "  %v", a.Err)
		}
		b.WriteByte('\n')
	}
	for _, rt := range r.Retries {
		fmt.Fprintf(&b, "  retry: round %d after %v, because %v\n", rt.Try, rt.Wait.Round(time.Microsecond), rt.Cause)
	}
	return b.String()
}

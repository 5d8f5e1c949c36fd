package dialotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/dialguard/dialguard/breaker"
	"github.com/dialguard/dialguard/dialer"
)

// Metric names. OpenTelemetry's Prometheus exporter turns them into
// dialguard_dial_duration_seconds, dialguard_attempts_total, and so on.
const (
	MetricDialDuration       = "dialguard.dial.duration"
	MetricAttempts           = "dialguard.attempts"
	MetricStalls             = "dialguard.stalls"
	MetricRetries            = "dialguard.retries"
	MetricAdmissionWait      = "dialguard.admission.wait"
	MetricBreakerTransitions = "dialguard.breaker.transitions"
	MetricBreakersOpen       = "dialguard.breaker.open"
	MetricRTT                = "dialguard.rtt"
)

// durationBuckets are the histograms' bucket bounds in seconds: from a
// loopback handshake (100 µs) to the default whole-dial timeout (30 s),
// with RFC 8305's delays (10 ms, 50 ms, 250 ms) and the kernel's SYN
// retransmissions (1 s, 3 s) on bounds, so a stalled first SYN shows as
// its own bucket.
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30}

// instruments are the metrics of the hooks.
type instruments struct {
	dialDuration  metric.Float64Histogram
	attempts      metric.Int64Counter
	stalls        metric.Int64Counter
	retries       metric.Int64Counter
	admissionWait metric.Float64Histogram
	transitions   metric.Int64Counter
	open          metric.Int64UpDownCounter
	rtt           metric.Float64Gauge
}

func newInstruments(m metric.Meter) (*instruments, error) {
	var ins instruments
	var err, e error
	ins.dialDuration, e = m.Float64Histogram(MetricDialDuration, metric.WithUnit("s"),
		metric.WithDescription("How long dials took, admission, resolution and retries included, by outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	err = errors.Join(err, e)
	ins.attempts, e = m.Int64Counter(MetricAttempts, metric.WithUnit("{attempt}"),
		metric.WithDescription("Connection attempts to one address, by outcome (connected, failed, stalled, lost-slow, lost, canceled, skipped, rejected) and address."))
	err = errors.Join(err, e)
	ins.stalls, e = m.Int64Counter(MetricStalls, metric.WithUnit("{stall}"),
		metric.WithDescription("Attempts confirmed as stalls: unanswered until their stall bound."))
	err = errors.Join(err, e)
	ins.retries, e = m.Int64Counter(MetricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Failed rounds of a dial that were retried, by the failure's error.type."))
	err = errors.Join(err, e)
	ins.admissionWait, e = m.Float64Histogram(MetricAdmissionWait, metric.WithUnit("s"),
		metric.WithDescription("How long dials waited for admission to a destination that was not answering (only dials that waited)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	err = errors.Join(err, e)
	ins.transitions, e = m.Int64Counter(MetricBreakerTransitions, metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker state changes, by kind (destination or address) and the states left and entered."))
	err = errors.Join(err, e)
	ins.open, e = m.Int64UpDownCounter(MetricBreakersOpen, metric.WithUnit("{breaker}"),
		metric.WithDescription("Circuit breakers open now, by kind, counted from their transitions."))
	err = errors.Join(err, e)
	ins.rtt, e = m.Float64Gauge(MetricRTT, metric.WithUnit("s"),
		metric.WithDescription("The destination's smoothed handshake round-trip estimate after its last dial that had one."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, errors.Join(errors.New("dialotel: creating the instruments"), err)
	}
	return &ins, nil
}

// recordDial records a finished dial: its duration and the round-trip
// estimate.
func (i *Instrumentation) recordDial(ctx context.Context, info *dialer.DialDoneInfo) {
	var opts *measureOpts
	if info.Err == nil {
		opts = i.attrs.get(setKey{metric: setDialConnected, destination: info.Destination, peer: info.Winner}, func() attribute.Set {
			host, port := serverAttrs(info.Destination)
			return attribute.NewSet(host, port, keyOutcome.String(dialConnected), keyNetworkType.String(networkType(info.Winner.Addr())))
		})
	} else {
		host, port := serverAttrs(info.Destination)
		outcome := dialFailed
		if errors.Is(info.Err, dialer.ErrCircuitOpen) {
			outcome = dialCircuitOpen
		}
		opts = newMeasureOpts(attribute.NewSet(host, port, keyOutcome.String(outcome), keyErrorType.String(errorType(info.Err))))
	}
	i.m.dialDuration.Record(ctx, info.Elapsed.Seconds(), opts.record...)
	if info.RTT > 0 {
		i.m.rtt.Record(ctx, info.RTT.Seconds(), i.serverOpts(info.Destination).record...)
	}
}

// serverOpts are the options of a destination's server.address and
// server.port.
func (i *Instrumentation) serverOpts(destination string) *measureOpts {
	return i.attrs.get(setKey{metric: setServer, destination: destination}, func() attribute.Set {
		host, port := serverAttrs(destination)
		return attribute.NewSet(host, port)
	})
}

// recordAttempt records an attempt, and a stall if it was one.
func (i *Instrumentation) recordAttempt(ctx context.Context, info *dialer.AttemptInfo) {
	var opts *measureOpts
	if info.Err == nil || !charged(info.Outcome) {
		opts = i.attrs.get(setKey{metric: setAttempt, destination: info.Destination, peer: info.Address, outcome: info.Outcome}, func() attribute.Set {
			host, port := serverAttrs(info.Destination)
			addr, _, family := peerAttrs(info.Address)
			return attribute.NewSet(host, port, addr, family, keyOutcome.String(info.Outcome.String()))
		})
	} else {
		host, port := serverAttrs(info.Destination)
		addr, _, family := peerAttrs(info.Address)
		opts = newMeasureOpts(attribute.NewSet(host, port, addr, family, keyOutcome.String(info.Outcome.String()), keyErrorType.String(errorType(info.Err))))
	}
	i.m.attempts.Add(ctx, 1, opts.add...)
	if info.Outcome == dialer.Stalled {
		host, port := serverAttrs(info.Destination)
		addr, _, family := peerAttrs(info.Address)
		i.m.stalls.Add(ctx, 1, metric.WithAttributes(host, port, addr, family))
	}
}

// charged reports whether an outcome is a failure whose error is worth an
// error.type: the neutral ones (lost, canceled, skipped) carry only the
// reason the race gave them.
func charged(o dialer.AttemptOutcome) bool {
	return o == dialer.Failed || o == dialer.Stalled || o == dialer.Rejected
}

func (i *Instrumentation) recordRetry(ctx context.Context, info *dialer.RetryInfo) {
	host, port := serverAttrs(info.Destination)
	i.m.retries.Add(ctx, 1, metric.WithAttributes(host, port, keyErrorType.String(errorType(info.Cause))))
}

func (i *Instrumentation) recordAdmission(ctx context.Context, info *dialer.AdmissionInfo) {
	host, port := serverAttrs(info.Destination)
	opt := metric.WithAttributes(host, port)
	if info.Err != nil {
		opt = metric.WithAttributes(host, port, keyErrorType.String(errorType(info.Err)))
	}
	i.m.admissionWait.Record(ctx, info.Waited.Seconds(), opt)
}

// breakerChange counts a transition and keeps the number of open breakers.
//
// The open count is kept from transitions alone, so it drifts up when the
// breaker registry evicts an open breaker to stay within its size
// (breaker.Settings.MaxBreakers): an evicted breaker leaves no transition
// behind. That takes more distinct open destinations or addresses than the
// registry holds (4096 by default) at once. It also counts a breaker
// whose open time has run out as open until the next dial to it moves it
// to half-open: the registry notices time only when it is used.
func (i *Instrumentation) breakerChange(info dialer.BreakerChange) {
	ctx := context.Background() // a breaker's change belongs to no dial
	kind := keyBreakerKind.String(info.Kind)
	i.m.transitions.Add(ctx, 1, metric.WithAttributes(kind,
		keyBreakerFrom.String(info.From.String()), keyBreakerState.String(info.To.String())))
	switch {
	case info.To == breaker.Open && info.From != breaker.Open:
		i.m.open.Add(ctx, 1, metric.WithAttributes(kind))
	case info.From == breaker.Open && info.To != breaker.Open:
		i.m.open.Add(ctx, -1, metric.WithAttributes(kind))
	}
}

package dialotel

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dialguard/dialguard/dialer"
)

// Instrumentation turns a Dialer's hooks into OpenTelemetry metrics and
// spans. One Instrumentation may serve several Dialers; its instruments are
// safe for concurrent use.
type Instrumentation struct {
	m      *instruments
	tracer trace.Tracer
	// traced is false when the TracerProvider is OpenTelemetry's no-op
	// one: the hooks then make no spans and leave the caller's context
	// alone (a no-op span put there would hide the caller's span from
	// what the dial calls).
	traced bool
	attrs  attrCache
}

// New builds the instruments and the tracer. It fails if the
// MeterProvider refuses an instrument or an option is invalid.
func New(opts ...Option) (*Instrumentation, error) {
	var c config
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	c.defaults()
	m, err := newInstruments(c.meters.Meter(ScopeName))
	if err != nil {
		return nil, err
	}
	_, untraced := c.tracers.(tracenoop.TracerProvider)
	return &Instrumentation{m: m, tracer: c.tracers.Tracer(ScopeName), traced: !untraced}, nil
}

// Option returns the dialer option that reports the Dialer's dials:
// dialer.WithHooks(inst.Hooks()).
func (i *Instrumentation) Option() dialer.Option {
	return dialer.WithHooks(i.Hooks())
}

// Hooks returns the hooks that record the metrics and spans, to combine
// with others or give to dialer.WithHooks.
func (i *Instrumentation) Hooks() dialer.Hooks {
	if !i.traced {
		return dialer.Hooks{
			DialDone:      func(ctx context.Context, info dialer.DialDoneInfo) { i.recordDial(ctx, &info) },
			Admission:     func(ctx context.Context, info dialer.AdmissionInfo) { i.recordAdmission(ctx, &info) },
			Attempt:       func(ctx context.Context, info dialer.AttemptInfo) { i.recordAttempt(ctx, &info) },
			Retry:         func(ctx context.Context, info dialer.RetryInfo) { i.recordRetry(ctx, &info) },
			BreakerChange: i.breakerChange,
		}
	}
	return dialer.Hooks{
		DialStart:     i.dialStart,
		DialDone:      i.dialDone,
		Resolved:      i.resolved,
		Admission:     i.admission,
		Attempt:       i.attempt,
		Retry:         i.retry,
		BreakerChange: i.breakerChange,
	}
}
